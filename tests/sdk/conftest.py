"""Fixtures for the conformance suite: the official m3ter Python SDK against our emulator.

The emulator binary (`M3TER_BIN`, default `target/debug/m3ter`) is started as a real subprocess on
127.0.0.1 port 0; its first stdout line tells us the address. Every emulator started here is stopped
with SIGTERM at the end of its scope and must exit 0: a crash or a hang on shutdown fails the run.

A missing binary is a failure, never a skip: this suite is part of `./scripts/test`, and a skipped
conformance suite would look green while proving nothing.
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import m3ter
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ORG_ID = "00000000-0000-4000-8000-000000000001"
API_KEY = "local-key"
API_SECRET = "local-secret"

# Generous: a debug build on a 2-core machine shared with other builds can be slow to start.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

_LISTENING = re.compile(r"^listening on (http://127\.0\.0\.1:\d+)$")


def emulator_binary() -> Path:
    """The emulator binary under test: `$M3TER_BIN`, else `target/debug/m3ter` of this repo."""
    raw = os.environ.get("M3TER_BIN")
    path = Path(raw) if raw else REPO_ROOT / "target" / "debug" / "m3ter"
    return path if path.is_absolute() else (REPO_ROOT / path)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Fail the whole run at once, with one clear message, when there is no binary to test."""
    path = emulator_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.exit(
            f"emulator binary not found or not executable: {path}\n"
            "build it with `cargo build` and point M3TER_BIN at the binary it made "
            "(with CARGO_TARGET_DIR set, $CARGO_TARGET_DIR/debug/m3ter)",
            returncode=1,
        )


class Emulator:
    """One running `m3ter emulator` process on a loopback port."""

    def __init__(self, *extra_args: str) -> None:
        self.args = [str(emulator_binary()), "emulator", "--listen", "127.0.0.1:0", *extra_args]
        # stderr goes to a file, not a pipe: a chatty server must never block on a full pipe,
        # and the log is shown when something goes wrong.
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        env = {k: v for k, v in os.environ.items() if not k.startswith("M3TER_")}
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        # If this test process dies without running fixture teardown, take the server with it.
        atexit.register(self._kill_if_running)
        self.base_url = self._read_address()
        # Keep draining stdout so later prints cannot block the server.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def _read_address(self) -> str:
        """Reads the first stdout line, with a deadline (a thread, since readline cannot time out)."""
        box: dict[str, bytes] = {}

        def read() -> None:
            assert self.proc.stdout is not None
            box["line"] = self.proc.stdout.readline()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_S)
        if reader.is_alive():
            self.proc.kill()
            self.proc.wait()
            pytest.fail(
                f"emulator printed no first line within {START_TIMEOUT_S:.0f}s: {self.args}\n{self.stderr_text()}"
            )
        line = box.get("line", b"").decode("utf-8", "replace").rstrip("\r\n")
        match = _LISTENING.match(line)
        if not match:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(
                f"emulator's first stdout line should be `listening on http://127.0.0.1:PORT`, got {line!r}\n"
                f"command: {self.args}\nexit code: {self.proc.returncode}\n{self.stderr_text()}"
            )
        return match.group(1)

    def _kill_if_running(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _drain_stdout(self) -> None:
        assert self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def stderr_text(self) -> str:
        """The emulator's log so far (for failure messages)."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return f"--- emulator stderr ---\n{text[-4000:]}" if text else "(emulator stderr is empty)"

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code (killing it and failing if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"emulator did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM\n{self.stderr_text()}")
        return self.proc.returncode

    def client(self, **overrides: object) -> m3ter.M3ter:
        """An official SDK client for this emulator with the default credentials, no retries."""
        kwargs: dict[str, object] = dict(
            api_key=API_KEY,
            api_secret=API_SECRET,
            org_id=ORG_ID,
            base_url=self.base_url,
            max_retries=0,
            timeout=30.0,
        )
        kwargs.update(overrides)
        return m3ter.M3ter(**kwargs)  # type: ignore[arg-type]

    def token(self) -> str:
        """A bearer token fetched with client credentials (for raw HTTP tests)."""
        r = httpx.post(
            f"{self.base_url}/oauth/token",
            auth=(API_KEY, API_SECRET),
            json={"grant_type": "client_credentials"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    def http(self) -> httpx.Client:
        """A raw httpx client with a valid bearer token, based at the org's path prefix."""
        return httpx.Client(
            base_url=f"{self.base_url}/organizations/{ORG_ID}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=30,
        )


def stop_and_check(emu: Emulator) -> None:
    """Stops an emulator now and asserts a clean exit (used by module-scoped fixtures)."""
    code = emu.stop()
    assert code == 0, f"emulator exited {code} on SIGTERM (expected 0)\n{emu.stderr_text()}"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The shared, non-strict emulator; tests using it must not rely on counts of entities."""
    emu = Emulator()
    yield emu
    stop_and_check(emu)


@pytest.fixture(scope="session")
def client(emulator: Emulator) -> m3ter.M3ter:
    """SDK client on the shared emulator; it fetches a token before every call (SDK 0.9.0 bug)."""
    return emulator.client()


def unique(prefix: str) -> str:
    """A code unique within the session (entities of the shared emulator outlive each test)."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def is_uuid(value: object) -> bool:
    """True for a canonical 36-character UUID string."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
