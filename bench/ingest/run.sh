#!/usr/bin/env bash
# Ingest throughput and latency: mosquitto → ingestor → influxd, against influxd's own ceiling, in one run.
# usage: bench/ingest/run.sh [OPTIONS…]   (passed to bench/IngestThroughput, defaults in brackets)
#   --gateways 50 --devices 20 --seconds 200   backlog: gateways × seconds batches of devices × 5 readings
#   --warmup-seconds 50                        backlog drained and posted once before round 1, not counted (JIT warm-up)
#   --rounds 2                                 ceiling, 1 ingestor, 2 ingestors, back-to-back, this many times
#   --latency-seconds 60                       live load afterwards (one batch per gateway per second); 0 skips it
#   --batch-points 5000 --flush-ms 200 --max-in-flight 1000   ingest settings (as in cloud.yaml's ingest section)
#   --ceiling-lines 5000 --ceiling-posters 4   how the ceiling posts line protocol
#   --pin                                      influxd alone on CPU 1, mosquitto and the benchmark (ingestors, posters) on
#                                              CPU 0, for every variant: influxd with its own core, as deployed
#   --perf DIR                                 perf record -g of the processes during each drain (DIR/<variant>.data)
#   --timeline                                 per in-process drain: how many writes InfluxDB had in hand over time, write
#                                              latencies, when request bodies went out and answers were read (HttpClient events)
#   --null-sink                                the in-process ingestors write to a sink that accepts at once (nothing reaches
#                                              influxd): how fast the MQTT and decoding side alone drains the backlog
#   --instance-cpu Q [--instances 1,2]         instead of ingest1/ingest2: separate `kc-cloud run` processes, each in a cgroup
#                                              (v1 cpu controller, needs root) limited to Q of a CPU; 1, 2… instances each round;
#                                              a drain is timed to the last write InfluxDB answered (each instance logs it), and
#                                              its window is printed on CLOCK_MONOTONIC, for `perf record -a -k CLOCK_MONOTONIC`
#   --micro N                                  only the CPU cost per reading of the ingest path (old and new), N batches, no servers
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
for exe in /usr/bin/influxd /usr/sbin/mosquitto; do
  [[ -x $exe ]] || { echo "bench/ingest: $exe is missing (sudo apt-get install -y influxdb mosquitto)" >&2; exit 1; }
done
if ! out=$(dotnet build "$ROOT/bench/IngestThroughput/IngestThroughput.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly 2>&1); then
  echo "bench/ingest: the benchmark does not build:" >&2; echo "$out" >&2; exit 1
fi
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# If the benchmark dies, the kc-cloud instances it started in cgroups of their own (--instance-cpu) go with it and the
# groups are removed; the benchmark itself removes them when it ends normally or fails.
cleanup() {
  set +e
  local d owner pid
  for d in /sys/fs/cgroup/cpu/kc-bench-ingest-*/ /sys/fs/cgroup/cpuacct/kc-bench-ingest-*/; do
    [[ -d $d ]] || continue
    owner=$(basename "$d" | cut -d- -f4)
    [[ -d /proc/$owner ]] && continue
    for pid in $(cat "$d/cgroup.procs"); do kill -CONT "$pid"; kill -KILL "$pid"; done 2>/dev/null
    for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.2; done
  done
}
trap cleanup EXIT
PIN=()
for a in "$@"; do if [[ $a == --pin ]]; then PIN=(taskset -c 0); fi; done
"${PIN[@]}" dotnet "$ROOT/bench/IngestThroughput/bin/Release/net10.0/IngestThroughput.dll" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
