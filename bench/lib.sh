# Shared by the bench/*.sh scripts (sourced): logging, tool installs, the release build and an
# emulator child process on a loopback port. Expects `root` to be set; sets `workdir`, and
# `emu_pid`/`base` while an emulator runs. Everything stays on 127.0.0.1 and every wait is bounded.

log() { printf '%s\n' "$*" >&2; }

# need_apt COMMAND PACKAGE: installs PACKAGE with apt when COMMAND is missing (as root), else fails.
need_apt() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing $2"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
    else
        log "$1 is missing: install it (sudo apt-get install -y $2)"
        exit 1
    fi
}

# The binary under test: $M3TER_BIN as given, else a fresh release build.
BIN="${M3TER_BIN:-$root/target/release/m3ter}"
build_release() {
    if [[ -z "${M3TER_BIN:-}" ]]; then
        log "building release binary"
        (cd "$root" && cargo build --release --quiet)
    fi
}

workdir="$(mktemp -d)"
emu_pid=""
base=""

# start_emulator [EMULATOR OPTIONS...]: starts `m3ter emulator --listen 127.0.0.1:0 OPTIONS` and
# waits (at most 30 s: loading a large --data file takes a while) for its `listening on` line.
start_emulator() {
    "$BIN" emulator --listen 127.0.0.1:0 "$@" >"$workdir/emu.stdout" 2>"$workdir/emu.stderr" &
    emu_pid=$!
    base=""
    for _ in $(seq 300); do
        local line
        line="$(head -n1 "$workdir/emu.stdout" 2>/dev/null || true)"
        if [[ "$line" =~ ^listening\ on\ (http://127\.0\.0\.1:[0-9]+)$ ]]; then
            base="${BASH_REMATCH[1]}"
            log "emulator at $base (pid $emu_pid) $*"
            return
        fi
        kill -0 "$emu_pid" 2>/dev/null || break
        sleep 0.1
    done
    log "emulator did not start; stderr:"
    cat "$workdir/emu.stderr" >&2
    exit 1
}

# Stops the emulator started last: TERM (it flushes its data file), a bounded wait, then KILL of
# that pid only (never a broad kill).
stop_emulator() {
    if [[ -n "$emu_pid" ]] && kill -0 "$emu_pid" 2>/dev/null; then
        kill -TERM "$emu_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$emu_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$emu_pid" 2>/dev/null || true
        wait "$emu_pid" 2>/dev/null || true
    fi
    emu_pid=""
}

cleanup() { stop_emulator; rm -rf "$workdir"; }
trap cleanup EXIT
