#!/usr/bin/env bash
# `m3ter ingest --file` client memory (issue 12: "the client at <= 50 MB RSS").
#
# Writes a JSON Lines file of LINES measurements (default 1,000,000; the issue's figure is
# 10,000,000: LINES=10000000, about 2 GB of disk) for the example's meter, applies the example to
# a fresh emulator (in memory, or DATA=FILE), and runs `m3ter ingest --file` under
# /usr/bin/time -v: prints the client's peak RSS, wall time and measurements per second.
#
# Usage: bench/ingest-client.sh   (env: LINES=1000000 M3TER_BIN=path skips the release build)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
readonly LINES="${LINES:-1000000}"
readonly ORG="00000000-0000-4000-8000-000000000001"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time
build_release

awk -v n="$LINES" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"uid\":\"b-%09d\",\"meter\":\"compute_and_requests_meter_api_6\",\"account\":\"mickey_mouse_inc_api_6\",\"ts\":\"2024-12-%02dT%02d:00:00Z\",\"measure\":{\"memory_consumption_api_6\":%d,\"execution_time_api_6\":%d}}\n",
        i, 1 + i % 28, i % 24, i % 100, 1000 + i % 4000 }' >"$workdir/usage.jsonl"
log "wrote $LINES measurements ($(du -h "$workdir/usage.jsonl" | cut -f1))"

if [[ -n "${DATA:-}" ]]; then start_emulator --data "$DATA"; else start_emulator; fi
export M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" NO_COLOR=1
cp -r desired-state "$workdir/desired-state"
(cd "$workdir" && "$BIN" apply --auto-approve --rate-limit 0 -q | tail -n1 >&2)
(cd "$workdir" && /usr/bin/time -v -o "$workdir/time.txt" "$BIN" ingest --rate-limit 0 --file usage.jsonl)
stop_emulator
rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$workdir/time.txt")"
wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$workdir/time.txt")"
printf 'ingest --file of %d measurements: client peak RSS %.1f MB (target <= 50 MB), wall %s\n' \
    "$LINES" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" "$wall"
