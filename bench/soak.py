#!/usr/bin/python3
"""bench/soak.py: a soak of every service at once, with faults firing (issue 10, item 5).

It starts `stagesim up` on free ports with a journal file, adds fault rules through the control
API, and then for --minutes (default 30; --quick: 2) churns connections on every service
concurrently:

  ws      connect (token as a subprotocol or in the query) -> welcome -> one chat in a thread of
          its own pool -> the five events -> close; every 4th connection is cut without a close
          frame after its run
  http    /health, /health/ready, the discovery, MCP and beacon routes, a 404, a thread's
          validate and messages with a Bearer token; one connection per request
  auth    login -> /auth/me -> refresh -> logout -> /auth/me (401), and a wrong password (401)
  redis   connect -> SET/GET -> LPUSH + LTRIM -> GET of a faulted key -> SET/DEL -> QUIT; it also
          trims the chat threads' histories, so the data stored stays bounded
  control /journal pages (every line parsed), /status, /faults, /metrics

Every 10 s it samples stagesim's VmRSS, its descriptors (/proc/PID/fd), the data it stores (Redis
`INFO memory` used_memory, and the journal's in-memory ring: its lines, at most 65536, times the
mean line of the journal file) and the client-side outcome counts, where an outcome a fault rule
explains is counted as expected, apart from unexpected errors. At the end the clients stop, the
descriptors are polled until they are back to the baseline (or 30 s pass), the control API's
journal count is read, stagesim gets SIGTERM, and the journal file is checked: every line JSON,
as many lines as the API counted, each rule's firings as the API reported them.

Targets are reported, never asserted: the exit status is 0 when the soak ran, 1 when it could
not (stagesim did not start, a client task crashed). Output: bench/out/soak-<UTC>/ (soak.md,
soak.json, stagesim.err, journal.ndjson), soak.md and soak.json copied to bench/out/.

usage: /usr/bin/python3 bench/soak.py [--quick] [--minutes M] [--interval S]
                                      [--stagesim PATH] [--out DIR]
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import websockets

from soak_wire import HOST, Resp, RespError, Unexpected, dechunk, expect, http, resp_encode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "stagesim-soak-secret-0123456789abcdef"  # fixed, so no generated-secret warning
USERS = [("user-alice", "alice@example.com", "alice-password"),
         ("user-bob", "bob@example.com", "bob-password")]
WS_PER_USER = 2
REDIS_KEYS, REDIS_LISTS, LIST_LEN, VALUE_SIZE = 2000, 200, 50, 256
HISTORY_KEEP = 20          # entries of each chat thread's history left by the trims
GOLDEN = ["agent_started", "agent_thinking", "tool_executing", "tool_completed",
          "agent_completed"]
JOURNAL_RING = 65536       # SIM_JOURNAL_RING: journal lines kept in memory

# The faults: one or more on every service, firing all along. Counted per service, so that they
# keep firing while connections come and go.
RULES = [
    {"id": "soak-ws-1011", "on": "ws.send", "match": {"name": "tool_executing"},
     "scope": "service", "every": 7,
     "action": {"kind": "close", "code": 1011, "reason": "Internal error"}},
    {"id": "soak-health-delay", "on": "http.request", "match": {"name": "/health"},
     "every": 5, "action": {"kind": "delay", "ms": 200}},
    {"id": "soak-auth-503", "on": "auth.request", "match": {"name": "/auth/refresh"},
     "every": 4, "action": {"kind": "status", "status": 503,
                            "body": "{\"detail\":\"Service Unavailable\"}"}},
    {"id": "soak-redis-error", "on": "redis.command", "match": {"name": "get", "key": "soak:err:*"},
     "scope": "service", "p": 0.3,
     "action": {"kind": "error", "text": "LOADING Redis is loading the dataset in memory"}},
    {"id": "soak-redis-abort", "on": "redis.command", "match": {"name": "lpush"},
     "scope": "service", "every": 97, "times": 100000, "action": {"kind": "abort"}},
]


# ---- outcome counts -----------------------------------------------------------------------------

class Stats:
    """Per service: ok, expected (by rule id) and unexpected (by kind, with the first examples)."""

    def __init__(self):
        self.ok = {}
        self.expected = {}
        self.unexpected = {}
        self.examples = []
        self.revocations = 0      # tokens the auth service was told to revoke, and did
        self.t0 = time.monotonic()

    def count_ok(self, svc):
        self.ok[svc] = self.ok.get(svc, 0) + 1

    def count_expected(self, svc, rule):
        key = "%s %s" % (svc, rule)
        self.expected[key] = self.expected.get(key, 0) + 1

    def count_unexpected(self, svc, what):
        key = "%s %s" % (svc, what.split(":")[0])
        self.unexpected[key] = self.unexpected.get(key, 0) + 1
        if len(self.examples) < 50:
            self.examples.append("%.1f s %s: %s" % (time.monotonic() - self.t0, svc, what))

    def snapshot(self):
        return {"ok": dict(self.ok), "expected": dict(self.expected),
                "unexpected": dict(self.unexpected)}


STATS = Stats()


async def guarded(svc, coro):
    """One iteration: a timeout or an exception that is not a known outcome is unexpected."""
    try:
        await asyncio.wait_for(coro, 30)
    except asyncio.CancelledError:
        raise
    except asyncio.TimeoutError:
        STATS.count_unexpected(svc, "timeout: no answer within 30 s")
    except Unexpected as e:
        STATS.count_unexpected(svc, str(e))
    except (OSError, EOFError, asyncio.IncompleteReadError, websockets.WebSocketException) as e:
        STATS.count_unexpected(svc, "%s: %s" % (type(e).__name__, e))


class Ctx:
    def __init__(self, ports, stop, pause, auth_pause):
        self.ports, self.stop, self.pause, self.auth_pause = ports, stop, pause, auth_pause


async def login(ctx, email, password):
    status, body = await http(ctx.ports["auth"], "POST", "/auth/login",
                              {"email": email, "password": password})
    expect(status == 200, "login %s: HTTP %d %s" % (email, status, body))
    return body


async def ws_worker(ctx, user, idx):
    uid, email, password = user
    thread = "soak-%s-%d" % (uid, idx)
    token, token_t, n = None, 0.0, 0
    while not ctx.stop.is_set():
        if token is None or time.monotonic() - token_t > 300:   # access tokens live 30 min
            try:
                token, token_t = (await login(ctx, email, password))["access_token"], time.monotonic()
            except (Unexpected, OSError) as e:
                STATS.count_unexpected("ws", "login: %s" % e)
                await asyncio.sleep(1)
                continue
        n += 1
        await guarded("ws", ws_once(ctx, token, thread, n))
        await asyncio.sleep(ctx.pause)


async def ws_once(ctx, token, thread, n):
    base = "ws://%s:%d/ws" % (HOST, ctx.ports["backend"])
    if n % 2:
        ws = await websockets.connect(base, subprotocols=["jwt." + token], open_timeout=20,
                                      close_timeout=10, max_size=2 ** 20)
    else:
        ws = await websockets.connect(base + "?token=" + token, open_timeout=20,
                                      close_timeout=10, max_size=2 ** 20)
    try:
        welcome = json.loads(await ws.recv())
        expect(welcome.get("type") == "connection_established",
               "ws welcome: %s" % str(welcome)[:200])
        await ws.send(json.dumps({"type": "user_message", "message": "soak %d" % n,
                                  "thread_id": thread}))
        seen = []
        try:
            while not seen or seen[-1] != "agent_completed":
                seen.append(json.loads(await ws.recv()).get("type"))
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else 1006
            reason = e.rcvd.reason if e.rcvd else ""
            if code == 1011 and reason == "Internal error" and seen == GOLDEN[:2]:
                STATS.count_expected("ws", "soak-ws-1011")
                return
            raise Unexpected("ws closed %d %r after %s" % (code, reason, seen))
        expect(seen == GOLDEN, "ws events: %s" % seen)
        STATS.count_ok("ws")
    finally:
        if n % 4 == 0:
            ws.transport.abort()       # cut without a close frame
        else:
            await ws.close()


async def http_worker(ctx, token_holder):
    routes = ["/health", "/health/ready", "/api/discovery/services", "/api/mcp/servers",
              "/ws/beacon", "/health", "/no/such/route", "/api/threads/%s/validate",
              "/api/threads/%s/messages"]
    n = 0
    while not ctx.stop.is_set():
        path = routes[n % len(routes)]
        n += 1
        await guarded("http", http_once(ctx, path, token_holder))
        await asyncio.sleep(ctx.pause)


async def http_once(ctx, path, token_holder):
    token = None
    if "%s" in path:
        if "token" not in token_holder:
            token_holder["token"] = (await login(ctx, *USERS[0][1:]))["access_token"]
        path, token = path % ("soak-user-alice-0"), token_holder["token"]
    status, body = await http(ctx.ports["backend"], "GET", path, token=token)
    want = 404 if path == "/no/such/route" else 200
    expect(status == want, "GET %s: HTTP %d %s" % (path, status, str(body)[:200]))
    STATS.count_ok("http")


async def auth_worker(ctx):
    n = 0
    while not ctx.stop.is_set():
        n += 1
        await guarded("auth", auth_once(ctx, USERS[n % 2], n))
        await asyncio.sleep(ctx.auth_pause)


async def auth_once(ctx, user, n):
    port = ctx.ports["auth"]
    if n % 10 == 0:
        status, body = await http(port, "POST", "/auth/login",
                                  {"email": user[1], "password": "wrong"})
        expect(status == 401, "login with a wrong password: HTTP %d %s" % (status, body))
        STATS.count_ok("auth")
        return
    pair = await login(ctx, user[1], user[2])
    status, body = await http(port, "GET", "/auth/me", token=pair["access_token"])
    expect(status == 200 and body.get("user_id") == user[0], "me: HTTP %d %s" % (status, body))
    status, body = await http(port, "POST", "/auth/refresh",
                              {"refresh_token": pair["refresh_token"]})
    if status == 503:
        STATS.count_expected("auth", "soak-auth-503")
        access = pair["access_token"]
    else:
        expect(status == 200 and "access_token" in body, "refresh: HTTP %d %s" % (status, body))
        STATS.revocations += 1
        access = body["access_token"]
    status, body = await http(port, "POST", "/auth/logout", token=access)
    expect(status == 200, "logout: HTTP %d %s" % (status, body))
    STATS.revocations += 1
    status, body = await http(port, "GET", "/auth/me", token=access)
    expect(status == 401, "me after logout: HTTP %d %s" % (status, body))
    STATS.count_ok("auth")


async def redis_worker(ctx, idx, nworkers):
    n = idx
    value = b"v" * VALUE_SIZE
    while not ctx.stop.is_set():
        n += nworkers
        await guarded("redis", redis_once(ctx, n, value))
        await asyncio.sleep(ctx.pause)


async def redis_once(ctx, n, value):
    c = await Resp.open(ctx.ports["redis"])
    try:
        key = "soak:k:%d" % (n % REDIS_KEYS)
        expect(await c.cmd("SET", key, value) == "OK", "SET")
        expect(await c.cmd("GET", key) == value, "GET %s: not what was SET" % key)
        lst = "soak:l:%d" % (n % REDIS_LISTS)
        try:
            reply = await c.cmd("LPUSH", lst, n)
        except (EOFError, ConnectionError):   # the abort rule cuts the connection
            STATS.count_expected("redis", "soak-redis-abort")
            return
        expect(isinstance(reply, int), "LPUSH: %r" % reply)
        expect(await c.cmd("LTRIM", lst, 0, LIST_LEN - 1) == "OK", "LTRIM")
        reply = await c.cmd("GET", "soak:err:%d" % n)
        if isinstance(reply, RespError):
            expect(str(reply).startswith("LOADING"), "GET soak:err: -%s" % reply)
            STATS.count_expected("redis", "soak-redis-error")
        else:
            expect(reply is None, "GET soak:err: %r" % reply)
        tmp = "soak:tmp:%d" % n
        expect(await c.cmd("SET", tmp, n) == "OK", "SET tmp")
        expect(await c.cmd("DEL", tmp) == 1, "DEL tmp")
        if n % 20 == 0:        # the chat histories: the latest HISTORY_KEEP entries of each
            for u in USERS:
                for i in range(WS_PER_USER):
                    key = "thread:soak-%s-%d:messages" % (u[0], i)
                    expect(await c.cmd("LTRIM", key, -HISTORY_KEEP, -1) == "OK", "LTRIM history")
        expect(await c.cmd("QUIT") == "OK", "QUIT")
        expect(await c.r.read() == b"", "QUIT: connection still open")
        STATS.count_ok("redis")
    finally:
        c.close()


async def control_worker(ctx, state):
    port = ctx.ports["control"]
    while not ctx.stop.is_set():
        await guarded("control", control_once(ctx, port, state))
        await asyncio.sleep(1.0)


async def control_once(ctx, port, state):
    r, w = await asyncio.open_connection(HOST, port)
    try:
        w.write(("GET /journal?since=%d&limit=5000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 % state["since"]).encode())
        raw = await r.read()
    finally:
        w.close()
    header, _, body = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    expect(lines[0].split()[1] == "200", "journal: %s" % lines[0])
    hdr = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    if "chunked" in hdr.get("transfer-encoding", ""):
        body = dechunk(body)
    for line in body.splitlines():
        try:
            json.loads(line)
        except ValueError:
            raise Unexpected("journal line not JSON: %r" % line[:200])
        state["lines_read"] += 1
    if "x-journal-last" in hdr and body:
        state["since"] = int(hdr["x-journal-last"])
    for path in ("/status", "/faults", "/metrics"):
        status, _ = await http(port, "GET", path)
        expect(status == 200, "control %s: HTTP %d" % (path, status))
    STATS.count_ok("control")


# ---- the server, sampling -----------------------------------------------------------------------

def proc_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def control_get(ports, path, timeout=10):
    with urllib.request.urlopen("http://%s:%d%s" % (HOST, ports["control"], path),
                                timeout=timeout) as r:
        return json.loads(r.read())


def control_post(ports, path, body):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, ports["control"], path),
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def stored_data(ports, journal_path, journal_lines):
    """Bytes of data stagesim holds on purpose, estimated from what it holds:
    - Redis: the soak's keys and lists and the chat histories, key and value bytes as STRLEN,
      LLEN and LRANGE tell them (no per-key overhead: the key count is constant after warm-up);
    - the journal ring: the lines kept in memory (at most 65536) times the mean line length of the
      file so far, plus malloc's overhead (16 B) and the ring's pointer (8 B) per line;
    - the auth store's revoked set (docs/contract.md §3: a logout revokes the access token, a
      refresh the refresh token, none of which expires in a 30 min run): an open-addressing
      table of 32 B slots, at most half full, doubled as it grows, plus each 16-hex jti (32 B).
    Also INFO memory's used_memory: the whole process's malloc heap (mallinfo2), observed."""
    c = await Resp.open(ports["redis"])
    try:
        info = (await c.cmd("INFO", "memory")).decode()
        keys = await c.cmd("DBSIZE")
        cmds = [("STRLEN", "soak:k:%d" % i) for i in range(REDIS_KEYS)]
        cmds += [("LRANGE", "soak:l:%d" % i, 0, -1) for i in range(REDIS_LISTS)]
        cmds += [("LRANGE", "thread:soak-%s-%d:messages" % (u[0], i), 0, -1)
                 for u in USERS for i in range(WS_PER_USER)]
        c.w.write(b"".join(resp_encode(*cmd) for cmd in cmds))
        redis = 0
        for cmd in cmds:
            reply = await c.read()
            if cmd[0] == "STRLEN":
                redis += reply + len(cmd[1]) if reply else 0
            elif reply:
                redis += len(cmd[1]) + sum(len(x) for x in reply)
        await c.cmd("QUIT")
    finally:
        c.close()
    heap = int([l for l in info.split("\r\n") if l.startswith("used_memory:")][0].split(":")[1])
    size = os.path.getsize(journal_path)
    mean = size / journal_lines if journal_lines else 0
    ring = int(min(journal_lines, JOURNAL_RING) * (mean + 16 + 8))
    n = STATS.revocations
    cap = 0
    while n * 2 > cap:
        cap = cap * 2 if cap else 16
    revoked = cap * 32 + n * 32
    return {"heap_bytes": heap, "redis_keys": keys, "redis_bytes": redis,
            "journal_ring_bytes": ring, "revoked": n, "revoked_bytes": revoked,
            "stored_bytes": redis + ring + revoked}


async def sample(ctx, pid, journal_path, t0):
    st = await asyncio.get_running_loop().run_in_executor(None, control_get, ctx.ports, "/status")
    s = {"t_s": round(time.monotonic() - t0, 1), "rss_kib": proc_kib(pid, "VmRSS"),
         "fds": fd_count(pid), "journal_lines": st["journal_lines"]}
    s.update(await stored_data(ctx.ports, journal_path, st["journal_lines"]))
    s["outcomes"] = STATS.snapshot()
    return s


def start_stagesim(binary, outdir):
    journal = os.path.join(outdir, "journal.ndjson")
    err = open(os.path.join(outdir, "stagesim.err"), "w")
    p = subprocess.Popen([binary, "up", "--backend-port", "0", "--auth-port", "0",
                          "--redis-port", "0", "--control-port", "0", "--journal", journal],
                         stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, JWT_SECRET_STAGING=SECRET), text=True,
                         start_new_session=True)
    err.close()
    line = p.stdout.readline()       # blocks until READY or the process ends
    if not line.startswith("READY "):
        p.wait(10)
        raise RuntimeError("stagesim did not print READY (exit %s); see %s/stagesim.err"
                           % (p.returncode, outdir))
    threading.Thread(target=p.stdout.read, daemon=True).start()   # a full pipe would block it
    return p, json.loads(line[len("READY "):]), journal


def poll(pred, timeout, step=0.1):
    """Polls pred until true or timeout; returns (value, seconds it took)."""
    t0 = time.monotonic()
    while True:
        v = pred()
        if v or time.monotonic() - t0 > timeout:
            return v, round(time.monotonic() - t0, 2)
        time.sleep(step)


def check_journal(path, api_count, api_tail):
    """Every line JSON; the lines the API counted before SIGTERM all there, the last 1000 of them
    byte for byte as the API served them; what shutdown added after them, by point."""
    lines = bad = 0
    rules = {}
    first_bad = None
    tail_from, tail = api_tail
    tail_same = 0
    after = {}
    with open(path, "rb") as f:
        for raw in f:
            lines += 1
            if tail_from < lines <= tail_from + len(tail):
                tail_same += raw.rstrip(b"\n").decode("utf-8", "replace") == tail[lines - tail_from - 1]
            try:
                j = json.loads(raw)
            except ValueError:
                bad += 1
                first_bad = first_bad or raw[:200]
                continue
            if "rule" in j:
                rules[j["rule"]] = rules.get(j["rule"], 0) + 1
            if lines > api_count:
                k = "%s %s %s" % (j.get("svc"), j.get("proto"), j.get("point"))
                after[k] = after.get(k, 0) + 1
    return {"lines": lines, "not_json": bad, "api_tail_lines": len(tail),
            "api_tail_same": tail_same, "after_api_count": after, "first_bad": first_bad and first_bad.decode(
        "utf-8", "replace"), "rule_lines": rules, "ends_with_newline": ends_with_newline(path)}


def ends_with_newline(path):
    with open(path, "rb") as f:
        f.seek(0, 2)
        if f.tell() == 0:
            return True
        f.seek(-1, 2)
        return f.read(1) == b"\n"


# ---- the run ------------------------------------------------------------------------------------

async def soak(args, p, ports, journal):
    pid = p.pid
    t0 = time.monotonic()
    res = {"ports": ports, "rules": RULES}
    # Baseline: the backend's own Redis client is connected, and two readings agree.
    poll(lambda: control_get(ports, "/status")["services"]["redis_client"]["state"] == "connected", 10)
    prev = [None]

    def steady():
        n = fd_count(pid)
        same, prev[0] = n == prev[0], n
        return same
    poll(steady, 10)
    res["fds_baseline"] = prev[0]
    res["rss_baseline_kib"] = proc_kib(pid, "VmRSS")
    control_post(ports, "/faults", RULES)

    stop = asyncio.Event()
    ctx = Ctx(ports, stop, args.pause_ms / 1000, args.auth_pause_ms / 1000)
    jstate = {"since": 0, "lines_read": 0}
    tasks = [asyncio.ensure_future(ws_worker(ctx, u, i)) for u in USERS for i in range(WS_PER_USER)]
    tasks += [asyncio.ensure_future(http_worker(ctx, {})) for _ in range(2)]
    tasks += [asyncio.ensure_future(auth_worker(ctx))]
    tasks += [asyncio.ensure_future(redis_worker(ctx, i, 2)) for i in range(2)]
    tasks += [asyncio.ensure_future(control_worker(ctx, jstate))]

    duration = args.minutes * 60
    samples = [await sample(ctx, pid, journal, t0)]
    print("soak: %d min on %s, samples every %d s" % (args.minutes, ports, args.interval),
          flush=True)
    start = time.monotonic()
    while time.monotonic() - start < duration:
        await asyncio.sleep(min(args.interval, duration - (time.monotonic() - start)))
        crashed = [t for t in tasks if t.done()]
        if crashed:
            raise RuntimeError("a client task ended: %r" % crashed[0].exception())
        s = await sample(ctx, pid, journal, t0)
        samples.append(s)
        print("  %6.0f s  rss %6d KiB  heap %6s KiB  fds %4d  stored %6s KiB  journal %8d  "
              "unexpected %d" % (s["t_s"], s["rss_kib"], kib(s["heap_bytes"]), s["fds"],
                                 kib(s["stored_bytes"]), s["journal_lines"],
            sum(s["outcomes"]["unexpected"].values())), flush=True)
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=40)
    for t in pending:
        t.cancel()
    res["tasks_cancelled"] = len(pending)
    res["samples"] = samples
    res["outcomes"] = STATS.snapshot()
    res["unexpected_examples"] = STATS.examples
    res["journal_lines_read_via_api"] = jstate["lines_read"]

    # After the clients closed: descriptors back to the baseline, polled.
    _, waited = poll(lambda: fd_count(pid) <= res["fds_baseline"], 30)
    res["fds_after"] = fd_count(pid)
    res["fds_wait_s"] = waited
    res["rss_after_close_kib"] = proc_kib(pid, "VmRSS")
    res["rss_peak_kib"] = proc_kib(pid, "VmHWM")
    res["faults_api"] = {f["id"]: {"fired": f["fired"], "matched": f["matched"]}
                         for f in control_get(ports, "/faults")["faults"]}
    res["journal_lines_api"] = n = control_get(ports, "/status")["journal_lines"]
    tail_from = max(0, n - 1000)
    with urllib.request.urlopen("http://%s:%d/journal?since=%d" % (HOST, ports["control"],
                                                                  tail_from), timeout=10) as r:
        res["journal_api_tail"] = [tail_from, r.read().decode().splitlines()]
    res["stagesim_cpu_s"] = cpu_seconds(pid)
    res["churn_s"] = round(time.monotonic() - t0, 1)
    return res


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def analyse(res, args):
    s = res["samples"]
    warm_t = 0.2 * args.minutes * 60
    warm = next(x for x in s if x["t_s"] - s[0]["t_s"] >= warm_t) if len(s) > 1 else s[0]
    last = s[-1]
    d_rss = (last["rss_kib"] - warm["rss_kib"]) * 1024
    d_stored = last["stored_bytes"] - warm["stored_bytes"]
    drift = (d_rss - d_stored) / (warm["rss_kib"] * 1024)
    res["warmup_sample"] = warm
    res["drift"] = {"rss_growth_bytes": d_rss, "stored_growth_bytes": d_stored,
                    "heap_growth_bytes": last["heap_bytes"] - warm["heap_bytes"],
                    "drift_fraction": drift, "target": 0.05, "held": drift <= 0.05}
    j = res["journal_file"]
    api_fired = {k: v["fired"] for k, v in res["faults_api"].items()}
    journal_ok = (res["exit_status"] == 0 and j["not_json"] == 0 and j["ends_with_newline"]
                  and j["lines"] >= res["journal_lines_api"]
                  and j["api_tail_same"] == j["api_tail_lines"]
                  and all(j["rule_lines"].get(k, 0) == v for k, v in api_fired.items()))
    res["targets"] = {
        "rss_drift_le_5pct": res["drift"]["held"],
        "fds_back_to_baseline": res["fds_after"] <= res["fds_baseline"],
        "journal_complete_after_sigterm": journal_ok,
        "no_unexpected_client_errors": not res["outcomes"]["unexpected"],
    }


def kib(b):
    return "%.0f" % (b / 1024)


def report(res, args):
    s, w, last = res["samples"], res["warmup_sample"], res["samples"][-1]
    t, d, j = res["targets"], res["drift"], res["journal_file"]
    yes = lambda b: "yes" if b else "**no**"
    L = ["# Soak: %s min of churn on every service, faults firing" % args.minutes, "",
         "Machine: %s; load before %s, after %s; commit %s; command `%s`." % (
             res["machine"], res["load_before"], res["load_after"], res["commit"],
             res["command"]), "",
         "| target | figure | held |", "|---|---|---|",
         "| RSS drift after warm-up ≤ 5 %% beyond the data stored | RSS %+.0f KiB (malloc heap "
         "%+.0f KiB), stored data %+.0f KiB, drift %+.2f %% of %d KiB | %s |" % (
             d["rss_growth_bytes"] / 1024, d["heap_growth_bytes"] / 1024,
             d["stored_growth_bytes"] / 1024,
             100 * d["drift_fraction"], w["rss_kib"], yes(t["rss_drift_le_5pct"])),
         "| descriptors back to the baseline | baseline %d, in churn %d–%d, after close %d "
         "(polled %.2f s) | %s |" % (
             res["fds_baseline"], min(x["fds"] for x in s[1:] or s),
             max(x["fds"] for x in s), res["fds_after"], res["fds_wait_s"],
             yes(t["fds_back_to_baseline"])),
         "| journal complete and parseable after SIGTERM | exit %s; %d lines, %d not JSON; API "
         "counted %d before SIGTERM, its last %d = the file's: %s; added by shutdown: %s; "
         "rule lines = API firings: %s | %s |" % (
             res["exit_status"], j["lines"], j["not_json"], res["journal_lines_api"],
             j["api_tail_lines"], yes(j["api_tail_same"] == j["api_tail_lines"]),
             ", ".join("%d %s" % (v, k) for k, v in j["after_api_count"].items()) or "none",
             yes(all(j["rule_lines"].get(k, 0) == v["fired"]
                     for k, v in res["faults_api"].items())),
             yes(t["journal_complete_after_sigterm"])),
         "| no unexpected client errors | %d | %s |" % (
             sum(res["outcomes"]["unexpected"].values()), yes(t["no_unexpected_client_errors"])),
         "", "Load: stagesim used %.0f %% of one core over %.0f s of churn (its CPU time / wall "
         "time); the clients are one Python process beside it." % (
             100 * res["stagesim_cpu_s"] / res["churn_s"], res["churn_s"]),
         "", "Memory: RSS %d KiB after start, %d KiB at warm-up (%.0f s), %d KiB at the end, "
         "%d KiB after the clients closed, peak %d KiB. Stored data (estimated) at warm-up / "
         "end: Redis %s / %s KiB (%d / %d keys), journal ring %s / %s KiB (%d / %d lines), "
         "revoked tokens %s / %s KiB (%d / %d). malloc heap in use (INFO used_memory) %s / %s "
         "KiB." % (
             res["rss_baseline_kib"], w["rss_kib"], w["t_s"], last["rss_kib"],
             res["rss_after_close_kib"], res["rss_peak_kib"], kib(w["redis_bytes"]),
             kib(last["redis_bytes"]), w["redis_keys"], last["redis_keys"],
             kib(w["journal_ring_bytes"]), kib(last["journal_ring_bytes"]),
             min(w["journal_lines"], JOURNAL_RING), min(last["journal_lines"], JOURNAL_RING),
             kib(w["revoked_bytes"]), kib(last["revoked_bytes"]), w["revoked"], last["revoked"],
             kib(w["heap_bytes"]), kib(last["heap_bytes"])), "",
         "| service | ok | expected (fault) | unexpected |", "|---|---:|---|---:|"]
    o = res["outcomes"]
    for svc in ("ws", "http", "auth", "redis", "control"):
        exp = ", ".join("%s %d" % (k.split()[1], v) for k, v in sorted(o["expected"].items())
                        if k.startswith(svc + " ")) or "—"
        une = sum(v for k, v in o["unexpected"].items() if k.startswith(svc + " "))
        L.append("| %s | %d | %s | %d |" % (svc, o["ok"].get(svc, 0), exp, une))
    L += ["", "| rule | fired (API) | journal lines | seen by the clients |", "|---|---:|---:|---:|"]
    for k, v in res["faults_api"].items():
        seen = sum(n for key, n in o["expected"].items() if key.endswith(" " + k))
        L.append("| %s | %d | %d | %s |" % (k, v["fired"], j["rule_lines"].get(k, 0),
                                            seen if k != "soak-health-delay" else "(a 200, later)"))
    L += ["", "Samples (every %d s):" % args.interval, "",
          "| t s | RSS KiB | heap KiB | fds | stored KiB | journal lines | ok | expected | "
          "unexpected |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in s:
        oc = x["outcomes"]
        L.append("| %.0f | %d | %s | %d | %s | %d | %d | %d | %d |" % (
            x["t_s"], x["rss_kib"], kib(x["heap_bytes"]), x["fds"], kib(x["stored_bytes"]),
            x["journal_lines"],
            sum(oc["ok"].values()), sum(oc["expected"].values()),
            sum(oc["unexpected"].values())))
    if res["unexpected_examples"]:
        L += ["", "First unexpected errors:", ""] + ["- " + e for e in res["unexpected_examples"]]
    return "\n".join(L) + "\n"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stagesim", default=os.path.join(ROOT, "build", "stagesim"))
    ap.add_argument("--minutes", type=float, default=None, help="default 30, --quick 2")
    ap.add_argument("--quick", action="store_true", help="2 minutes")
    ap.add_argument("--interval", type=int, default=10, help="seconds between samples")
    ap.add_argument("--pause-ms", type=int, default=10,
                    help="pause of each client between iterations (keeps the load civil)")
    ap.add_argument("--auth-pause-ms", type=int, default=100,
                    help="the auth client's pause: each cycle revokes two tokens the store keeps")
    ap.add_argument("--keep-journal", action="store_true",
                    help="keep the journal file (else removed once checked)")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "out"))
    args = ap.parse_args()
    if args.minutes is None:
        args.minutes = 2 if args.quick else 30
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = os.path.join(args.out, "soak-" + stamp)
    os.makedirs(out, exist_ok=True)

    dirty = sh("git status --porcelain -- sim faults include meson.build bench")
    meta = {"machine": "nproc %s, %s" % (os.cpu_count(), sh("uname -sr")),
            "load_before": "%.2f %.2f %.2f" % os.getloadavg(),
            "commit": sh("git rev-parse --short HEAD") + (" (+ uncommitted)" if dirty else ""),
            "command": " ".join(["bench/soak.py"] + sys.argv[1:]), "started_utc": stamp}
    p, ports, journal = start_stagesim(args.stagesim, out)
    try:
        res = asyncio.run(soak(args, p, ports, journal))
    except BaseException:
        p.kill()
        p.wait()
        raise
    p.send_signal(signal.SIGTERM)
    try:
        res["exit_status"] = p.wait(30)
    except subprocess.TimeoutExpired:
        p.kill()
        res["exit_status"] = "none after 30 s (killed)"
    res.update(meta)
    res["load_after"] = "%.2f %.2f %.2f" % os.getloadavg()
    res["journal_file"] = check_journal(journal, res["journal_lines_api"], res.pop("journal_api_tail"))
    if not args.keep_journal:
        os.remove(journal)       # 100 B a line, a few hundred MB for 30 min
    analyse(res, args)
    md = report(res, args)
    with open(os.path.join(out, "soak.md"), "w") as f:
        f.write(md)
    with open(os.path.join(out, "soak.json"), "w") as f:
        json.dump(res, f, indent=1)
    shutil.copy(os.path.join(out, "soak.md"), os.path.join(args.out, "soak.md"))
    shutil.copy(os.path.join(out, "soak.json"), os.path.join(args.out, "soak.json"))
    print(md)
    for k, v in res["targets"].items():
        print("target %-32s %s" % (k, "held" if v else "NOT held"))
    print("written: %s/soak.md, soak.json" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
