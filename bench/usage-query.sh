#!/usr/bin/env bash
# The emulator's usage query (`POST /usage/query`) at the size of issue 13's preview benchmark:
# 100 accounts x 10,000 measurements (1,000,000, one meter) in a `--data` database, then one
# query for the 100 accounts with an ACCOUNT group and 3 aggregations (a derived field's SUM, a
# COUNT, a MAX), timed with hyperfine (median of RUNS runs, after a warm-up). Checks the answer
# has 100 rows whose COUNTs add up to every measurement, and that the stats counted each query
# once under `POST /organizations/{orgId}/usage/query`.
#
# Usage: bench/usage-query.sh   (env: ACCOUNTS=100 PER_ACCOUNT=10000 RUNS=7; M3TER_BIN=path
# skips the release build; DB=FILE keeps the database there, and reuses it when it exists)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
readonly ACCOUNTS="${ACCOUNTS:-100}"
readonly PER_ACCOUNT="${PER_ACCOUNT:-10000}"
readonly RUNS="${RUNS:-7}"
readonly ORG="00000000-0000-4000-8000-000000000001"
readonly METER=compute_and_requests_meter_api_6

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need_apt hyperfine hyperfine
need_apt jq jq
build_release

total=$((ACCOUNTS * PER_ACCOUNT))
db="${DB:-$workdir/bench.db}"
if [[ -e "$db" ]]; then
    log "reusing $db"
    start_emulator --data "$db"
else
    # Accounts interleaved in arrival order, as live traffic is: one account's rows are spread
    # over the whole table, not stored together.
    awk -v a="$ACCOUNTS" -v n="$total" -v m="$METER" 'BEGIN { for (i = 0; i < n; i++)
        printf "{\"uid\":\"q-%09d\",\"meter\":\"%s\",\"account\":\"bench_acct_%03d\",\"ts\":\"2024-12-%02dT%02d:%02d:00Z\",\"measure\":{\"memory_consumption_api_6\":%d,\"execution_time_api_6\":%d}}\n",
            i, m, i % a, 1 + int(i / a) % 28, int(i / a / 28) % 24, i % 60, 1 + i % 8, 100 + i % 900 }' >"$workdir/usage.jsonl"
    log "wrote $total measurements for $ACCOUNTS accounts ($(du -h "$workdir/usage.jsonl" | cut -f1))"
    start_emulator --data "$db"
fi
export M3TER_ORG_ID="$ORG" M3TER_API_KEY=local-key M3TER_API_SECRET=local-secret M3TER_BASE_URL="$base" NO_COLOR=1
if [[ -e "$workdir/usage.jsonl" ]]; then
    cp -r desired-state "$workdir/desired-state"
    (cd "$workdir" && "$BIN" apply --auto-approve --rate-limit 0 -q | tail -n1 >&2)
    t0=$(date +%s)
    # One auto-created account warning per account: not shown.
    (cd "$workdir" && "$BIN" ingest --rate-limit 0 --file usage.jsonl 2> >(grep -v "^warning: no account" >&2))
    log "ingested in $(($(date +%s) - t0)) s"
    rm "$workdir/usage.jsonl"
fi

token="$(curl -sf -u local-key:local-secret -H 'Content-Type: application/json' \
    -d '{"grant_type":"client_credentials"}' "$base/oauth/token" | jq -r .access_token)"
api="$base/organizations/$ORG"
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
meter_id="$(curl -sf "${auth[@]}" "$api/meters?codes=$METER" | jq -r '.data[0].id')"
# The benchmark accounts (auto-created by ingest), by code.
next=""
: >"$workdir/pages.json"
while :; do
    curl -sf "${auth[@]}" "$api/accounts?pageSize=100${next:+&nextToken=$next}" >"$workdir/page.json"
    cat "$workdir/page.json" >>"$workdir/pages.json"
    next="$(jq -r '.nextToken // empty' "$workdir/page.json")"
    [[ -n "$next" ]] || break
done
jq -s '[.[].data[] | select(.code | startswith("bench_acct_")) | .id]' "$workdir/pages.json" >"$workdir/accounts.json"
[[ "$(jq length "$workdir/accounts.json")" == "$ACCOUNTS" ]] || { log "expected $ACCOUNTS accounts"; exit 1; }
jq -n --arg m "$meter_id" --slurpfile a "$workdir/accounts.json" '{
    startDate: "2024-12-01T00:00:00Z", endDate: "2025-01-01T00:00:00Z",
    meterIds: [$m], accountIds: $a[0], groups: [{groupType: "ACCOUNT"}],
    aggregations: [
        {meterId: $m, fieldCode: "duration_api_6", fieldType: "MEASURE", function: "SUM"},
        {meterId: $m, fieldCode: "memory_consumption_api_6", fieldType: "MEASURE", function: "COUNT"},
        {meterId: $m, fieldCode: "execution_time_api_6", fieldType: "MEASURE", function: "MAX"}]}' \
    >"$workdir/query.json"
# The same with one aggregation (the derived field's SUM): what each aggregation adds.
jq '.aggregations |= .[:1]' "$workdir/query.json" >"$workdir/query1.json"

curl -sf "${auth[@]}" -X DELETE "$base/_emulator/stats" >/dev/null
curl -sf "${auth[@]}" -d @"$workdir/query.json" "$api/usage/query" >"$workdir/answer.json"
rows="$(jq '.data | length' "$workdir/answer.json")"
counted="$(jq '[.data[].values["memory_consumption_api_6:COUNT"]] | add' "$workdir/answer.json")"
[[ "$rows" == "$ACCOUNTS" && "$counted" == "$total" ]] ||
    { log "wrong answer: $rows rows counting $counted measurements"; exit 1; }
log "answer: $rows rows, COUNTs add up to $counted; first: $(jq -c '.data[0].values' "$workdir/answer.json")"

send() { echo "curl -sf -o /dev/null -H 'Authorization: Bearer $token' -H 'Content-Type: application/json' -d @$1 $api/usage/query"; }
hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$workdir/hyperfine.json" \
    -n "3 aggregations" "$(send "$workdir/query.json")" -n "1 aggregation" "$(send "$workdir/query1.json")" >&2
sent=$((1 + 2 * (RUNS + 1)))
queries="$(curl -sf "$base/_emulator/stats" | jq '.requests["POST /organizations/{orgId}/usage/query"]')"
[[ "$queries" == "$sent" ]] || { log "stats counted $queries usage queries, sent $sent"; exit 1; }
rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$emu_pid/status")"
stop_emulator
median() { jq ".results[$1].median * 1000" "$workdir/hyperfine.json"; }
printf 'usage query, %d accounts x %d measurements, ACCOUNT group: median %.0f ms with 3 aggregations, %.0f ms with 1, over %d runs (target well under 1000 ms); emulator peak RSS %.0f MB\n' \
    "$ACCOUNTS" "$PER_ACCOUNT" "$(median 0)" "$(median 1)" "$RUNS" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')"
