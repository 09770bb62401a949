"""Redis limits and fault actions on a live stagesim, through redis-py and raw
sockets: maxclients, the pub/sub output buffer limit, a slow reader, and the
redis.accept / redis.command rules of the control API (refuse, hang, partial,
error, drop). Synchronisation goes through GET /journal/wait and polling
with deadlines, never fixed sleeps."""
import asyncio
import json
import os
import socket
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import redis
import websockets

from stagesim import Stagesim
from support import scenario_path


def control(sim, method, path, body=None):
    """One control API request; returns (status, decoded JSON or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(sim.control_url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None


def add_rule(test, sim, rule):
    status, body = control(sim, "POST", "/faults", rule)
    test.assertEqual(status, 201, body)


def wait_fired(test, sim, rule_id, count=1, timeout_ms=5000):
    status, body = control(sim, "GET", "/journal/wait?rule=%s&count=%d&timeout_ms=%d"
                           % (rule_id, count, timeout_ms))
    test.assertEqual(status, 200, body)
    return body


def poll(pred, timeout=5.0, step=0.02):
    """Calls pred until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            return v
        time.sleep(step)


def stop_clean(test, sim):
    """Stops stagesim; it must exit 0 with no sanitizer report (ASan builds)."""
    code = sim.stop()
    test.assertEqual(code, 0, sim.stderr[-2000:])
    for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        test.assertNotIn(bad, sim.stderr)


def client(sim, **kw):
    kw.setdefault("socket_timeout", 5)
    return redis.Redis(host="127.0.0.1", port=sim.redis_port, **kw)


def recv_until_close(sock, timeout=5.0):
    """Everything the server sends until it closes (or resets) the socket."""
    sock.settimeout(timeout)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def client_entry(r, name):
    for c in r.client_list():
        if c.get("name") == name:
            return c
    return None


class LimitsTest(unittest.TestCase):
    def setUp(self):
        self.sim = Stagesim()
        self.addCleanup(stop_clean, self, self.sim)
        self.r = client(self.sim)
        self.r.ping()

    def test_maxclients(self):
        r = self.r
        # the backend's history client may still be connecting: let the
        # count settle (it is one of the clients counted against maxclients)
        poll(lambda: len(r.client_list()) >= 2, timeout=3)
        n = len(r.client_list())
        self.assertTrue(r.config_set("maxclients", n + 1))
        second = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        second.sendall(b"PING\r\n")
        self.assertEqual(second.recv(100), b"+PONG\r\n")
        # over the limit: the error, then the close, as Redis does it
        third = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        self.assertEqual(recv_until_close(third), b"-ERR max number of clients reached\r\n")
        third.close()
        # (redis-py reports the error text or, when the close wins the race,
        # "Connection not ready"; Redis does the same)
        with self.assertRaises(redis.exceptions.ConnectionError):
            client(self.sim).ping()
        self.assertGreaterEqual(r.info("stats")["rejected_connections"], 2)
        # a slot frees up when a client leaves
        second.close()
        self.assertTrue(poll(lambda: len(r.client_list()) <= n))
        self.assertTrue(client(self.sim).ping())

    def test_pubsub_output_buffer_limit(self):
        r = self.r
        self.assertTrue(r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0"))
        self.assertIn("pubsub 1048576", r.config_get("client-output-buffer-limit")
                      ["client-output-buffer-limit"])
        sub = socket.socket()
        sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.connect(("127.0.0.1", self.sim.redis_port))
        sub.settimeout(5)
        sub.sendall(b"SUBSCRIBE news\r\n")
        want = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        got = b""
        while len(got) < len(want):
            got += sub.recv(len(want) - len(got))
        self.assertEqual(got, want)
        # the subscriber never reads again: publish until it is cut off
        msg = b"m" * 65536
        receivers = None
        for _ in range(4000):        # 256 MiB at most; the limit is 1 MiB
            receivers = r.publish("news", msg)
            if receivers == 0:
                break
        self.assertEqual(receivers, 0, "the subscriber was never disconnected")
        self.assertEqual(r.pubsub_numsub("news"), [(b"news", 0)])
        self.assertFalse([c for c in r.client_list() if c.get("flags") == "P"])
        # the socket ends (after what the kernel had buffered)
        recv_until_close(sub)
        sub.close()

    def test_slow_reader(self):
        r = self.r
        big = b"v" * (1024 * 1024)
        r.set("big", big)
        base = rss_kib(self.sim.proc.pid)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect(("127.0.0.1", self.sim.redis_port))
        n = 300                      # 300 MiB of replies, never read for now
        slow.sendall(b"CLIENT SETNAME slow\r\n" + b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n" * n)
        # the server fills its output buffer up to the pause, then waits
        entry = poll(lambda: (lambda e: e if e and e["cmd"] == "get" and int(e["omem"]) >=
                              4 * 1024 * 1024 else None)(client_entry(r, "slow")))
        self.assertTrue(entry, "the slow reader's output never built up")
        processed = r.info("stats")["total_commands_processed"]
        deadline = time.monotonic() + 0.5
        peak_omem = 0
        ours = 0
        while time.monotonic() < deadline:   # it stays bounded while nobody reads
            e = client_entry(r, "slow")
            peak_omem = max(peak_omem, int(e["omem"]))
            self.assertTrue(r.ping())        # and others are still served
            ours += 2
            time.sleep(0.02)
        self.assertLess(peak_omem, 32 * 1024 * 1024)
        self.assertLess(rss_kib(self.sim.proc.pid) - base, 100 * 1024)
        # the slow reader's GETs are not run while it does not read
        others = r.info("stats")["total_commands_processed"] - processed - ours
        self.assertLess(others, 20)
        # reading resumes the rest: every reply arrives, intact
        one = b"$1048576\r\n" + big + b"\r\n"
        want = b"+OK\r\n" + one * n
        slow.settimeout(10)
        got = bytearray()
        while len(got) < len(want):
            chunk = slow.recv(1 << 20)
            if not chunk:
                break
            got += chunk
        slow.close()
        self.assertEqual(len(got), len(want))
        self.assertTrue(got == want)


class FaultRulesTest(unittest.TestCase):
    def setUp(self):
        self.sim = Stagesim()
        self.addCleanup(stop_clean, self, self.sim)
        # The backend's own Redis client connects at start-up, in its own
        # time: a rule on "the next accept" must not catch it instead of the
        # test's client, so wait until it is in.
        ok = poll(lambda: control(self.sim, "GET", "/status")[1]["redis"] == "connected",
                  timeout=10.0, step=0.02)
        self.assertTrue(ok, "the backend's Redis client never connected")

    def refused(self):
        try:
            socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=2).close()
            return False
        except ConnectionRefusedError:
            return True

    def test_refuse_then_listen_again(self):
        add_rule(self, self.sim, {"id": "r", "on": "redis.accept", "nth": 1,
                                  "action": {"kind": "refuse", "ms": 1000}})
        with self.assertRaises(redis.exceptions.ConnectionError):
            client(self.sim).ping()         # the connection that triggered it is closed
        body = wait_fired(self, self.sim, "r")
        self.assertEqual(body["fired"], 1)
        fired_at = time.monotonic()
        self.assertTrue(self.refused(), "the port still accepts right after refuse")
        with self.assertRaises(redis.exceptions.ConnectionError):
            client(self.sim).ping()
        # listening again after about 1 s
        ok = poll(lambda: not self.refused(), timeout=5.0, step=0.05)
        self.assertTrue(ok, "still refusing after 5 s")
        self.assertGreater(time.monotonic() - fired_at, 0.5)
        self.assertTrue(client(self.sim).ping())

    def test_accept_but_never_answer(self):
        add_rule(self, self.sim, {"id": "h", "on": "redis.accept", "nth": 1,
                                  "action": {"kind": "hang"}})
        hung = client(self.sim, socket_timeout=0.5)
        with self.assertRaises(redis.exceptions.TimeoutError):
            hung.ping()
        wait_fired(self, self.sim, "h")
        self.assertTrue(client(self.sim).ping())   # only that connection hangs

    def test_partial_reply_then_close(self):
        r = client(self.sim)
        r.set("k", "hello world " * 20)
        add_rule(self, self.sim, {"id": "p", "on": "redis.command", "match": {"name": "get"},
                                  "action": {"kind": "partial"}})
        with self.assertRaises(redis.exceptions.ConnectionError):
            client(self.sim).get("k")
        wait_fired(self, self.sim, "p")
        # on the wire: a strict prefix of the reply, then the close
        s = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        s.sendall(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        got = recv_until_close(s)
        s.close()
        full = b"$240\r\n" + b"hello world " * 20 + b"\r\n"
        self.assertTrue(0 < len(got) < len(full) and full.startswith(got), got)
        self.assertEqual(r.strlen("k"), 240)      # other commands unaffected

    def test_error_replies(self):
        add_rule(self, self.sim, [
            {"id": "ro", "on": "redis.command", "match": {"name": "set"},
             "action": {"kind": "error", "text": "READONLY You can't write against a read only replica."}},
            {"id": "oom", "on": "redis.command", "match": {"name": "incr"},
             "action": {"kind": "error",
                        "text": "OOM command not allowed when used memory > 'maxmemory'."}},
        ])
        r = client(self.sim)
        with self.assertRaises(redis.exceptions.ReadOnlyError):
            r.set("a", "1")
        with self.assertRaises(redis.exceptions.ResponseError) as cm:
            r.execute_command("INCR", "n")    # (r.incr sends INCRBY)
        self.assertIn("used memory > 'maxmemory'", str(cm.exception))
        self.assertTrue(r.ping())                 # the connection stays usable
        s = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        s.sendall(b"SET a 1\r\nINCR n\r\nGET a\r\n")
        want = (b"-READONLY You can't write against a read only replica.\r\n"
                b"-OOM command not allowed when used memory > 'maxmemory'.\r\n$-1\r\n")
        got = b""
        while len(got) < len(want):
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        s.close()
        self.assertEqual(got, want)

    def test_never_reply(self):
        r = client(self.sim)
        r.set("k", "v")
        add_rule(self, self.sim, {"id": "d", "on": "redis.command", "match": {"name": "get"},
                                  "action": {"kind": "drop"}})
        with self.assertRaises(redis.exceptions.TimeoutError):
            client(self.sim, socket_timeout=0.5).get("k")
        wait_fired(self, self.sim, "d")
        # the dropped command is swallowed, later ones on that connection answer
        s = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        s.sendall(b"GET k\r\nPING\r\n")
        self.assertEqual(s.recv(100), b"+PONG\r\n")
        s.close()
        self.assertEqual(r.strlen("k"), 1)


class HistoryAtShutdown(unittest.TestCase):
    def test_sigterm_waits_for_the_last_appends(self):
        """A run completed just before SIGTERM: its history appends are still on their way
        to Redis (the first held 1.5 s by a rule, the second behind it; under the history's
        2 s command timeout). Shutdown waits for the answers instead of dropping them
        ("N appends lost with the connection (shutting down)")."""
        sim = Stagesim()
        try:
            add_rule(self, sim, {"id": "slow-rpush", "on": "redis.command", "times": 1,
                                 "match": {"name": "rpush"},
                                 "action": {"kind": "delay", "ms": 1500}})

            async def run():
                async with websockets.connect(sim.ws_url, open_timeout=10) as ws:
                    await asyncio.wait_for(ws.recv(), 10)   # the welcome
                    await ws.send(json.dumps({"type": "user_message", "message": "keep me"}))
                    while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != \
                            "agent_completed":
                        pass
            asyncio.run(run())
            wait_fired(self, sim, "slow-rpush")
            stop_clean(self, sim)
            self.assertIn("appends still waiting for Redis", sim.stderr)
            self.assertNotIn("append failed", sim.stderr)
            self.assertNotIn("lost with the connection", sim.stderr)
        finally:
            sim.stop()

    def test_appends_lost_to_a_silent_redis_are_one_line(self):
        """Redis goes silent (every RPUSH hangs) with appends in flight: the command
        timeout drops the connection, and the appends it took are reported in one
        line with their number, not one line each (a silent Redis under load wrote
        339 048 lines). The command timeout is 6 s here, so that the three runs'
        appends are all in flight when it comes, however slow the machine."""
        with open(scenario_path("golden-path.json")) as f:
            sc = json.load(f)
        sc.pop("expect", None)
        sc["redis"] = dict(sc.get("redis", {}), command_timeout_ms=6000)
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(sc, f)
        sim = Stagesim(scenario=path)
        try:
            add_rule(self, sim, {"id": "silent-rpush", "on": "redis.command",
                                 "match": {"name": "rpush"}, "action": {"kind": "hang"}})

            async def run():
                async with websockets.connect(sim.ws_url, open_timeout=10) as ws:
                    await asyncio.wait_for(ws.recv(), 10)   # the welcome
                    for i in range(3):
                        await ws.send(json.dumps({"type": "user_message", "message": "m%d" % i}))
                        while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != \
                                "agent_completed":
                            pass
            asyncio.run(run())
            wait_fired(self, sim, "silent-rpush")   # the first: the connection answers no more
            self.assertTrue(poll(lambda: "lost with the connection" in sim.stderr, timeout=20),
                            "the command timeout never came: " + sim.stderr[-2000:])
            stop_clean(self, sim)
            lost = [l for l in sim.stderr.splitlines() if "lost with the connection" in l]
            self.assertEqual(len(lost), 1, sim.stderr[-3000:])
            n = int(lost[0].split("redis history: ")[1].split()[0])
            self.assertGreaterEqual(n, 3, lost[0])
            self.assertIn("(Timeout reading from socket)", lost[0])
            self.assertNotIn("append failed", sim.stderr)
        finally:
            sim.stop()
            os.unlink(path)

if __name__ == "__main__":
    unittest.main()
