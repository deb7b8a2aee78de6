#!/usr/bin/env bash
# Apply at scale (issue 12, "Apply of 40,000 creates at --rate-limit 0 takes <= 5x the time of
# 10,000 creates, in the same run").
#
# For each size (default 10,000 and 40,000 products, all creates), starts a fresh in-memory
# emulator with no added latency and a fresh state file, and times the whole
# `m3ter apply --auto-approve --rate-limit 0 --parallelism 16` (start, load, plan, refresh, creates,
# state saves), RUNS times; prints the medians, the ratio, the state file's size, the peak RSS of
# the last apply of each size (/usr/bin/time -v) and the bytes the state journal took per save.
#
# Usage: bench/apply-scale.sh   (env: RUNS=3 SIZES="10000 40000" PARALLELISM=16)
# Results are printed and written to bench/apply/scale-last-run.txt.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

readonly RUNS="${RUNS:-3}"
readonly SIZES="${SIZES:-10000 40000}"
readonly PARALLELISM="${PARALLELISM:-16}"
readonly ORG="00000000-0000-4000-8000-000000000001"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -x /usr/bin/time ]] || need_apt /usr/bin/time time
build_release

# desired state of N products, one file.
desired_of() {
    local n="$1" dir="$workdir/desired-$1"
    mkdir -p "$dir"
    awk -v n="$n" 'BEGIN { print "products:"; for (i = 0; i < n; i++) printf "  - code: p%06d\n    name: Product %d\n", i, i }' >"$dir/products.yaml"
    echo "$dir"
}

# One apply of N creates on a fresh emulator; prints the wall time in seconds.
timed_apply() {
    local n="$1" dir="$2"
    start_emulator
    rm -rf "$workdir/state"
    local t0 t1
    t0="$(date +%s.%N)"
    M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" \
        /usr/bin/time -v -o "$workdir/time-$n.txt" \
        "$BIN" apply --auto-approve --dir "$dir" --state "$workdir/state/bench.json" \
        --rate-limit 0 --parallelism "$PARALLELISM" \
        >"$workdir/apply.out" 2>"$workdir/apply.err" \
        || { log "apply failed:"; tail -20 "$workdir/apply.err" >&2; exit 1; }
    t1="$(date +%s.%N)"
    grep -q "Apply complete! 0 imported, $n added" "$workdir/apply.out" \
        || { log "apply did not create $n entities:"; tail -3 "$workdir/apply.out" >&2; exit 1; }
    [[ ! -e "$workdir/state/bench.json.journal" ]] || { log "a finished apply left its journal"; exit 1; }
    stat -c %s "$workdir/state/bench.json" >"$workdir/size-$n.txt"
    stop_emulator
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

out="bench/apply/scale-last-run.txt"
mkdir -p bench/apply
exec > >(tee "$out")
echo "apply at scale: sizes $SIZES, --rate-limit 0 --parallelism $PARALLELISM, $RUNS runs each, $(nproc) cores"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"

declare -A med
for n in $SIZES; do
    dir="$(desired_of "$n")"
    times=()
    for r in $(seq "$RUNS"); do
        times+=("$(timed_apply "$n" "$dir")")
        log "  $n creates, run $r: ${times[-1]} s"
    done
    med[$n]="$(printf '%s\n' "${times[@]}" | median)"
    rss="$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$workdir/time-$n.txt")"
    printf '%6d creates: median %s s (runs: %s); state file %s bytes; peak RSS of the last apply %s KB\n' \
        "$n" "${med[$n]}" "${times[*]}" "$(cat "$workdir/size-$n.txt")" "$rss"
done
set -- $SIZES
if (($# >= 2)); then
    awk -v a="${med[$1]}" -v b="${med[${!#}]}" -v na="$1" -v nb="${!#}" 'BEGIN {
        printf "ratio %d / %d creates: %.2f (work ratio %.1f; target <= 5)\n", nb, na, b / a, nb / na }'
fi
