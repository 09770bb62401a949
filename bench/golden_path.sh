#!/usr/bin/env bash
# bench/golden_path.sh: first stagesim benchmark. Golden-path runs and events per second with 100 and
# 1000 concurrent WebSocket clients at zero gaps, RSS per idle connection, /health under wrk.
# Numbers are reported, not asserted. Traffic goes only to 127.0.0.1; every step is time-bounded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}     # release build dir (created if missing)
ROUNDS=${ROUNDS:-3}                   # rounds per measurement; the median is reported
DURATION=${DURATION:-5}               # seconds of runs per WebSocket round
WRK_SECONDS=${WRK_SECONDS:-10}
CLIENTS=${CLIENTS:-"100 1000"}
RSS_CONNS=${RSS_CONNS:-1000}
OUT=${OUT:-$BUILD/bench-out}          # raw outputs, logs and summary.md
SIM_PID=

die() { echo "golden_path.sh: $*" >&2; exit 1; }

# ---- set-up ----------------------------------------------------------------------------------
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v redis-cli >/dev/null || die "redis-cli not found (apt-get install redis-tools)"
need_fds=$((2 * RSS_CONNS + 256))
for n in $CLIENTS; do [ $((2 * n + 256)) -gt "$need_fds" ] && need_fds=$((2 * n + 256)); done
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need_fds" ]; then
    die "ulimit -Hn is $hard, need $need_fds open files"
fi
ulimit -n "$need_fds" 2>/dev/null || true
[ "$(ulimit -n)" -ge "$need_fds" ] || ulimit -n "$hard"

mkdir -p "$OUT"
rm -f "$OUT"/*.txt "$OUT"/*.log "$OUT"/summary.md
if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" --buildtype=release >"$OUT/meson-setup.log" 2>&1 ||
        die "meson setup failed, see $OUT/meson-setup.log"
fi
# the binary lives in sim/app/ since the one-folder-per-layer layout (commit 2a088a2)
ninja -C "$BUILD" stagesim >"$OUT/ninja.log" 2>&1 || die "build failed, see $OUT/ninja.log"
SIM=$BUILD/stagesim
cc -std=c11 -O2 -Wall -Wextra -o "$BUILD/ws_load" "$ROOT/bench/ws_load.c" ||
    die "cannot build ws_load"
WS_LOAD=$BUILD/ws_load

# Zero-gap copy of the golden-path scenario: only agent.gap_ms differs.
SCEN=$OUT/golden-path-gap0.json
sed -e 's/"gap_ms": *[0-9]*/"gap_ms": 0/' -e 's/"name": *"golden-path"/"name": "golden-path-gap0"/' \
    "$ROOT/scenarios/golden-path.json" >"$SCEN"
grep -q '"gap_ms": 0' "$SCEN" || die "could not set gap_ms 0 in $SCEN"

# ---- stagesim lifecycle ------------------------------------------------------------------------
# start_sim LOGNAME: starts `stagesim up` on free ports, waits (10 s max) for READY, sets SIM_PID and
# BACKEND_PORT.
start_sim() {
    local log=$OUT/$1.log ready=$OUT/$1.ready
    : >"$ready"
    # A fixed secret: the bench does not use auth, and this keeps the "generated secret" warning out.
    JWT_SECRET_STAGING=stagesim-bench-secret-0123456789abcdef "$SIM" up --scenario "$SCEN" --backend-port 0 --auth-port 0 --redis-port 0 --control-port 0 \
        >"$ready" 2>"$log" &
    SIM_PID=$!
    local i
    for i in $(seq 200); do
        grep -q '^READY ' "$ready" && break
        kill -0 "$SIM_PID" 2>/dev/null || die "stagesim exited before READY, see $log"
        sleep 0.05
    done
    grep -q '^READY ' "$ready" || die "no READY line within 10 s, see $log"
    BACKEND_PORT=$(sed -n 's/^READY .*"backend":\([0-9]*\).*/\1/p' "$ready")
}

# stop_sim LOGNAME: SIGTERM, 10 s to exit, then SIGKILL; notes the exit status and any warning.
stop_sim() {
    local rc=0 i
    if ! kill -0 "$SIM_PID" 2>/dev/null; then
        wait "$SIM_PID" || rc=$?
        echo "NOTE $1: stagesim was already gone (exit $rc) before SIGTERM" | tee -a "$OUT/notes.txt"
        SIM_PID=
        return
    fi
    kill -TERM "$SIM_PID"
    for i in $(seq 200); do kill -0 "$SIM_PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$SIM_PID" 2>/dev/null; then
        echo "NOTE $1: stagesim did not exit 10 s after SIGTERM; killed" | tee -a "$OUT/notes.txt"
        kill -KILL "$SIM_PID"
    fi
    wait "$SIM_PID" || rc=$?
    [ "$rc" = 0 ] || echo "NOTE $1: stagesim exit status $rc after SIGTERM" | tee -a "$OUT/notes.txt"
    if grep -qiE 'warn|error|assert|sanitizer' "$OUT/$1.log"; then
        echo "NOTE $1: stagesim stderr has warnings/errors:" >>"$OUT/notes.txt"
        echo "  ($(grep -ciE 'warn|error|assert|sanitizer' "$OUT/$1.log") such lines; the first 3:)" \
            >>"$OUT/notes.txt"
        grep -m3 -iE 'warn|error|assert|sanitizer' "$OUT/$1.log" >>"$OUT/notes.txt"
    fi
    SIM_PID=
}
trap '[ -n "$SIM_PID" ] && kill -TERM "$SIM_PID" 2>/dev/null; true' EXIT

# history_entries N: total LLEN of thread:bench-0..N-1:messages in stagesim's own Redis
history_entries() {
    local i
    for ((i = 0; i < $1; i++)); do echo "LLEN thread:bench-$i:messages"; done |
        timeout 10 redis-cli -p "$REDIS_PORT" 2>/dev/null | awk '{s += $1} END {print s + 0}'
}
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# field NAME LINE: the value of NAME=value in a RESULT line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
# wrk prints latencies as 850.00us, 1.23ms or 1.20s: to ms
to_ms() { awk '{v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/) v *= 1000; printf "%.3f\n", v}'; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]; else print "n/a"}'; }

# ---- WebSocket golden path ---------------------------------------------------------------------
# ws_round N ROUND EXTRA...: one fresh stagesim, N clients for DURATION s; appends the RESULT line.
ws_round() {
    local n=$1 r=$2 tag=$3; shift 3
    local name=ws-$tag-$n-r$r rc=0
    start_sim "$name"
    REDIS_PORT=$(sed -n 's/^READY .*"redis":\([0-9]*\).*/\1/p' "$OUT/$name.ready")
    local c0 c1 t0 t1
    c0=$(cpu_ticks "$SIM_PID") t0=$(date +%s.%N)
    timeout $((DURATION + 60)) "$WS_LOAD" --port "$BACKEND_PORT" --conns "$n" --duration "$DURATION" \
        --timeout 30 --quiet "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err" || rc=$?
    c1=$(cpu_ticks "$SIM_PID" 2>/dev/null || echo "$c0") t1=$(date +%s.%N)
    local line
    line=$(grep '^RESULT ' "$OUT/$name.txt" || true)
    [ -n "$line" ] || line="RESULT conns=$n (no result, ws_load exit $rc)"
    # Each completed run appends 2 entries to thread:bench-<conn>:messages in stagesim's Redis; the
    # history is written after agent_completed is sent, so it may lag. Wait (10 s max) until every
    # run is stored and report how long that took after the last run.
    local want stored=0 waited=0
    want=$(( 2 * $(field runs "$line" | sed 's/^$/0/') ))
    for i in $(seq 100); do
        stored=$(history_entries "$n")
        [ "$stored" -ge "$want" ] && break
        sleep 0.1
    done
    waited=$(awk -v a="$t1" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    line="$line history_stored=$stored history_expected=$want history_wait_s=$waited"
    [ "$stored" -ge "$want" ] || echo "NOTE $name: only $stored of $want history entries stored" \
        "$waited s after the last run" | tee -a "$OUT/notes.txt"
    # stagesim's CPU use over the whole ws_load run (connect, runs, close), in % of one core
    line="$line sim_cpu_pct=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v w0="$t0" -v w1="$t1" \
        'BEGIN {printf "%.0f", (b - a) / t / (w1 - w0) * 100}')"
    echo "$tag $line" >>"$OUT/ws.txt"
    if [ "$rc" != 0 ]; then
        { echo "NOTE $name: ws_load exit $rc: $line"; cat "$OUT/$name.err"; } | tee -a "$OUT/notes.txt"
    fi
    stop_sim "$name"
    echo "  $tag n=$n round $r: $(field runs_per_s "$line") runs/s," \
        "$(field events_per_s "$line") events/s, p50 $(field p50_ms "$line") ms," \
        "p99 $(field p99_ms "$line") ms, errors $(field errors "$line")," \
        "stagesim CPU $(field sim_cpu_pct "$line")%, history stored after" \
        "$(field history_wait_s "$line") s: $(field history_stored "$line")/$(field history_expected "$line")"
}

# Client and server share the CPUs: note what else was running, so noisy numbers can be read.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 {printf "%s %s%%; ", $2, $1}')
echo "== WebSocket golden path, gap_ms 0, ${DURATION}s per round, $ROUNDS rounds"
for tag in default quickack; do
    extra=()
    [ "$tag" = quickack ] && extra=(--quickack)
    for n in $CLIENTS; do
        for r in $(seq "$ROUNDS"); do ws_round "$n" "$r" "$tag" "${extra[@]}"; done
    done
done

# ---- RSS per idle connection -------------------------------------------------------------------
echo "== RSS: idle vs $RSS_CONNS open WebSocket connections, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
    name=rss-r$r
    start_sim "$name"
    sleep 0.5
    idle=$(rss_kb "$SIM_PID")
    timeout 60 "$WS_LOAD" --port "$BACKEND_PORT" --conns "$RSS_CONNS" --runs 1 --hold 3 \
        --timeout 30 --quiet >"$OUT/$name.txt" 2>"$OUT/$name.err" &
    load=$!
    for i in $(seq 200); do grep -qs '^CONNECTED ' "$OUT/$name.txt" && break; sleep 0.05; done
    sleep 1
    held=$(rss_kb "$SIM_PID")
    rc=0; wait "$load" || rc=$?
    conns=$(sed -n 's/^CONNECTED ok=\([0-9]*\).*/\1/p' "$OUT/$name.txt")
    [ "$rc" = 0 ] || { echo "NOTE $name: ws_load exit $rc"; cat "$OUT/$name.err"; } | tee -a "$OUT/notes.txt"
    stop_sim "$name"
    per=$(awk -v a="$idle" -v b="$held" -v n="${conns:-0}" 'BEGIN {printf "%.1f", n ? (b-a)/n : 0}')
    echo "$idle $held ${conns:-0} $per" >>"$OUT/rss.txt"
    echo "  round $r: idle ${idle} KiB, with ${conns:-0} connections ${held} KiB -> ${per} KiB/conn"
done

# ---- /health under wrk ---------------------------------------------------------------------------
echo "== wrk -t2 -c50 -d${WRK_SECONDS}s /health, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
    name=wrk-r$r
    start_sim "$name"
    timeout $((WRK_SECONDS + 30)) wrk -t2 -c50 -d"${WRK_SECONDS}s" --latency \
        "http://127.0.0.1:$BACKEND_PORT/health" >"$OUT/$name.txt" 2>&1 || true
    stop_sim "$name"
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$OUT/$name.txt")
    p50=$(awk '$1 == "50%" {print $2}' "$OUT/$name.txt" | to_ms)
    p99=$(awk '$1 == "99%" {print $2}' "$OUT/$name.txt" | to_ms)
    errs=$(grep -E 'Socket errors|Non-2xx' "$OUT/$name.txt" | tr '\n' ' ' || true)
    echo "${rps:-0} ${p50:-n/a} ${p99:-n/a} ${errs:-none}" >>"$OUT/wrk.txt"
    echo "  round $r: ${rps:-?} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms, errors: ${errs:-none}"
done

# ---- summary -----------------------------------------------------------------------------------
{
    rev=$(git -C "$ROOT" rev-parse --short HEAD)
    git -C "$ROOT" diff --quiet HEAD -- sim faults include meson.build 2>/dev/null ||
        rev="$rev + uncommitted changes in sim/ faults/ include/ meson.build"
    echo "## Results ($(date -u +%Y-%m-%dT%H:%MZ), $rev)"
    echo
    echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
        "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM," \
        "$(uname -sr). Medians of $ROUNDS rounds."
    echo "Load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg);" \
        "other processes using >= 10% CPU at start: ${OTHERS:-none}"
    echo
    echo "### WebSocket golden path, gap_ms 0, ${DURATION} s of runs per round"
    echo
    echo "| client | clients | runs/s | events/s | p50 run ms | p99 run ms | runs in round | stagesim CPU % | history stored after (s) | errors (all rounds) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for tag in default quickack; do
        for n in $CLIENTS; do
            lines=$(grep "^$tag RESULT conns=$n " "$OUT/ws.txt" || true)
            m() { while read -r l; do field "$1" "$l"; done <<<"$lines" | median; }
            errs=$(while read -r l; do field errors "$l"; done <<<"$lines" |
                awk '{s += $1} END {print s + 0}')
            echo "| $tag | $n | $(m runs_per_s) | $(m events_per_s) | $(m p50_ms) | $(m p99_ms) |" \
                "$(m runs) | $(m sim_cpu_pct) | $(m history_wait_s) | $errs |"
        done
    done
    echo
    echo "### Memory"
    echo
    echo "RSS idle $(cut -d' ' -f1 "$OUT/rss.txt" | median) KiB; with $RSS_CONNS open, welcomed, idle" \
        "WebSocket connections $(cut -d' ' -f2 "$OUT/rss.txt" | median) KiB;" \
        "**$(cut -d' ' -f4 "$OUT/rss.txt" | median) KiB per connection**."
    echo
    echo "### /health under wrk -t2 -c50 -d${WRK_SECONDS}s"
    echo
    echo "$(cut -d' ' -f1 "$OUT/wrk.txt" | median) requests/s (latency p50" \
        "$(cut -d' ' -f2 "$OUT/wrk.txt" | median) ms, p99 $(cut -d' ' -f3 "$OUT/wrk.txt" | median) ms);" \
        "wrk errors: $(cut -d' ' -f4- "$OUT/wrk.txt" | sort -u | tr '\n' ';')"
    echo
    if [ -s "$OUT/notes.txt" ]; then
        echo "### Notes from this run"
        echo
        sed 's/^/    /' "$OUT/notes.txt"
    else
        echo "No ws_load errors, no stagesim warnings, every stagesim exited 0 on SIGTERM."
    fi
} >"$OUT/summary.md"
echo
cat "$OUT/summary.md"
echo
echo "raw outputs and logs: $OUT"
