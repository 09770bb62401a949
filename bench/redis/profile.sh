#!/bin/sh
# profile.sh -- instructions per request (callgrind, reproducible on a noisy
# machine) for stagesim and redis-server under the same redis-benchmark load.
# usage: bench/redis/profile.sh STAGESIM_BINARY TEST [PIPELINE] [N]
#   e.g. bench/redis/profile.sh build/stagesim get 1 20000
# Prints Ir/request for both; leaves callgrind.out.* in $OUT (default /tmp/rprof).
set -eu
BIN=$1; TEST=$2; P=${3:-1}; N=${4:-20000}
OUT=${OUT:-/tmp/rprof}
mkdir -p "$OUT"
free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

run() { # name port cmd...
    name=$1; port=$2; shift 2
    rm -f "$OUT/callgrind.out.$name.$TEST.$P"
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out.$name.$TEST.$P" \
        "$@" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" &
    sleep 0.5
    # the valgrind wrapper may run valgrind.bin as a child: find the tool's pid
    vpid=$(pgrep -f "callgrind-out-file=$OUT/callgrind.out.$name.$TEST.$P" | tail -1)
    i=0
    until redis-cli -p "$port" ping >/dev/null 2>&1; do
        i=$((i+1)); [ $i -lt 300 ] || { echo "no $name on $port" >&2; kill $vpid; exit 1; }
        sleep 0.1
    done
    # warm-up (allocations that happen once), then count only the measured run
    redis-benchmark -p "$port" -q -n 2000 -c 50 -P "$P" -t "$TEST" >/dev/null
    callgrind_control -i on $vpid >/dev/null
    redis-benchmark -p "$port" -q -n "$N" -c 50 -P "$P" -t "$TEST" >/dev/null
    callgrind_control -i off $vpid >/dev/null
    kill -TERM $vpid; wait || true
    ir=$(callgrind_annotate "$OUT/callgrind.out.$name.$TEST.$P" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
    echo "$name $TEST -P $P: $((ir / N)) Ir/request"
}

sp=$(free_port)
run stagesim "$sp" "$BIN" up --backend-port 0 --auth-port 0 --control-port 0 --redis-port "$sp"
rp=$(free_port)
run redis "$rp" redis-server --port "$rp" --save "" --appendonly no
