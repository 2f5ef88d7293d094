#!/usr/bin/env bash
# Modbus TCP throughput: the project's master versus libmodbus's own client, against the same libmodbus server,
# in one run on one machine, alternating round by round.
# usage: bench/modbus/run.sh [REGISTERS] [REQUESTS] [ROUNDS] [PLACEMENT]
#   PLACEMENT: none  - let the scheduler place server and clients (default; results swing with placement)
#              same  - server and client pinned to the same CPU (taskset -c 1)
#              cross - server on CPU 0, client on CPU 1
set -euo pipefail
cd "$(dirname "$0")"
REGS="${1:-10}"; N="${2:-20000}"; ROUNDS="${3:-3}"; PLACEMENT="${4:-none}"
case "$PLACEMENT" in
  none)  SRV=(); CLI=() ;;
  same)  SRV=(taskset -c 1); CLI=(taskset -c 1) ;;
  cross) SRV=(taskset -c 0); CLI=(taskset -c 1) ;;
  *) echo "PLACEMENT must be none, same or cross" >&2; exit 2 ;;
esac
out=$(mktemp -d)
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$out"' EXIT
gcc -O2 libmodbus_server.c -o "$out/server" $(pkg-config --cflags --libs libmodbus)
gcc -O2 libmodbus_client.c -o "$out/client" $(pkg-config --cflags --libs libmodbus)
dotnet build ../ModbusThroughput -c Release -nologo -v quiet -o "$out/dotnet" >/dev/null
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${SRV[@]}" "$out/server" "$PORT" >/dev/null & SERVER=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
echo "server: libmodbus $(pkg-config --modversion libmodbus) on 127.0.0.1:$PORT; $N sequential FC3 reads of $REGS registers, $ROUNDS rounds each, alternating; placement: $PLACEMENT"
for r in $(seq "$ROUNDS"); do
  "${CLI[@]}" "$out/client" 127.0.0.1 "$PORT" 1 "$REGS" "$N"
  "${CLI[@]}" dotnet "$out/dotnet/ModbusThroughput.dll" 127.0.0.1 "$PORT" 1 "$REGS" "$N"
done
