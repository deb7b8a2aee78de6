#!/usr/bin/env bash
# The emulator's SQLite store at scale (issue 12). On a release build, with the example's org:
#
#  1. ingest: `m3ter ingest` of N generated measurements (3 accounts, December 2024) into an
#     emulator with a durable `--data` database; the rate (N / wall time) and the client's peak
#     RSS (/usr/bin/time -v). Targets: >= 150,000/s, client <= 50 MB.
#  2. the emulator's RSS with N stored (VmRSS and VmHWM of /proc/PID/status). Target <= 300 MB.
#  3. `plan --local` of the example with those N stored: wall time (hyperfine, median of RUNS)
#     and peak RSS (/usr/bin/time -v, median of RUNS). Targets: <= 0.3 s, <= 100 MB.
#  4. `bill run --local` over BILL_N measurements of the example's 3 accounts (median of RUNS).
#     Target <= 1 s.
#  5. `bill run --local` over ACCOUNTS accounts x PER_ACCOUNT measurements (median of RUNS).
#     Target <= 2 s.
#  6. the emulator's RSS with ENTITIES config entities stored (products created by one apply,
#     then the emulator restarted on the database so the figure is of loading them, not of the
#     requests). Target <= 100 MB.
#
# Usage: bench/store-scale.sh   (env: N=10000000 BILL_N=1000000 ACCOUNTS=100 PER_ACCOUNT=10000
#                                ENTITIES=50000 RUNS=5 STEPS="1 4 5 6"; M3TER_BIN=path skips the release build)
# hyperfine and /usr/bin/time come from Debian's packages: the script installs them as root when
# missing (and says so), or names the command that does.
# Results are printed and written to bench/store/last-run.txt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly N="${N:-10000000}"
readonly BILL_N="${BILL_N:-1000000}"
readonly ACCOUNTS="${ACCOUNTS:-100}"
readonly PER_ACCOUNT="${PER_ACCOUNT:-10000}"
readonly RUNS="${RUNS:-5}"
readonly ENTITIES="${ENTITIES:-50000}"
# Which steps to run: 1 (= 1-3), 4, 5, 6.
readonly STEPS="${STEPS:-1 4 5 6}"
step() { [[ " $STEPS " == *" $1 "* ]]; }
readonly ORG="00000000-0000-4000-8000-000000000001"
readonly SUFFIX="api_6" # the example's default ${var.suffix}
readonly METER="compute_and_requests_meter_$SUFFIX"
readonly EXAMPLE_ACCOUNTS=(mickey_mouse_inc_$SUFFIX donald_duck_ltd_$SUFFIX pluto_llp_$SUFFIX)

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time
need_apt hyperfine hyperfine
build_release

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
maxrss_kb() { awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$1"; }

# `m3ter ARGS` against the emulator started last.
api() {
    M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" \
        "$BIN" "$@"
}

# site NAME [EXTRA FILE]: a directory with the example's desired state (plus FILE as
# bench-extra.yaml when given) and an empty state/; prints its path.
site() {
    local dir="$workdir/$1"
    mkdir -p "$dir/state" "$dir/desired-state"
    cp desired-state/*.yaml "$dir/desired-state/"
    if [[ -n "${2:-}" ]]; then cp "$2" "$dir/desired-state/bench-extra.yaml"; fi
    echo "$dir"
}

# fill DIR COUNT ACCOUNT...: applies DIR's desired state to an emulator on DIR's --local database
# (state/local-org.db, with the --local state file), then ingests COUNT measurements round-robin
# over the accounts; prints "rate client_rss_kb emulator_rss_kb emulator_hwm_kb".
fill() {
    local dir="$1" count="$2"
    shift 2
    local accounts=()
    for a in "$@"; do accounts+=(--account "$a"); done
    start_emulator --data "$dir/state/local-org.db"
    (cd "$dir" && api apply --auto-approve --state state/local.json --rate-limit 0 >"$workdir/apply.out" 2>&1) \
        || { log "apply failed:"; tail -20 "$workdir/apply.out" >&2; exit 1; }
    local t0 t1
    t0="$(now)"
    (cd "$dir" && /usr/bin/time -v -o "$workdir/ingest.time" \
        env M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" \
        "$BIN" ingest --meter "$METER" "${accounts[@]}" --count "$count" --seed 1 \
        --from 2024-12-01 --to 2025-01-01 --rate-limit 0 -q >"$workdir/ingest.out" 2>&1) \
        || { log "ingest failed:"; tail -20 "$workdir/ingest.out" >&2; exit 1; }
    t1="$(now)"
    local rss hwm
    rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$emu_pid/status")"
    hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$emu_pid/status")"
    stop_emulator
    awk -v n="$count" -v s="$(elapsed "$t0" "$t1")" -v c="$(maxrss_kb "$workdir/ingest.time")" \
        -v r="$rss" -v h="$hwm" 'BEGIN { printf "%d %s %s %s %s\n", n / s, s, c, r, h }'
}

# local_runs DIR ARGS...: runs `m3ter ARGS --local` in DIR RUNS times; prints "median_s median_rss_kb".
local_runs() {
    local dir="$1"
    shift
    local times=() rss=()
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0="$(now)"
        (cd "$dir" && /usr/bin/time -v -o "$workdir/run.time" "$BIN" "$@" --local >"$workdir/run.out" 2>&1) \
            || { log "$* failed:"; tail -20 "$workdir/run.out" >&2; exit 1; }
        t1="$(now)"
        times+=("$(elapsed "$t0" "$t1")")
        rss+=("$(maxrss_kb "$workdir/run.time")")
    done
    echo "$(printf '%s\n' "${times[@]}" | median) $(printf '%s\n' "${rss[@]}" | median)"
}

out="bench/store/last-run.txt"
mkdir -p bench/store
exec > >(tee "$out")
echo "store at scale: N=$N, BILL_N=$BILL_N, $ACCOUNTS accounts x $PER_ACCOUNT, $RUNS runs, $(nproc) cores"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); binary: $BIN"

# 1-3: ingest N, the emulator's RSS, plan --local.
if step 1; then
big="$(site big)"
read -r rate secs client emu_rss emu_hwm < <(fill "$big" "$N" "${EXAMPLE_ACCOUNTS[@]}")
db_bytes="$(stat -c %s "$big/state/local-org.db")"
echo "ingest of $N into a durable --data db: $secs s, $rate measurements/s (target >= 150000); client peak RSS $client KB (target <= 51200)"
echo "emulator with $N stored: RSS $emu_rss KB, peak $emu_hwm KB (target <= 307200); database $db_bytes bytes"
(cd "$big" && hyperfine --runs "$RUNS" --warmup 1 --export-json "$workdir/plan.json" \
    "$BIN plan --local" >"$workdir/hyperfine.out" 2>&1) \
    || { log "hyperfine failed:"; tail -20 "$workdir/hyperfine.out" >&2; exit 1; }
plan_median="$(awk -F: '/"median"/ { gsub(/[ ,]/, "", $2); print $2; exit }' "$workdir/plan.json")"
read -r _ plan_rss < <(local_runs "$big" plan)
printf 'plan --local of the example with %s stored: median %.3f s (hyperfine, %s runs; target <= 0.3), peak RSS %s KB (median; target <= 102400)\n' \
    "$N" "$plan_median" "$RUNS" "$plan_rss"
rm -rf "$big"
fi

# 4: bill run over BILL_N measurements of 3 accounts.
if step 4; then
three="$(site three)"
fill "$three" "$BILL_N" "${EXAMPLE_ACCOUNTS[@]}" >/dev/null
read -r bill3 bill3_rss < <(local_runs "$three" bill run --bill-date 2025-01-01)
echo "bill run --local over $BILL_N measurements, 3 accounts: median $bill3 s (target <= 1), peak RSS $bill3_rss KB"
rm -rf "$three"
fi

# 5: bill run over ACCOUNTS x PER_ACCOUNT.
if step 5; then
accounts_file="$workdir/accounts-$ACCOUNTS.yaml"
many=()
{
    echo "accounts:"
    for i in $(seq -w 1 "$ACCOUNTS"); do
        printf '  - code: bench_account_%s\n    name: Bench Account %s\n    emailAddress: billing@example.com\n' "$i" "$i"
        many+=("bench_account_$i")
    done
    echo "accountPlans:"
    for i in $(seq -w 1 "$ACCOUNTS"); do
        printf '  - account: bench_account_%s\n    plan: lambda_plan_${var.suffix}\n    startDate: 2024-12-01\n' "$i"
    done
} >"$accounts_file"
wide="$(site wide "$accounts_file")"
fill "$wide" "$((ACCOUNTS * PER_ACCOUNT))" "${many[@]}" >/dev/null
read -r billw billw_rss < <(local_runs "$wide" bill run --bill-date 2025-01-01)
echo "bill run --local over $ACCOUNTS accounts x $PER_ACCOUNT measurements: median $billw s (target <= 2), peak RSS $billw_rss KB"
rm -rf "$wide"
fi

# 6: the emulator's RSS with ENTITIES config entities stored.
if step 6; then
ents="$workdir/entities"
mkdir -p "$ents/desired" "$ents/state"
# Files of 5,000 products (the YAML loader caps the nodes of one file).
awk -v n="$ENTITIES" -v dir="$ents/desired" 'BEGIN {
    for (i = 0; i < n; i++) {
        if (i % 5000 == 0) { f = sprintf("%s/products-%03d.yaml", dir, i / 5000); print "products:" > f }
        printf "  - code: p%06d\n    name: Product %d\n", i, i > f
    } }'
start_emulator --data "$ents/org.db"
api apply --auto-approve --dir "$ents/desired" --state "$ents/state/bench.json" --rate-limit 0 \
    --parallelism 16 >"$workdir/apply.out" 2>&1 \
    || { log "apply failed:"; tail -20 "$workdir/apply.out" >&2; exit 1; }
stop_emulator
start_emulator --data "$ents/org.db"
# One full walk of every page, so the figure includes serving them.
token="$(curl -s -u local-key:local-secret -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "$base/oauth/token" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')"
next=""
pages=0
while :; do
    page="$(curl -s -H "Authorization: Bearer $token" \
        "$base/organizations/$ORG/products?pageSize=200${next:+&nextToken=$next}")"
    pages=$((pages + 1))
    next="$(printf '%s' "$page" | sed -n 's/.*"nextToken":"\([^"]*\)".*/\1/p')"
    [[ -n "$next" ]] || break
done
rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$emu_pid/status")"
hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$emu_pid/status")"
stop_emulator
echo "emulator with $ENTITIES products stored (restarted on the db, $pages pages listed): RSS $rss KB, peak $hwm KB (target <= 102400); database $(stat -c %s "$ents/org.db") bytes"
fi
