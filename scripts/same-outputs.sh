#!/usr/bin/env bash
# Runs the same battery of commands with two doralens binaries on the same
# generated organisation and diffs every output: the proof that a change
# meant to keep outputs (a restructuring, a performance change) keeps them
# byte for byte.
#
#   scripts/same-outputs.sh OLD_BINARY NEW_BINARY [WORKDIR]
#
# Exit 0 when every output is identical; 1 with the differing outputs named.
set -euo pipefail
old=$1 new=$2
work=${3:-$(mktemp -d)}
mkdir -p "$work"
# A fixed organisation and window: the default ones move with the clock.
org=(--seed 7 --teams 6 --days 200 --scale 0.5 --end 2026-11-01 --incident-rate 2)
window=(--from 2026-05-01 --to 2026-11-01)
run_battery() {
    local bin=$1 out=$2
    mkdir -p "$out"
    local wh="$out/warehouse"
    "$bin" --warehouse "$wh" generate "${org[@]}" 2>/dev/null
    local i=0
    run() { i=$((i + 1)); "$bin" --warehouse "$wh" "$@" >"$out/$(printf %03d "$i").out" 2>/dev/null || echo "exit $?" >>"$out/$(printf %03d "$i").out"; }
    for format in table csv json; do
        run metrics "${window[@]}" --format "$format"
        run metrics "${window[@]}" --by team --interval month --format "$format"
    done
    for by in team service repo; do
        for interval in week month; do
            run metrics "${window[@]}" --by "$by" --interval "$interval" --format csv
        done
    done
    for bench in dora-2021 dora-2023 dora-2024; do
        run metrics "${window[@]}" --by team --benchmark "$bench" --format csv
    done
    run metrics "${window[@]}" --by team --include-baseline --format csv
    run metrics "${window[@]}" --by service --incident-window 0s --format csv
    run export "${window[@]}" --format openmetrics
    run export "${window[@]}" --format json
    run sql "SELECT * FROM deployment_commits ORDER BY deployment_id, repo, sha LIMIT 2000" --format csv
    run report --week 2026-W42 --out "$out/report"
    run explain deployment "$("$bin" --warehouse "$wh" sql "SELECT id FROM deployments ORDER BY finished_at DESC LIMIT 1" --format csv 2>/dev/null | sed -n 2p)"
    run explain incident "$("$bin" --warehouse "$wh" sql "SELECT id FROM incidents ORDER BY created_at DESC LIMIT 1" --format csv 2>/dev/null | sed -n 2p)"
    for metric in deployment-frequency lead-time change-failure-rate recovery-time rework-rate time-to-restore; do
        mkdir -p "$out/chart-$metric"
        run chart "$metric" "${window[@]}" --by team --interval month --out "$out/chart-$metric"
    done
}
run_battery "$old" "$work/old"
run_battery "$new" "$work/new"
# Warehouse paths differ between the two runs; compare without them.
differ=0
count=0
while IFS= read -r f; do
    rel=${f#"$work/old/"}
    count=$((count + 1))
    if ! cmp -s <(sed "s#$work/old#W#g" "$f") <(sed "s#$work/new#W#g" "$work/new/$rel" 2>/dev/null); then
        echo "differs: $rel"
        differ=1
    fi
done < <(find "$work/old" -type f ! -path '*/warehouse/*' | sort)
echo "$count outputs compared in $work"
exit $differ
