#!/usr/bin/env bash
# bench/ingest/run.sh with influxd's HTTP traffic captured (tcpdump, headers and the first bytes of each packet), then
# summarised by wire.py: how long influxd held complete write requests, how long bodies took to arrive.
# usage: bench/ingest/wire.sh [run.sh options…]     (root; installs tcpdump if it is missing)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
command -v tcpdump >/dev/null || { apt-get update -qq && apt-get install -y -qq tcpdump >/dev/null; }
out=$(mktemp -d /tmp/kc-wire.XXXXXX)
"$HERE/run.sh" "$@" > "$out/run.log" 2>&1 &
bench=$!
until grep -q '^influxd .* on http://127.0.0.1:' "$out/run.log" 2>/dev/null; do
  kill -0 $bench 2>/dev/null || { cat "$out/run.log"; exit 1; }
  sleep 0.2
done
port=$(grep -o 'on http://127.0.0.1:[0-9]*' "$out/run.log" | head -1 | cut -d: -f3)
pin=(); [[ " $* " == *" --pin "* ]] && pin=(taskset -c 0)   # with the client side, not on influxd's core
"${pin[@]}" tcpdump -i lo -s 110 -B 65536 -w "$out/influxd.pcap" "tcp port $port" 2> "$out/tcpdump.err" &
dump=$!
status=0; wait $bench || status=$?
sleep 1; kill $dump; wait $dump 2>/dev/null || true
cat "$out/run.log"
grep -E 'dropped' "$out/tcpdump.err" || true
python3 "$HERE/wire.py" "$out/influxd.pcap" "$port"
if [[ -n ${KEEP_CAPTURE:-} ]]; then echo "capture kept: $out/influxd.pcap (port $port)"; else rm -rf "$out"; fi
exit $status
