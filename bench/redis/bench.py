#!/usr/bin/python3
"""redis-benchmark against redis-server and against stagesim side by side.

Both run at once; rounds alternate (redis, stagesim, redis, ...), each test's
requests/s is the median of ROUNDS rounds, and the ratio stagesim/redis is
printed per test at -P 1 and -P 16. Then RSS with 1M small keys loaded through
redis-cli --pipe. stagesim runs whole (backend and auth services too).

usage: bench/redis/bench.py [--stagesim build/stagesim] [--rounds 3] [-n 100000]
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


def start_stagesim(binary):
    p = subprocess.Popen([binary, "up", "--backend-port", "0", "--auth-port", "0",
                          "--control-port", "0", "--redis-port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    m = re.search(r'"redis":(\d+)', line)
    if not m:
        raise RuntimeError("no READY line: %r" % line)
    return p, int(m.group(1))


def bench(port, pipeline, n):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-n", str(n), "-c", "50",
                          "-P", str(pipeline), "-t", TESTS], capture_output=True, text=True,
                         timeout=600).stdout
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
    a = ap.parse_args()
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--appendonly",
                              "no", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL)
    sim, sport = start_stagesim(a.stagesim)
    try:
        wait_port(rport)
        for pl in (1, 16):
            runs = {"redis": [], "stagesim": []}
            for _ in range(a.rounds):
                runs["redis"].append(bench(rport, pl, a.n))
                runs["stagesim"].append(bench(sport, pl, a.n))
            print("\n-P %d (median of %d rounds, -n %d -c 50)" % (pl, a.rounds, a.n))
            print("%-28s %12s %12s %7s" % ("test", "redis", "stagesim", "ratio"))
            for t in runs["redis"][0]:
                r = statistics.median(x.get(t, 0) for x in runs["redis"])
                s = statistics.median(x.get(t, 0) for x in runs["stagesim"])
                print("%-28s %12.0f %12.0f %7.2f" % (t, r, s, s / r if r else 0))
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
