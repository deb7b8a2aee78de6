#!/usr/bin/env python3
"""Seeds products into a running emulator quickly: N creates over keep-alive connections in threads.

Usage: seed.py BASE_URL TOKEN ORG_ID FIRST COUNT [CONCURRENCY]
Creates products with codes bench_FIRST .. bench_(FIRST+COUNT-1). Standard library only, loopback only.
Exits non-zero on the first non-200 answer, naming it.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def main() -> int:
    if len(sys.argv) not in (6, 7):
        print(__doc__, file=sys.stderr)
        return 2
    base_url, token, org, first, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    concurrency = int(sys.argv[6]) if len(sys.argv) == 7 else 8
    url = urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        print(f"seed.py: refusing a non-loopback target {base_url}", file=sys.stderr)
        return 2
    path = f"/organizations/{org}/products"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    next_index = [first]
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        while True:
            with lock:
                if errors or next_index[0] >= first + count:
                    break
                i = next_index[0]
                next_index[0] += 1
            body = json.dumps({"code": f"bench_{i}", "name": f"Bench product {i}"})
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(f"product {i}: {e!r}")
                break
            if resp.status != 200:
                with lock:
                    errors.append(f"product {i}: HTTP {resp.status}: {data[:200]!r}")
                break
        conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if errors:
        print("seed.py: " + errors[0], file=sys.stderr)
        return 1
    print(f"seeded {count} products in {elapsed:.1f}s ({count / max(elapsed, 1e-9):.0f}/s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
