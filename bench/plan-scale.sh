#!/usr/bin/env bash
# Plan at scale (issue 12, "Plan of 40,000 desired entities with 50,000 live: <= 250 MB peak,
# <= 1.5 s").
#
# Workload: DESIRED (default 40,000) entities as copies of the seed set (bench/plan/generate.py),
# applied once to an emulator with a --data file, plus EXTRA (default 10,000) products created
# directly through the API (bench/seed.py), which no state manages: DESIRED + EXTRA live entities.
# The plan is then a no-op. The whole `m3ter plan --rate-limit 0` process is timed RUNS times
# (median) and its peak RSS measured each time with /usr/bin/time -v (median and maximum);
# RSS per live entity is the peak divided by the live count.
#
# Usage: bench/plan-scale.sh   (env: DESIRED=40000 EXTRA=10000 RUNS=5
#                               RESULTS=bench/RESULTS-plan-scale.md, empty prints only;
#                               M3TER_BIN=path skips the release build;
#                               KEEP=DIR keeps (or reuses) the applied workload in DIR)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly DESIRED="${DESIRED:-40000}"
readonly EXTRA="${EXTRA:-10000}"
readonly RUNS="${RUNS:-5}"
readonly RESULTS="${RESULTS-bench/RESULTS-plan-scale.md}"
readonly PYTHON="${PYTHON:-python3}"
readonly ORG="00000000-0000-4000-8000-000000000001"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need_apt curl curl
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time
build_release

work="${KEEP:-$workdir}"
mkdir -p "$work"
export M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret NO_COLOR=1
state="$work/state.json"
plan_args=(plan --rate-limit 0 -d "$work/desired-state" --state "$state")

start_emulator --data "$work/org.data"
export M3TER_BASE_URL="$base"
if [[ ! -e "$work/ready" ]]; then
    "$PYTHON" bench/plan/generate.py "$work/desired-state" "$DESIRED" >&2
    log "applying $DESIRED desired entities once (--parallelism 32)"
    "$BIN" apply --auto-approve --rate-limit 0 --parallelism 32 -q \
        -d "$work/desired-state" --state "$state" | tail -n1 >&2
    token="$(curl -sf -u local-key:local-secret -H 'Content-Type: application/json' \
        -d '{"grant_type":"client_credentials"}' "$base/oauth/token" |
        "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
    log "creating $EXTRA unmanaged products through the API"
    "$PYTHON" bench/seed.py "$base" "$token" "$ORG" 0 "$EXTRA" 8
    touch "$work/ready"
fi

set +e
"$BIN" "${plan_args[@]}" --detailed-exitcode >"$work/noop.txt" 2>&1
rc=$?
set -e
if [[ "$rc" != 0 ]]; then
    log "the plan is not a no-op (exit $rc):"
    tail -n 20 "$work/noop.txt" >&2
    exit 1
fi
# Live entities: those the state manages plus the unmanaged extras.
live="$("$PYTHON" - "$state" "$EXTRA" <<'PY'
import json, sys
print(len(json.load(open(sys.argv[1]))["resources"]) + int(sys.argv[2]))
PY
)"

walls=()
rsss=()
for r in $(seq "$RUNS"); do
    /usr/bin/time -v -o "$work/time.txt" "$BIN" "${plan_args[@]}" >/dev/null 2>"$work/plan.err"
    walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$work/time.txt")")
    rsss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")")
    log "  run $r: ${walls[-1]} s, ${rsss[-1]} KB"
done
stop_emulator

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wall="$(printf '%s\n' "${walls[@]}" | median)"
rss="$(printf '%s\n' "${rsss[@]}" | median)"
rss_max="$(printf '%s\n' "${rsss[@]}" | sort -g | tail -n1)"

report="$("$PYTHON" - "$wall" "$rss" "$rss_max" "$live" "$DESIRED" "$EXTRA" "$RUNS" "${walls[*]}" "${rsss[*]}" <<'PY'
import os, platform, subprocess, sys
wall, rss, rss_max, live, desired, extra, runs, walls, rsss = sys.argv[1:]
wall, rss_mb, rss_max_mb, live = float(wall), int(rss) / 1024, int(rss_max) / 1024, int(live)
ok = lambda b: "ok" if b else "MISSED"
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("\n".join([
    "# `m3ter plan` at scale",
    "",
    f"Produced by `bench/plan-scale.sh` (DESIRED={desired} EXTRA={extra} RUNS={runs}) at commit {commit}; "
    f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
    f"load average {os.getloadavg()[0]:.1f} at the end (the emulator and other work share the cores).",
    "",
    f"Workload: {live - int(extra)} desired entities (copies of the seed set, bench/plan/generate.py) applied "
    f"once, plus {extra} products created directly through the API that no state manages: {live} live "
    "entities. The plan is a no-op.",
    "",
    "Measured command (release build, an external `m3ter emulator --data`):",
    "",
    "```",
    "/usr/bin/time -v target/release/m3ter plan --rate-limit 0 -d $WORK/desired-state --state $WORK/state.json",
    "```",
    "",
    "| figure | value | target |",
    "|---|---|---|",
    f"| wall (median of {runs}) | {wall:.2f} s | <= 1.5 s: {ok(wall <= 1.5)} |",
    f"| peak RSS (median of {runs}) | {rss_mb:.0f} MB | <= 250 MB: {ok(rss_mb <= 250)} |",
    f"| peak RSS (max of {runs}) | {rss_max_mb:.0f} MB | |",
    f"| peak RSS per live entity | {rss_mb * 1024 * 1024 / live / 1024:.1f} KB | <= 3 KB (aim) |",
    "",
    f"Runs: wall {walls} s; peak RSS {rsss} KB.",
]))
PY
)"
printf '%s\n' "$report"
if [[ -n "$RESULTS" ]]; then
    printf '%s\n' "$report" >"$RESULTS"
    log "wrote $RESULTS"
fi
