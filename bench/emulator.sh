#!/usr/bin/env bash
# Emulator benchmark (loopback only, bounded): GET-by-id throughput, and the cost of an unfiltered
# list page with 100 vs 100,000 stored products (design §6: O(page size), so the ratio should be ~1).
#
# Usage: bench/emulator.sh            (env: RUNS=3 DURATION=10s SEED_CONCURRENCY=8 BIG=100000)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly RUNS="${RUNS:-3}"
readonly DURATION="${DURATION:-10s}"
readonly SEED_CONCURRENCY="${SEED_CONCURRENCY:-8}"
readonly BIG="${BIG:-100000}"
readonly ORG="00000000-0000-4000-8000-000000000001"
readonly PYTHON="${PYTHON:-python3}"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# --- tools ----------------------------------------------------------------------------------
need_apt wrk wrk
command -v curl >/dev/null || { log "curl is missing: apt-get install -y curl"; exit 1; }

build_release

# --- emulator -------------------------------------------------------------------------------
start_emulator

token="$(curl -sf -u local-key:local-secret -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "$base/oauth/token" \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
auth="Authorization: Bearer $token"
api="$base/organizations/$ORG"

product_id="$(curl -sf -H "$auth" -H 'Content-Type: application/json' \
    -d '{"code":"bench_product","name":"Bench product"}' "$api/products" \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')"

# Runs wrk RUNS times on a URL and prints the median requests/s.
median_rps() {
    local url="$1" rps=()
    for _ in $(seq "$RUNS"); do
        local out
        out="$(wrk -t2 -c8 -d"$DURATION" -H "$auth" "$url")"
        if grep -q "Non-2xx" <<<"$out"; then
            log "wrk saw non-2xx answers for $url:"
            log "$out"
            exit 1
        fi
        rps+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
        log "  run: ${rps[-1]} req/s"
    done
    printf '%s\n' "${rps[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

log "GET product by id ($RUNS x $DURATION, 2 threads, 8 connections)"
get_rps="$(median_rps "$api/products/$product_id")"

log "seeding to 100 products"
timeout 900 "$PYTHON" bench/seed.py "$base" "$token" "$ORG" 1 99 "$SEED_CONCURRENCY"
log "list page (pageSize=100) with 100 products"
list_small="$(median_rps "$api/products?pageSize=100")"

log "seeding to $BIG products"
timeout 900 "$PYTHON" bench/seed.py "$base" "$token" "$ORG" 100 "$((BIG - 100))" "$SEED_CONCURRENCY"
log "list page (pageSize=100) with $BIG products"
list_big="$(median_rps "$api/products?pageSize=100")"

stats="$(curl -sf "$base/_emulator/stats")"

echo "GET /products/{id}:                  median ${get_rps} req/s"
echo "GET /products?pageSize=100 (100):    median ${list_small} req/s"
echo "GET /products?pageSize=100 ($BIG): median ${list_big} req/s"
awk -v a="$list_small" -v b="$list_big" -v n="$BIG" 'BEGIN { printf "list ratio (100 / %d products): %.2f\n", n, a / b }'
echo "emulator stats: $stats"

kill -TERM "$emu_pid"
wait "$emu_pid" && status=0 || status=$?
emu_pid=""
[[ "$status" == "0" ]] || { log "emulator exited $status on SIGTERM"; exit 1; }
