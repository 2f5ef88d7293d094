#!/usr/bin/env bash
# Steady footprint of the edge agent: 20 simulated devices polled every second, publishing to mosquitto.
# Samples RSS and CPU of the agent process every 15 s. usage: bench/edge-footprint/run.sh [SECONDS] [ENV=VALUE …]
# Extra ENV=VALUE arguments are set for the agent only (e.g. DOTNET_GCgen0size=0x200000 to compare GC settings).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DURATION="${1:-180}"; shift || true
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT=$(free_port); BUS=$(free_port)

dotnet build "$ROOT/KhuyenCong.Energy.sln" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
EDGE="$ROOT/edge/KhuyenCong.Edge/bin/Release/net10.0/kc-edge.dll"
SIM="$ROOT/edge/KhuyenCong.Simulator/bin/Release/net10.0/kc-sim.dll"

printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 & pids+=($!)

{
  echo "site: bench-site"
  echo "gateway: bench-gw"
  echo "profiles_dir: $ROOT/firmware-config/devices"
  echo "mqtt: { url: \"mqtt://127.0.0.1:$MQTT\" }"
  echo "outbox: { path: $work/outbox.db }"
  echo "buses:"
  echo "  - { id: lan, type: tcp, host: 127.0.0.1, port: $BUS }"
  echo "devices:"
  for i in $(seq 1 10); do
    echo "  - { id: meter-$i, bus: lan, profile: eastron-sdm630, unit: $i, poll_interval: 1s, kiln: kiln-$i }"
    echo "  - { id: ctl-$i, bus: lan, profile: autonics-tk, unit: $((i + 10)), poll_interval: 1s, kiln: kiln-$i }"
  done
} > "$work/gateway.yaml"

dotnet "$SIM" --config "$work/gateway.yaml" --time-scale 60 >/dev/null 2>&1 & pids+=($!)
sleep 2
env "$@" dotnet "$EDGE" run --config "$work/gateway.yaml" > "$work/edge.log" 2>&1 & EDGE_PID=$!; pids+=($EDGE_PID)

ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$EDGE_PID/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$EDGE_PID/status"; }
sleep 15   # start-up and JIT are not steady state
echo "edge agent, 20 devices (10 SDM630 with 5 requests each, 10 Autonics TK with 3), poll 1 s, ${DURATION} s${*:+, $*}"
printf '%8s %10s %12s\n' "t (s)" "RSS (MB)" "CPU (% core)"
now() { date +%s.%N; }
c0=$(cpu); t0=$(now); start=$t0; cstart=$c0
while :; do
  sleep 15
  c1=$(cpu); t1=$(now)
  awk -v s="$start" -v t0="$t0" -v t1="$t1" -v r="$(rss)" -v c="$((c1 - c0))" -v k="$ticks" \
    'BEGIN { printf "%8.0f %10.1f %12.2f\n", t1 - s, r / 1024, 100 * c / k / (t1 - t0) }'
  c0=$c1; t0=$t1
  awk -v s="$start" -v t="$t1" -v d="$DURATION" 'BEGIN { exit !(t - s >= d) }' && break
done
awk -v c="$(( $(cpu) - cstart ))" -v s="$start" -v t="$(now)" -v k="$ticks" 'BEGIN { printf "mean CPU over the run: %.2f %% of one core\n", 100 * c / k / (t - s) }'
