#!/usr/bin/env bash
# `m3ter plan` benchmark (issue 3 "Performance"; loopback only, bounded).
#
# Workload: ENTITIES (default 10,000) entities as copies of the seed set (bench/plan/generate.py),
# applied once to an external emulator, so the plan is a no-op. Then the whole `m3ter plan` process
# (--rate-limit 0) is measured with hyperfine at 0 ms and at 20 ms injected latency, its peak RSS with
# /usr/bin/time -v, and the request count by route from /_emulator/stats for one run.
# Targets: <= 1 s wall and <= 150 MB RSS at 0 ms; (wall20 - wall0) / bound <= 1.2, where
# bound = 20 ms x (1 token call + the largest kind's page count at pageSize 100).
#
# Usage: bench/plan.sh     (env: ENTITIES=10000 RUNS=10 LATENCY_MS=20 RESULTS=bench/RESULTS-plan.md;
#                           RESULTS= (empty) prints only; M3TER_BIN=path skips the release build)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly ENTITIES="${ENTITIES:-10000}"
readonly RUNS="${RUNS:-10}"
readonly LATENCY_MS="${LATENCY_MS:-20}"
readonly RESULTS="${RESULTS-bench/RESULTS-plan.md}"
readonly PYTHON="${PYTHON:-python3}"
readonly ORG="00000000-0000-4000-8000-000000000001"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

# --- tools ----------------------------------------------------------------------------------
need_apt hyperfine hyperfine
need_apt curl curl
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time

build_release

# --- workload -------------------------------------------------------------------------------
# The org lives in a data file, so it survives a restart with other knobs (latency).
start_org() {
    start_emulator --data "$workdir/org.data" "$@"
    export M3TER_BASE_URL="$base"
}

"$PYTHON" bench/plan/generate.py "$workdir/desired-state" "$ENTITIES" >&2

export M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret NO_COLOR=1
state="$workdir/state.json"
plan_args=(plan --rate-limit 0 -d "$workdir/desired-state" --state "$state")
plan_cmd="$BIN ${plan_args[*]}"

start_org
log "applying the workload once (--parallelism 32)"
apply_start=$(date +%s.%N)
"$BIN" apply --auto-approve --rate-limit 0 --parallelism 32 -q \
    -d "$workdir/desired-state" --state "$state" | tail -n1 >&2
apply_end=$(date +%s.%N)
apply_s=$("$PYTHON" -c "print(f'{$apply_end - $apply_start:.1f}')")

set +e
"$BIN" "${plan_args[@]}" --detailed-exitcode >"$workdir/noop.txt" 2>&1
rc=$?
set -e
if [[ "$rc" != 0 ]]; then
    log "the plan after apply is not a no-op (exit $rc):"
    tail -n 20 "$workdir/noop.txt" >&2
    exit 1
fi

# Runs hyperfine on the plan command; prints the median in seconds.
median_of_plan() {
    hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$workdir/hf.json" "$plan_cmd" >&2
    "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$workdir/hf.json"
}

stats() { curl -sf "$base/_emulator/stats"; }

# --- 0 ms -----------------------------------------------------------------------------------
log "plan at 0 ms injected latency"
wall0="$(median_of_plan)"
/usr/bin/time -v "$BIN" "${plan_args[@]}" >/dev/null 2>"$workdir/time.txt"
rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$workdir/time.txt")"
stats >"$workdir/stats_before.json"
"$BIN" "${plan_args[@]}" >/dev/null
stats >"$workdir/stats_after.json"

# --- 20 ms ----------------------------------------------------------------------------------
stop_emulator
start_org --latency-ms "$LATENCY_MS"
log "plan at $LATENCY_MS ms injected latency"
wall20="$(median_of_plan)"
stop_emulator

# --- report ---------------------------------------------------------------------------------
report="$("$PYTHON" - "$workdir" "$wall0" "$wall20" "$rss_kb" "$LATENCY_MS" "$ENTITIES" "$RUNS" "$apply_s" "$plan_cmd" "$root" <<'PY'
import json, sys, platform, os
workdir, wall0, wall20, rss_kb, lat, entities, runs, apply_s, cmd, root = sys.argv[1:]
wall0, wall20, rss_mb, lat = float(wall0), float(wall20), int(rss_kb) / 1024, float(lat)
before = json.load(open(f"{workdir}/stats_before.json"))["requests"]
after = json.load(open(f"{workdir}/stats_after.json"))["requests"]
routes = {r: after[r] - before.get(r, 0) for r in after if after[r] - before.get(r, 0) > 0}
routes.pop("GET /_emulator/stats", None)
lists = {r: n for r, n in routes.items() if r.startswith("GET /organizations/")}
pages = max(lists.values()) if lists else 0
bound = lat / 1000 * (1 + pages)
ratio = (wall20 - wall0) / bound if bound else float("nan")
ok = lambda b: "ok" if b else "MISSED"
cmd = cmd.replace(workdir, "$WORK").replace(root + "/", "")
copies = -(-int(entities) // 14)
lines = [
    "# `m3ter plan` benchmark",
    "",
    f"Produced by `bench/plan.sh` (ENTITIES={entities} RUNS={runs}); machine: {platform.machine()}, "
    f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, load average "
    f"{os.getloadavg()[0]:.1f} at the end (the emulator runs on the same cores).",
    "",
    f"Workload: {copies * 14} entities, {copies} copies of the seed set "
    f"(bench/plan/generate.py), applied once (`apply --rate-limit 0 --parallelism 32`: {apply_s} s), "
    "so the plan is a no-op.",
    "",
    "Measured command (release build, credentials in the environment, an external `m3ter emulator "
    "--data $WORK/org.data`):",
    "",
    "```",
    f"hyperfine -N --warmup 1 --runs {runs} '{cmd}'",
    "```",
    "",
    "| figure | value | target |",
    "|---|---|---|",
    f"| wall, 0 ms latency (median of {runs}) | {wall0 * 1000:.0f} ms | <= 1000 ms: {ok(wall0 <= 1)} |",
    f"| peak RSS, 0 ms (`/usr/bin/time -v`) | {rss_mb:.1f} MB | <= 150 MB: {ok(rss_mb <= 150)} |",
    f"| wall, {lat:.0f} ms latency (median of {runs}) | {wall20 * 1000:.0f} ms | |",
    f"| round-trip lower bound: {lat:.0f} ms x (1 token + {pages} pages) | {bound * 1000:.0f} ms | |",
    f"| (wall{lat:.0f} - wall0) / bound | {ratio:.2f} | <= 1.2: {ok(ratio <= 1.2)} |",
    "",
    "Requests of one plan run, by route (`/_emulator/stats`):",
    "",
    "| route | requests |",
    "|---|---|",
]
lines += [f"| `{r}` | {n} |" for r, n in sorted(routes.items())]
lines += [f"| total | {sum(routes.values())} |", ""]
lines += [
    "Reading: the kinds are listed concurrently, so the round trips that cannot overlap are the token "
    "call and the pages of the largest kind, one after another (the bound). `m3ter plan` also reads "
    "the org while it parses the YAML and the state file, so part of the injected latency hides "
    "behind that work, which is why the ratio can be below 1.",
    "",
]
print("\n".join(lines))
PY
)"
printf '%s\n' "$report"
if [[ -n "$RESULTS" ]]; then
    printf '%s\n' "$report" >"$RESULTS"
    log "wrote $RESULTS"
fi
