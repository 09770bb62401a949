#!/usr/bin/python3
"""bench/ab.py -- two stagesim binaries side by side, before and after a change.

    /usr/bin/python3 bench/ab.py --a OLD/stagesim --b NEW/stagesim [--rounds 5] [--duration 5]

Alternates A and B round by round (A, B, B, A, A, B, ...) so that a machine
getting busier or quieter during the run weighs on both alike, and reports the
median of each and the ratio B/A for:
  - the golden path at gap 0: bench/ws_load at 100 connections, runs/s and
    events/s (closed loop, --duration s a round);
  - Redis: redis-benchmark SET and GET, -P 1 and -P 16 (-n 100000, -c 50).
Every round is a fresh `stagesim up` on free ports. Numbers are reported,
never asserted; ws_load is built with cc -O2 into bench/out/bin as bench/run.py
does. Standard library only."""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_ws_load():
    out = os.path.join(HERE, "out", "bin")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "ws_load")
    src = os.path.join(HERE, "ws_load.c")
    if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
        subprocess.run(["cc", "-O2", "-o", exe, src], check=True)
    return exe


def gap0_scenario(tmp):
    with open(os.path.join(ROOT, "scenarios", "golden-path.json")) as f:
        sc = json.load(f)
    sc["agent"]["gap_ms"] = 0
    sc.pop("expect", None)   # an older binary may not know drills
    for k in ("summary", "symptoms", "sources"):
        sc.pop(k, None)
    path = os.path.join(tmp, "gap0.json")
    with open(path, "w") as f:
        json.dump(sc, f)
    return path


class Up:
    """`stagesim up` on free ports until its READY line; stopped with SIGTERM."""

    def __init__(self, binary, scenario):
        self.proc = subprocess.Popen([binary, "up", "--scenario", scenario, "--backend-port", "0",
                                      "--auth-port", "0", "--redis-port", "0", "--control-port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError("%s printed %r, not its READY line" % (binary, line))
        self.ports = json.loads(line[6:])

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def golden(ws_load, port, duration):
    out = subprocess.run([ws_load, "--port", str(port), "--quiet", "--conns", "100",
                          "--duration", str(duration)], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    line = next((l for l in out.splitlines() if l.startswith("RESULT ")), "")
    res = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    ok = res.get("runs_ok") == res.get("runs") and res.get("errors") == "0"
    return {"runs/s": float(res.get("runs_per_s", 0)), "events/s": float(res.get("events_per_s", 0)),
            "gaps": 0 if ok else 1}


def redis(port):
    got = {}
    for pipeline in (1, 16):
        out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "100000",
                              "-c", "50", "-P", str(pipeline), "-q", "--csv"],
                             capture_output=True, text=True, timeout=300).stdout
        for line in out.splitlines():
            cells = [c.strip('"') for c in line.split(",")]
            if len(cells) >= 2 and cells[0] in ("SET", "GET"):
                got["%s -P %d" % (cells[0], pipeline)] = float(cells[1])
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="the binary before")
    ap.add_argument("--b", required=True, help="the binary after")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=float, default=5.0)
    o = ap.parse_args()
    ws_load = build_ws_load()
    figures = {"a": {}, "b": {}}
    with tempfile.TemporaryDirectory() as tmp:
        scenario = gap0_scenario(tmp)
        order = []
        for r in range(o.rounds):
            order += ["a", "b"] if r % 2 == 0 else ["b", "a"]
        for i, which in enumerate(order):
            up = Up(getattr(o, which), scenario)
            try:
                got = golden(ws_load, up.ports["backend"], o.duration)
                got.update(redis(up.ports["redis"]))
            finally:
                up.stop()
            for k, v in got.items():
                figures[which].setdefault(k, []).append(v)
            print("round %d/%d (%s): %s" % (i + 1, len(order), which.upper(),
                                            ", ".join("%s %.0f" % kv for kv in got.items())),
                  file=sys.stderr)
    print("| figure | A median | B median | B/A |")
    print("|---|---:|---:|---:|")
    for k in figures["a"]:
        if k == "gaps":   # rounds in which some run missed an event or failed
            print("| rounds with gaps or errors | %d | %d | |" % (sum(figures["a"][k]),
                                                                 sum(figures["b"].get(k, []))))
            continue
        a, b = statistics.median(figures["a"][k]), statistics.median(figures["b"].get(k, [0]))
        print("| %s | %.0f | %.0f | %s |" % (k, a, b, "%.2f" % (b / a) if a else "-"))
    print("\nA = %s\nB = %s\n%d rounds each, alternating; golden path 100 connections gap 0, %g s a "
          "round; redis-benchmark -n 100000 -c 50." % (o.a, o.b, o.rounds, o.duration))


if __name__ == "__main__":
    main()
