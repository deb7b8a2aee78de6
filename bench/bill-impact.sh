#!/usr/bin/env bash
# The bill-impact preview at scale (issue 13). On a release build: the example's org plus ACCOUNTS
# accounts on the Lambda plan, PER_ACCOUNT measurements each in December 2024, in an emulator with
# a durable --data database and LATENCY_MS added to every request. The desired state then raises
# the Requests unit price, and `plan --bill-impact --period 2024-12` previews every account's bill.
#
# Reported: the preview's wall time (hyperfine, median of RUNS; target <= 2 s at 20 ms latency),
# its peak RSS (/usr/bin/time -v), and the usage queries one preview sends (the emulator's stats;
# target: at most one per (meter, page)).
#
# Usage: bench/bill-impact.sh   (env: ACCOUNTS=100 PER_ACCOUNT=10000 LATENCY_MS=20 RUNS=5;
#                                M3TER_BIN=path skips the release build; KEEP=DIR keeps the filled
#                                org in DIR and reuses it on the next run)
# Results are printed and written to bench/bill-impact/last-run.txt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly ACCOUNTS="${ACCOUNTS:-100}"
readonly PER_ACCOUNT="${PER_ACCOUNT:-10000}"
readonly LATENCY_MS="${LATENCY_MS:-20}"
readonly RUNS="${RUNS:-5}"
readonly ORG="00000000-0000-4000-8000-000000000001"
readonly SUFFIX="api_6" # the example's default ${var.suffix}
readonly METER="compute_and_requests_meter_$SUFFIX"
readonly QUERY_ROUTE="POST /organizations/{orgId}/usage/query"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time
need_apt hyperfine hyperfine
need_apt curl curl
build_release

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxrss_kb() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$1"; }
api_env=(env M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret)
queries() { curl -s "$base/_emulator/stats" | sed -n "s/.*\"${QUERY_ROUTE//\//\\/}\":\([0-9]*\).*/\1/p"; }

site="${KEEP:-$workdir}/site"
fill=1
[[ -f "$site/state/org.db" ]] && fill=0
mkdir -p "$site/desired-state" "$site/state"
cp desired-state/*.yaml "$site/desired-state/"
accounts=()
{
    echo "accounts:"
    for i in $(seq -w 1 "$ACCOUNTS"); do
        printf '  - code: bench_account_%s\n    name: Bench Account %s\n    emailAddress: billing@example.com\n' "$i" "$i"
    done
    echo "accountPlans:"
    for i in $(seq -w 1 "$ACCOUNTS"); do
        printf '  - account: bench_account_%s\n    plan: lambda_plan_${var.suffix}\n    startDate: 2024-12-01\n' "$i"
    done
} >"$site/desired-state/bench-accounts.yaml"
for i in $(seq -w 1 "$ACCOUNTS"); do accounts+=(--account "bench_account_$i"); done

# Filled without latency (the fill is not what is measured), then restarted with it.
if [[ "$fill" == 1 ]]; then
    start_emulator --data "$site/state/org.db"
    (cd "$site" && "${api_env[@]}" M3TER_BASE_URL="$base" "$BIN" apply --auto-approve \
        --state state/bench.json --rate-limit 0 >"$workdir/apply.out" 2>&1) \
        || { log "apply failed:"; tail -20 "$workdir/apply.out" >&2; exit 1; }
    (cd "$site" && "${api_env[@]}" M3TER_BASE_URL="$base" "$BIN" ingest --meter "$METER" "${accounts[@]}" \
        --count "$((ACCOUNTS * PER_ACCOUNT))" --seed 1 --from 2024-12-01 --to 2025-01-01 --rate-limit 0 -q \
        >"$workdir/ingest.out" 2>&1) || { log "ingest failed:"; tail -20 "$workdir/ingest.out" >&2; exit 1; }
    stop_emulator
fi
# The first Duration band's unit price (0.00001833337 -> 0.00002).
sed -i 's/unitPrice: 0.00001833337}/unitPrice: 0.00002}/' "$site/desired-state/pricing.yaml"
start_emulator --data "$site/state/org.db" --latency-ms "$LATENCY_MS"

preview=("$BIN" plan --bill-impact --period 2024-12 --state state/bench.json --rate-limit 0)
out="bench/bill-impact/last-run.txt"
mkdir -p bench/bill-impact
exec > >(tee "$out")
echo "bill impact: $ACCOUNTS accounts x $PER_ACCOUNT measurements, ${LATENCY_MS} ms latency, $RUNS runs, $(nproc) cores"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); binary: $BIN"

before="$(queries)"
(cd "$site" && "${api_env[@]}" M3TER_BASE_URL="$base" "${preview[@]}" >"$workdir/preview.out" 2>&1) \
    || { log "preview failed:"; tail -20 "$workdir/preview.out" >&2; exit 1; }
sent=$(( $(queries) - ${before:-0} ))
grep -m1 "Bill impact for" "$workdir/preview.out" || true
grep -m1 "Total," "$workdir/preview.out" || true
echo "usage queries per preview: $sent (one meter, one window, $ACCOUNTS accounts in one page; target: <= 1 per (meter, page))"

(cd "$site" && "${api_env[@]}" M3TER_BASE_URL="$base" hyperfine --runs "$RUNS" --warmup 1 \
    --export-json "$workdir/preview.json" "${preview[*]}" >"$workdir/hyperfine.out" 2>&1) \
    || { log "hyperfine failed:"; tail -20 "$workdir/hyperfine.out" >&2; exit 1; }
wall="$(awk -F: '/"median"/ { gsub(/[ ,]/, "", $2); print $2; exit }' "$workdir/preview.json")"
rss=()
for _ in $(seq "$RUNS"); do
    (cd "$site" && "${api_env[@]}" M3TER_BASE_URL="$base" /usr/bin/time -v -o "$workdir/run.time" \
        "${preview[@]}" >/dev/null 2>&1)
    rss+=("$(maxrss_kb "$workdir/run.time")")
done
printf 'plan --bill-impact: median %.3f s (hyperfine, %s runs; target <= 2 s), peak RSS %s KB (median)\n' \
    "$wall" "$RUNS" "$(printf '%s\n' "${rss[@]}" | median)"
stop_emulator
