#!/usr/bin/python3
"""Cost of loaded fault rules that never match (issue 4's figure).

Two stagesim configurations, run in alternating rounds on one machine:
  none: the golden-path scenario;
  100:  the same with 100 rules that never match, spread over every place
        (ws.send, ws.message, http.request, auth.request, redis.command,
        redis.accept, auth.token), most on the hot ones.
Each round starts a fresh release-build `stagesim up`, measures golden-path
runs/s with bench/ws_load (100 clients, gap_ms 0) and Redis requests/s with
redis-benchmark (SET and GET, -P 1 and -P 16), then stops it. Medians of the
rounds and the ratio 100-rules / none are printed as a Markdown table.
Numbers are reported, not asserted; traffic goes only to 127.0.0.1.

With --callgrind, each configuration instead runs under valgrind's callgrind
with fixed loads, one process per load (redis-benchmark SET/GET -n 50000 at
-P 1, -n 100000 at -P 16, and 50 WebSocket clients x 20 runs), and the
instructions stagesim executed for the load (less those of an idle run, start
and stop, of the same configuration: loading the rules costs once, at start)
are compared: a count, not a time, so it is repeatable on a noisy machine.

usage: bench/faults_overhead.py [--build build-bench] [--rounds 3] [--seconds 5] [--callgrind]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def never_matching_rules():
    rules = []
    places = [("ws.send", 30), ("ws.message", 15), ("redis.command", 25), ("http.request", 10),
              ("auth.request", 10), ("redis.accept", 5), ("auth.token", 5)]
    actions = {"ws.send": {"kind": "drop"}, "ws.message": {"kind": "drop"},
               "redis.command": {"kind": "error", "text": "ERR never"},
               "http.request": {"kind": "status", "status": 500},
               "auth.request": {"kind": "status", "status": 500},
               "redis.accept": {"kind": "hang"}, "auth.token": {"kind": "reject"}}
    for place, n in places:
        for i in range(n):
            rule = {"id": "never-%s-%d" % (place.replace(".", "-"), i), "on": place,
                    "action": actions[place]}
            if place == "redis.accept":
                rule["match"] = {"conn": 1000000 + i}
            elif place == "auth.token":
                rule["match"] = {"user": "nobody-%d" % i}
            elif i % 5 == 4:
                rule["match"] = {"name": "never_glob_%d_*" % i}   # some globs too
            else:
                rule["match"] = {"name": "never_%d" % i}
            rules.append(rule)
    assert len(rules) == 100
    return rules


def scenario(rules, out):
    with open(os.path.join(ROOT, "scenarios", "golden-path.json")) as f:
        sc = json.load(f)
    sc["agent"]["gap_ms"] = 0
    if rules:
        sc["faults"] = rules
    with open(out, "w") as f:
        json.dump(sc, f)


def start(sim, scen):
    p = subprocess.Popen([sim, "up", "--scenario", scen, "--backend-port", "0", "--auth-port", "0",
                          "--redis-port", "0", "--control-port", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL,
                         env=dict(os.environ, JWT_SECRET_STAGING="bench-secret-0123456789abcdefghij"))
    line = p.stdout.readline().decode()
    if not line.startswith("READY "):
        p.kill()
        sys.exit("no READY line: %r" % line)
    return p, json.loads(line[6:])


def ws_runs(ws_load, port, seconds):
    r = subprocess.run([ws_load, "--port", str(port), "--conns", "100", "--duration", str(seconds),
                        "--timeout", str(seconds + 30), "--quiet"], capture_output=True, text=True,
                       timeout=seconds + 60)
    m = re.search(r"runs_per_s=([0-9.]+)", r.stdout)
    errors = re.search(r"errors=(\d+)", r.stdout)
    if not m or (errors and errors.group(1) != "0"):
        sys.exit("ws_load failed: %s %s" % (r.stdout, r.stderr[-500:]))
    return float(m.group(1))


def redis_rps(port, pipeline):
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "200000", "-c", "50",
                        "-P", str(pipeline), "-q"], capture_output=True, text=True, timeout=120)
    found = dict(re.findall(r"^(SET|GET): ([0-9.]+) requests per second", r.stdout, re.M))
    if set(found) != {"SET", "GET"}:
        sys.exit("redis-benchmark failed: %s" % r.stdout[-500:])
    return {k: float(v) for k, v in found.items()}


# The fixed loads of --callgrind, each in a process of its own: name, what it runs.
CALLGRIND_LOADS = [
    ("redis SET+GET 2 x 50k at -P 1", ["redis", "1", "50000"]),
    ("redis SET+GET 2 x 100k at -P 16", ["redis", "16", "100000"]),
    ("1000 golden-path runs (50 clients x 20)", ["ws"]),
]
IDLE = ["idle"]   # start and stop: what the loads' counts include besides the load


def callgrind(sim, ws_load, scen, load):
    """Instructions stagesim executes for one fixed load, start-up and shutdown included
    (load IDLE: start-up and shutdown alone)."""
    out = tempfile.mktemp(suffix=".callgrind")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, sim, "up",
                          "--scenario", scen, "--backend-port", "0", "--auth-port", "0",
                          "--redis-port", "0", "--control-port", "0"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL,
                         env=dict(os.environ, JWT_SECRET_STAGING="bench-secret-0123456789abcdefghij"))
    line = p.stdout.readline().decode()
    ports = json.loads(line[6:])
    if load == IDLE:
        pass
    elif load[0] == "redis":
        subprocess.run(["redis-benchmark", "-p", str(ports["redis"]), "-t", "set,get", "-n", load[2],
                        "-c", "50", "-P", load[1], "-q"], capture_output=True, check=True,
                       timeout=1200)
    else:
        subprocess.run([ws_load, "--port", str(ports["backend"]), "--conns", "50", "--runs", "20",
                        "--timeout", "300", "--quiet"], capture_output=True, check=True, timeout=1200)
    p.terminate()
    p.wait(timeout=120)
    with open(out) as f:
        total = int(re.search(r"^summary: (\d+)", f.read(), re.M).group(1))
    os.unlink(out)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--callgrind", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.build, "build.ninja")):
        subprocess.run(["meson", "setup", a.build, ROOT, "--buildtype=release"], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", a.build, "stagesim"], check=True, stdout=subprocess.DEVNULL)
    # the top meson.build links stagesim in the build dir's root (older layouts: sim/app/)
    sim = os.path.join(a.build, "stagesim")
    if not os.access(sim, os.X_OK):
        sim = os.path.join(a.build, "sim", "app", "stagesim")
    ws_load = os.path.join(a.build, "ws_load")
    subprocess.run(["cc", "-std=c11", "-O2", "-o", ws_load, os.path.join(ROOT, "bench", "ws_load.c")],
                   check=True)
    tmp = tempfile.mkdtemp()
    scen = {"none": os.path.join(tmp, "none.json"), "100": os.path.join(tmp, "rules100.json")}
    scenario(None, scen["none"])
    scenario(never_matching_rules(), scen["100"])
    subprocess.run([sim, "validate", scen["100"]], check=True, stdout=subprocess.DEVNULL)

    if a.callgrind:
        # Loading 100 rules costs instructions once, at start; the loads' own counts are
        # their totals less an idle run's (start, then stop) of the same configuration.
        idle = {name: callgrind(sim, ws_load, scen[name], IDLE) for name in ("none", "100")}
        print("| stagesim instructions, fixed load (less start-up and shutdown) | no rules | "
              "100 never-matching rules | ratio |")
        print("|---|---:|---:|---:|")
        print("| start-up and shutdown alone (subtracted below) | %d | %d | %.3f |"
              % (idle["none"], idle["100"], idle["100"] / idle["none"]))
        for label, load in CALLGRIND_LOADS:
            counts = {name: callgrind(sim, ws_load, scen[name], load) - idle[name]
                      for name in ("none", "100")}
            print("| %s | %d | %d | %.3f |" % (label, counts["none"], counts["100"],
                                              counts["100"] / counts["none"]), flush=True)
        return

    results = {k: {} for k in scen}
    for r in range(a.rounds):
        # Swapped every round: whichever goes second in a pair meets a warmer (or busier)
        # machine, and a fixed order would count that as the rules' cost.
        for name in (("none", "100") if r % 2 == 0 else ("100", "none")):
            p, ports = start(sim, scen[name])
            try:
                m = results[name]
                m.setdefault("golden-path runs/s (100 clients)", []).append(
                    ws_runs(ws_load, ports["backend"], a.seconds))
                for pl in (1, 16):
                    for cmd, v in redis_rps(ports["redis"], pl).items():
                        m.setdefault("redis %s -P %d req/s" % (cmd, pl), []).append(v)
            finally:
                p.terminate()
                p.wait(timeout=20)
            print("round %d %s done" % (r + 1, name), file=sys.stderr)

    # The ratio is the median of the rounds' pairs (each measured minutes apart at most),
    # not of the two medians: the machine's load drifts between rounds.
    print("| measure | no rules | 100 never-matching rules | ratio per round | ratio |")
    print("|---|---:|---:|---|---:|")
    for key in results["none"]:
        base, rules = results["none"][key], results["100"][key]
        pairs = [y / x for x, y in zip(base, rules)]
        print("| %s | %.0f | %.0f | %s | %.3f |" % (key, statistics.median(base),
                                                    statistics.median(rules),
                                                    " ".join("%.3f" % q for q in pairs),
                                                    statistics.median(pairs)))
    print("\n(medians of %d rounds, the order swapped every round; %s; load average %s)" %
          (a.rounds, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
           open("/proc/loadavg").read().split()[0:3]))


if __name__ == "__main__":
    main()
