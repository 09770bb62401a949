#!/usr/bin/python3
"""redis-benchmark against redis-server and against stagesim side by side.

Both run at once. Each test is run on its own, one server right after the
other, ROUNDS times, the order swapped every round (redis first, then stagesim
first), so that the two runs of a pair see the same load. Printed per test at
-P 1 and -P 16: each server's median requests/s and the median of the pairs'
ratios stagesim/redis (a load that drifts between pairs moves both runs of a
pair alike, where a ratio of the two medians would mix pairs). On a machine
with 2 or more CPUs both servers are pinned to the last CPU and
redis-benchmark to the others (taskset), so that neither server shares its CPU
with the client; --no-pin turns that off. Then RSS with 1M small keys loaded
through redis-cli --pipe. stagesim runs whole (backend and auth services too).

usage: bench/redis/bench.py [--stagesim build/stagesim] [--rounds 3] [-n 100000] [--tests T,..] [--no-pin]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time

TESTS = "ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d not listening" % port)


PIN = {"server": [], "client": []}   # taskset prefixes


def set_pinning(on):
    n = os.cpu_count() or 1
    if on and n >= 2 and subprocess.run(["which", "taskset"], capture_output=True).returncode == 0:
        PIN["server"] = ["taskset", "-c", str(n - 1)]
        PIN["client"] = ["taskset", "-c", "0" if n == 2 else "0-%d" % (n - 2)]


def start_stagesim(binary):
    p = subprocess.Popen(PIN["server"] + [binary, "up", "--backend-port", "0", "--auth-port", "0",
                          "--control-port", "0", "--redis-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    m = re.search(r'"redis":(\d+)', line)
    if not m:
        raise RuntimeError("no READY line: %r" % line)
    return p, int(m.group(1))


def bench(port, pipeline, n, tests=TESTS):
    out = subprocess.run(PIN["client"] + ["redis-benchmark", "-p", str(port), "-q", "-n", str(n),
                                          "-c", "50", "-P", str(pipeline), "-t", tests],
                         capture_output=True, text=True, timeout=600).stdout
    res = {}
    for line in out.replace("\r", "\n").splitlines():
        m = re.match(r"\s*([A-Za-z_0-9 ()]+?): ([\d.]+) requests per second", line)
        if m:
            res[m.group(1).strip()] = float(m.group(2))
    if "ERR" in out or "Error" in out:
        raise RuntimeError("errors in redis-benchmark output:\n" + out)
    return res


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def load_keys(port, count):
    data = "".join("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$3\r\nxxx\r\n" % (len(k), k)
                   for k in ("key:%012d" % i for i in range(count)))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=data.encode(),
                   capture_output=True, check=True, timeout=600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stagesim", default=os.environ.get("STAGESIM", "build/stagesim"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--tests", default=TESTS, help="redis-benchmark -t list (default: %(default)s)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and client to CPUs")
    a = ap.parse_args()
    set_pinning(not a.no_pin)
    rport = free_port()
    redis = subprocess.Popen(PIN["server"] + ["redis-server", "--port", str(rport), "--save", "", "--appendonly",
                              "no", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    sim, sport = start_stagesim(a.stagesim)
    try:
        wait_port(rport)
        if PIN["server"]:
            print("servers on CPU %s, redis-benchmark on CPU %s" % (PIN["server"][-1],
                                                                   PIN["client"][-1]))
        for pl in (1, 16):
            print("\n-P %d (median of %d rounds, -n %d -c 50; ratio: median of the pairs')"
                  % (pl, a.rounds, a.n))
            print("%-28s %12s %12s %7s" % ("test", "redis", "stagesim", "ratio"))
            for test in a.tests.split(","):
                got = {"redis": [], "stagesim": []}
                for r in range(a.rounds):
                    order = [("redis", rport), ("stagesim", sport)]
                    for name, port in (order if r % 2 == 0 else order[::-1]):
                        got[name].append(bench(port, pl, a.n, test))
                # one -t test can print more than one line (lrange_100 runs LPUSH first)
                for t in got["redis"][0]:
                    rv = [x.get(t, 0) for x in got["redis"]]
                    sv = [x.get(t, 0) for x in got["stagesim"]]
                    ratios = [b / x for x, b in zip(rv, sv) if x]
                    print("%-28s %12.0f %12.0f %7.2f" % (t, statistics.median(rv),
                                                         statistics.median(sv),
                                                         statistics.median(ratios) if ratios else 0),
                          flush=True)
        r0, s0 = rss_kib(redis.pid), rss_kib(sim.pid)
        subprocess.run(["redis-cli", "-p", str(rport), "flushall"], capture_output=True)
        subprocess.run(["redis-cli", "-p", str(sport), "flushall"], capture_output=True)
        load_keys(rport, a.keys)
        load_keys(sport, a.keys)
        r1, s1 = rss_kib(redis.pid), rss_kib(sim.pid)
        print("\nRSS with %d keys (key:%%012d -> 'xxx'): redis-server %d KiB, stagesim %d KiB, "
              "ratio %.2f" % (a.keys, r1, s1, s1 / r1))
        print("(idle before loading: redis-server %d KiB, stagesim %d KiB)" % (r0, s0))
    finally:
        redis.terminate()
        sim.terminate()
        redis.wait()
        sim.wait()


if __name__ == "__main__":
    sys.exit(main())
