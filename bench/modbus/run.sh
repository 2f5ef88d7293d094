#!/usr/bin/env bash
# Modbus TCP throughput: the project's master versus libmodbus's own client, against the same libmodbus server,
# in one run on one machine. usage: bench/modbus/run.sh [REGISTERS] [REQUESTS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")"
REGS="${1:-10}"; N="${2:-20000}"; ROUNDS="${3:-3}"
out=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$out"' EXIT
gcc -O2 libmodbus_server.c -o "$out/server" $(pkg-config --cflags --libs libmodbus)
gcc -O2 libmodbus_client.c -o "$out/client" $(pkg-config --cflags --libs libmodbus)
dotnet build ../ModbusThroughput -c Release -nologo -v quiet -o "$out/dotnet" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$out/server" "$PORT" >/dev/null & SERVER=$!
sleep 0.5
echo "server: libmodbus $(pkg-config --modversion libmodbus) on 127.0.0.1:$PORT; $N sequential FC3 reads of $REGS registers, $ROUNDS rounds each, alternating"
for r in $(seq "$ROUNDS"); do
  "$out/client" 127.0.0.1 "$PORT" 1 "$REGS" "$N"
  dotnet "$out/dotnet/ModbusThroughput.dll" 127.0.0.1 "$PORT" 1 "$REGS" "$N"
done
