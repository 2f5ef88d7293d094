#!/usr/bin/env bash
# Steady footprint of the edge agent: 20 simulated devices polled every second, publishing to mosquitto.
# Runs each build variant of the agent in turn against the same simulator and broker, for SECONDS each after 15 s of
# start-up, and prints one table: RSS at the start, middle and end of the window, its growth over the second half (the
# first minutes include the heap and caches filling up to their working size), peak RSS, and CPU as the
# process's CPU time over wall time (the machine may be busy with other work: the load average is printed too).
#
# usage: bench/edge-footprint/run.sh [SECONDS] [VARIANT …]
#   variants (default: all, in this order):
#     default    framework-dependent build (`dotnet kc-edge.dll`), runtime defaults
#     tuned      the same with the settings of firmware-config/systemd/kc-edge.service (W^X off, 4 MB gen 0, no PGO)
#     trimmed    self-contained, trimmed (PublishTrimmed), JIT, tuned settings
#     aot        Native AOT (PublishAot) as ./kc edge-publish makes it, runtime defaults baked in by the project
#     aot-gen0   Native AOT with a 4 MB gen-0 budget (DOTNET_GCgen0size=0x400000)
#     aot-limit  Native AOT with a 32 MB GC heap hard limit (DOTNET_GCHeapHardLimit=0x2000000)
#     aot-srk    Native AOT published with UseSystemResourceKeys=true (exception messages without their text)
#   Extra variants: NAME@BUILD=ENV=VALUE,ENV=VALUE runs build fd (framework-dependent), trimmed or aot with those
#   variables, e.g. nopgo@fd=DOTNET_TieredPGO=0 or nonconc@aot=DOTNET_gcConcurrent=0.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DURATION="${1:-300}"; shift || true
VARIANTS=("$@"); ((${#VARIANTS[@]})) || VARIANTS=(default tuned trimmed aot aot-gen0 aot-limit)
TUNED="DOTNET_EnableWriteXorExecute=0 DOTNET_GCgen0size=0x400000 DOTNET_TieredPGO=0"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT=$(free_port); BUS=$(free_port)

echo "building: framework-dependent, trimmed, Native AOT (linux-x64)…" >&2
dotnet build "$ROOT/KhuyenCong.Energy.sln" -c Release -nologo -v quiet -clp:ErrorsOnly >/dev/null
EDGE_DLL="$ROOT/edge/KhuyenCong.Edge/bin/Release/net10.0/kc-edge.dll"
SIM="$ROOT/edge/KhuyenCong.Simulator/bin/Release/net10.0/kc-sim.dll"
needs() { local v; for v in "${VARIANTS[@]}"; do [[ $v == "$1"* || $v == *@"$1"=* ]] && return 0; done; return 1; }
if needs trimmed; then
  dotnet publish "$ROOT/edge/KhuyenCong.Edge" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -nologo -v quiet -clp:ErrorsOnly -o "$work/trimmed" >/dev/null
fi
if needs aot; then
  dotnet publish "$ROOT/edge/KhuyenCong.Edge" -c Release -r linux-x64 -p:PublishAot=true \
    -nologo -v quiet -clp:ErrorsOnly -o "$work/aot" >/dev/null
fi
if needs aot-srk; then
  dotnet publish "$ROOT/edge/KhuyenCong.Edge" -c Release -r linux-x64 -p:PublishAot=true -p:UseSystemResourceKeys=true \
    -nologo -v quiet -clp:ErrorsOnly -o "$work/aot-srk" >/dev/null
fi

printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >/dev/null 2>&1 & pids+=($!)
{
  echo "site: bench-site"
  echo "gateway: bench-gw"
  echo "profiles_dir: $ROOT/firmware-config/devices"
  echo "mqtt: { url: \"mqtt://127.0.0.1:$MQTT\" }"
  echo "outbox: { path: outbox.db }"
  echo "buses:"
  echo "  - { id: lan, type: tcp, host: 127.0.0.1, port: $BUS }"
  echo "devices:"
  for i in $(seq 1 10); do
    echo "  - { id: meter-$i, bus: lan, profile: eastron-sdm630, unit: $i, poll_interval: 1s, kiln: kiln-$i }"
    echo "  - { id: ctl-$i, bus: lan, profile: autonics-tk, unit: $((i + 10)), poll_interval: 1s, kiln: kiln-$i }"
  done
} > "$work/gateway.yaml"
dotnet "$SIM" --config "$work/gateway.yaml" --time-scale 60 >/dev/null 2>&1 & pids+=($!)
# Counts the telemetry messages that reach the broker, to show that each variant really worked. Started once the
# broker answers: started before, mosquitto_sub gives up at once and every variant shows 0 messages.
for _ in $(seq 1 100); do mosquitto_pub -p "$MQTT" -t kc/bench/probe -m up 2>/dev/null && break; sleep 0.1; done
stdbuf -oL mosquitto_sub -p "$MQTT" -t 'kc/v1/+/+/telemetry' -F '%t' > "$work/published" 2>/dev/null & pids+=($!)
sleep 2

ticks=$(getconf CLK_TCK)
now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }

# run_variant NAME ENV… -- COMMAND…
run_variant() {
  local name=$1; shift
  local envs=(); while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
  local dir="$work/$name"; mkdir -p "$dir"; cp "$work/gateway.yaml" "$dir/"
  env "${envs[@]}" "$@" run --config "$dir/gateway.yaml" > "$dir/edge.log" 2>&1 & local pid=$!; pids+=($pid)
  sleep 15   # start-up and JIT are not steady state
  local cpu0 t0 l0 m0 samples=() peak=0 r
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t0=$(now); l0=$(load); m0=$(wc -l < "$work/published")
  while :; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status"); samples+=("$r"); ((r > peak)) && peak=$r
    awk -v s="$t0" -v t="$(now)" -v d="$DURATION" 'BEGIN { exit !(t - s >= d) }' && break
    sleep 15
  done
  local cpu1 t1 l1 m1
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat"); t1=$(now); l1=$(load); m1=$(wc -l < "$work/published")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  local n=${#samples[@]}
  awk -v name="$name" -v a="${samples[0]}" -v m="${samples[$((n / 2))]}" -v e="${samples[$((n - 1))]}" -v p="$peak" \
      -v c="$((cpu1 - cpu0))" -v k="$ticks" -v t0="$t0" -v t1="$t1" -v l0="$l0" -v l1="$l1" -v msgs="$((m1 - m0))" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.1f | %+.1f | %.1f | %.2f | %d | %s / %s |\n",
             name, a / 1024, m / 1024, e / 1024, (e - m) / 1024, p / 1024, 100 * c / k / (t1 - t0), msgs, l0, l1 }'
  if grep -qE 'fail|crit|Unhandled' "$dir/edge.log"; then echo "  ($name logged errors: $(grep -cE 'fail|crit|Unhandled' "$dir/edge.log") lines; first: $(grep -m1 -E 'fail|crit|Unhandled' "$dir/edge.log"))"; fi
}

echo "edge agent, 20 devices (10 SDM630 at 5 requests, 10 Autonics TK at 3: 80 Modbus transactions/s), poll 1 s,"
echo "${DURATION} s per variant after 15 s of start-up; $(nproc) cores; $(date -u +%FT%TZ)"
echo
echo "| variant | RSS start (MB) | RSS middle (MB) | RSS end (MB) | growth, 2nd half (MB) | RSS peak (MB) | CPU (% of one core) | telemetry messages | load avg start / end |"
echo "|---|---|---|---|---|---|---|---|---|"
for v in "${VARIANTS[@]}"; do
  case "$v" in
    default)   run_variant default -- dotnet "$EDGE_DLL" ;;
    tuned)     run_variant tuned $TUNED -- dotnet "$EDGE_DLL" ;;
    trimmed)   run_variant trimmed $TUNED -- "$work/trimmed/kc-edge" ;;
    aot)       run_variant aot -- "$work/aot/kc-edge" ;;
    aot-gen0)  run_variant aot-gen0 DOTNET_GCgen0size=0x400000 -- "$work/aot/kc-edge" ;;
    aot-limit) run_variant aot-limit DOTNET_GCHeapHardLimit=0x2000000 -- "$work/aot/kc-edge" ;;
    aot-srk)   run_variant aot-srk -- "$work/aot-srk/kc-edge" ;;
    *@fd=*|*@trimmed=*|*@aot=*)
      IFS=, read -r -a extra <<< "${v#*=}"; build="${v%%=*}"; build="${build#*@}"
      case "$build" in fd) exe=(dotnet "$EDGE_DLL") ;; *) exe=("$work/$build/kc-edge") ;; esac
      run_variant "${v%%=*}" "${extra[@]}" -- "${exe[@]}" ;;
    *)         echo "unknown variant $v" >&2; exit 2 ;;
  esac
done
