#!/usr/bin/env bash
# Apply benchmark (issue 4 "Performance"; loopback only, bounded).
#
# 1. `m3ter apply` of N generated entities (all creates; default 1,000 = 71 copies of the example
#    desired state + 6 lone products) against `m3ter emulator --latency-ms 20`, unpaced
#    (`--rate-limit 0`), at the default --parallelism 8, and side by side the same apply with
#    --parallelism 1 (the seed scripts' one-call-at-a-time approach). Wall time of the whole command
#    (start, load, plan, refresh, creates), median of RUNS runs, each on a fresh emulator and state.
#    Bound of the issue: max(depth x 20 ms, N x 20 ms / parallelism); target within 1.5x of it.
# 2. The same apply against `--max-rps 50` (m3ter's per-org limit) with the default client pacing
#    (40 requests/s): no 429 provoked (the emulator counts requests per route, 429s included: a 429'd
#    create would be retried after a lookup, so anything beyond the N creates and the refresh's 9
#    list pages of an empty org means a 429)
#    and a wall time <= 1.1 x N / 40 s.
#
# Usage: bench/apply.sh        (env: RUNS=3 COPIES=71 EXTRAS=6 LATENCY_MS=20 SKIP_RPS=0)
# Results are printed and written to bench/apply/last-run.txt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly RUNS="${RUNS:-3}"
readonly COPIES="${COPIES:-71}"
readonly EXTRAS="${EXTRAS:-6}"
readonly LATENCY_MS="${LATENCY_MS:-20}"
readonly SKIP_RPS="${SKIP_RPS:-0}"
readonly ORG="00000000-0000-4000-8000-000000000001"
readonly N=$((COPIES * 14 + EXTRAS))
# Longest dependency chain of the example: product -> planTemplate -> plan -> pricing
# (and product -> meter -> aggregation -> pricing): 4 levels.
readonly DEPTH=4

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

command -v curl >/dev/null || { log "curl is missing: apt-get install -y curl"; exit 1; }
command -v python3 >/dev/null || { log "python3 is missing"; exit 1; }

build_release


# --- desired state: COPIES copies of the example, codes suffixed c<i>, plus EXTRAS products --------
desired="$workdir/desired-state"
mkdir -p "$desired"
for i in $(seq 0 $((COPIES - 1))); do
    for f in product pricing accounts; do
        # Drop the `variables:` block (up to its blank line) and substitute the variables.
        sed -e '/^variables:/,/^$/d' \
            -e "s/\${var.suffix_title}/C$i/g" -e "s/\${var.suffix}/c$i/g" \
            "desired-state/$f.yaml" >"$desired/c${i}_$f.yaml"
    done
done
if ((EXTRAS > 0)); then
    { echo "products:"; for j in $(seq 0 $((EXTRAS - 1))); do
        printf '  - code: extra_%d\n    name: Extra %d\n' "$j" "$j"; done; } >"$desired/extras.yaml"
fi
"$BIN" validate --dir "$desired" >/dev/null || { log "generated desired state is invalid"; exit 1; }
log "generated $N entities in $desired"


# One apply on a fresh emulator (options: $1 = emulator options, rest = apply options).
# Prints the wall time in seconds; leaves the emulator's stats in $workdir/stats.json.
timed_apply() {
    local emu_opts="$1"; shift
    # shellcheck disable=SC2086 # emulator options are words on purpose
    start_emulator $emu_opts
    rm -rf "$workdir/state"
    local t0 t1
    t0="$(date +%s.%N)"
    M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" \
        "$BIN" apply --auto-approve --dir "$desired" --state "$workdir/state/bench.json" "$@" \
        >"$workdir/apply.out" 2>"$workdir/apply.err" \
        || { log "apply failed:"; tail -20 "$workdir/apply.err" >&2; exit 1; }
    t1="$(date +%s.%N)"
    grep -q "Apply complete! 0 imported, $N added" "$workdir/apply.out" \
        || { log "apply did not create $N entities:"; tail -3 "$workdir/apply.out" >&2; exit 1; }
    curl -sf "$base/_emulator/stats" >"$workdir/stats.json"
    stop_emulator
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs `timed_apply` RUNS times; prints the median.
median_apply() {
    local times=()
    for r in $(seq "$RUNS"); do
        times+=("$(timed_apply "$@")")
        log "  run $r: ${times[-1]} s"
    done
    printf '%s\n' "${times[@]}" | median
}

# Requests to /organizations/... in the last stats, by method.
org_requests() {
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["requests"]
m = sys.argv[2]
print(sum(v for k, v in s.items() if k.startswith(m + " /organizations")))' "$workdir/stats.json" "$1"
}

out="bench/apply/last-run.txt"
mkdir -p bench/apply
exec > >(tee "$out")

echo "apply benchmark: $N entities (depth $DEPTH), emulator --latency-ms $LATENCY_MS, $RUNS runs each, $(nproc) cores"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

log "parallel apply (--parallelism 8, --rate-limit 0)"
par="$(median_apply "--latency-ms $LATENCY_MS" --rate-limit 0 --parallelism 8)"
log "sequential apply (--parallelism 1, --rate-limit 0)"
seq1="$(median_apply "--latency-ms $LATENCY_MS" --rate-limit 0 --parallelism 1)"

awk -v par="$par" -v seq1="$seq1" -v n="$N" -v d="$DEPTH" -v l="$LATENCY_MS" 'BEGIN {
    bound = d * l / 1000; b2 = n * l / 1000 / 8; if (b2 > bound) bound = b2
    printf "parallel   (--parallelism 8): median %.2f s; bound max(depth x %d ms, N x %d ms / 8) = %.2f s; ratio to bound %.2f (target <= 1.5)\n", par, l, l, bound, par / bound
    printf "sequential (--parallelism 1): median %.2f s (N x %d ms = %.2f s of latency alone)\n", seq1, l, n * l / 1000
    printf "speed-up sequential / parallel: %.1fx\n", seq1 / par
}'

if [[ "$SKIP_RPS" != "1" ]]; then
    log "paced apply against --max-rps 50 (default client pacing 40/s)"
    rps="$(median_apply "--latency-ms $LATENCY_MS --max-rps 50")"
    posts="$(org_requests POST)"; gets="$(org_requests GET)"
    awk -v t="$rps" -v n="$N" -v p="$posts" -v g="$gets" 'BEGIN {
        printf "paced (--max-rps 50, default 40/s): median %.2f s; limit 1.1 x N / 40 = %.2f s; %s\n", t, 1.1 * n / 40, (t <= 1.1 * n / 40 ? "within" : "MISSED")
        printf "  last run: %d POSTs for %d creates, %d GETs (refresh list pages); %s\n", p, n, g, (p == n && g == 9 ? "no retry and no lookup: no 429 was provoked" : "EXTRA requests: something was retried (429?)")
    }'
fi
