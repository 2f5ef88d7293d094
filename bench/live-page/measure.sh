#!/usr/bin/env bash
# Measures the live page against a running server (e.g. the one ./kc demo prints):
#   bench/live-page/measure.sh URL TOKEN SITE [REQUESTS] [STREAM_SECONDS]
# Prints the page weight, the time of a whole read of the site (what a stream does on its first poll), and the bytes
# one open stream receives over STREAM_SECONDS.
set -euo pipefail
url="${1%/}" token="$2" site="$3" n="${4:-20}" secs="${5:-60}"
auth=(-H "Authorization: Bearer $token")
size() { curl -s -o /dev/null -w '%{size_download}' "$@"; }
html=$(size -b "kc_token=$token" "$url/site/$site")
js=$(size "$url/live/assets/live.js")
css=$(size "$url/live/assets/live.css")
echo "page weight: html $html B, live.js $js B, live.css $css B, total $((html + js + css)) B (uncompressed)"
times=()
for _ in $(seq "$n"); do times+=("$(curl -s -o /dev/null -w '%{time_total}' "${auth[@]}" "$url/live/site/$site")"); done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "whole read of the site (GET /live/site/%s, %d requests): median %.0f ms, max %.0f ms\n", "'"$site"'", NR, a[int((NR+1)/2)]*1000, a[NR]*1000}'
out=$(mktemp)
timeout "$secs" curl -s -N "${auth[@]}" "$url/live/site/$site/events" >"$out" || true
events=$(grep -c '^event:' "$out" || true)
echo "one stream for ${secs} s: $(wc -c <"$out") B in $events events ($(grep -c '^event: kiln' "$out" || true) kiln, $(grep -c '^event: curve' "$out" || true) curve, $(grep -c '^event: status' "$out" || true) status)"
rm -f "$out"
