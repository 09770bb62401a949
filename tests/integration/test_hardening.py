"""What a client, or the machine, does must not wedge, flood or fool
stagesim (issue: hardening). Each test here fails without the fix it
guards: half-sent request heads cost no CPU; running out of file
descriptors makes every listener pause and come back by itself, with the
service's own refusal and one log line per episode."""
import asyncio
import json
import os
import resource
import socket
import subprocess
import tempfile
import time
import unittest

import httpx
import redis
import websockets

from stagesim import Stagesim
from support import STAGESIM, login, wait_for


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StalledHeads(unittest.TestCase):
    def test_half_sent_heads_cost_no_cpu(self):
        with Stagesim() as sim:
            stalled = []
            try:
                for _ in range(300):
                    s = socket.create_connection(("127.0.0.1", sim.backend_port), timeout=5)
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")   # no end of head
                    stalled.append(s)
                # Let every one be accepted and read (a request behind them
                # answers), then measure the CPU the server uses while they wait.
                self.assertEqual(httpx.get(sim.backend_url + "/health", timeout=10).status_code, 200)
                before, t0 = cpu_seconds(sim.proc.pid), time.monotonic()
                deadline = t0 + 2.0
                while time.monotonic() < deadline:
                    r = httpx.get(sim.backend_url + "/health", timeout=10)   # others still served
                    self.assertEqual(r.status_code, 200)
                    time.sleep(0.2)   # a pace for the probe requests, not a synchronisation
                used = cpu_seconds(sim.proc.pid) - before
                # Polling 300 heads every 5 ms took most of a core; waiting
                # for readability takes next to nothing (the probes' cost).
                self.assertLess(used, 0.3, "%.2f s of CPU in 2 s for 300 stalled heads" % used)
                # A head that is finished later is answered.
                stalled[0].sendall(b"\r\n")
                stalled[0].settimeout(5)
                self.assertTrue(stalled[0].recv(64).startswith(b"HTTP/1.1 200"))
            finally:
                for s in stalled:
                    s.close()


class OutOfDescriptors(unittest.TestCase):
    """With the descriptor limit forced low (prlimit), idle clients fill it;
    no listener spins or floods its log meanwhile, the clients over it get
    the service's refusal, and once they go every service answers again.
    The connection caps would refuse them all before the descriptors ran
    out (ConnectionCaps): --max-clients lifts them past the limit here."""

    LIMIT = 128

    def test_fill_and_release(self):
        sim = Stagesim(args=["--max-clients", "10000"], wrap=["prlimit", "--nofile=%d" % self.LIMIT])
        held = []
        try:
            with open("/proc/%d/limits" % sim.proc.pid) as f:
                self.assertIn("Max open files            %d" % self.LIMIT, f.read())
            ports = [sim.backend_port, sim.redis_port, sim.auth_port]
            # Fill: far more clients than descriptors, spread over the services.
            refusals = {"redis": 0, "http": 0}
            for i in range(3 * self.LIMIT):
                port = ports[i % 3]
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                held.append((port, s))
            # The ones that got in are idle; the others were refused in
            # words where a reserve descriptor allowed it, or are queued.
            for port, s in held:
                s.settimeout(0.05)
                try:
                    data = s.recv(256)
                except (socket.timeout, ConnectionResetError):
                    continue
                if data.startswith(b"-ERR max number of clients reached"):
                    refusals["redis"] += 1
                elif data.startswith(b"HTTP/1.1 503"):
                    self.assertIn(b'{"detail":"Too many connections"}', data)
                    refusals["http"] += 1
            self.assertGreater(refusals["redis"] + refusals["http"], 0, "someone was refused in words")
            # While exhausted the process must not spin.
            before, t0 = cpu_seconds(sim.proc.pid), time.monotonic()
            while time.monotonic() - t0 < 1.5:
                time.sleep(0.1)   # measuring a duration, not waiting for an event
            used = cpu_seconds(sim.proc.pid) - before
            self.assertLess(used, 0.3, "%.2f s of CPU in 1.5 s while out of descriptors" % used)
        finally:
            for _, s in held:
                s.close()
        try:
            # Released: every service answers again, by itself.
            deadline = time.monotonic() + 15
            while True:
                try:
                    r = redis.Redis(host="127.0.0.1", port=sim.redis_port, socket_timeout=2)
                    ok = r.ping()
                    r.close()
                    if ok:
                        break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            self.assertEqual(httpx.get(sim.backend_url + "/health", timeout=10).status_code, 200)
            self.assertEqual(httpx.get(sim.auth_url + "/health", timeout=10).status_code, 200)
            self.assertEqual(httpx.get(sim.control_url + "/status", timeout=10).status_code, 200)
            self.assertTrue(login(sim)["access_token"])
        finally:
            code = sim.stop()
        self.assertEqual(code, 0, sim.stderr[-2000:])
        # One line when an episode starts (and one when it ends), not a flood.
        lines = [l for l in sim.stderr.splitlines() if "out of file descriptors" in l]
        self.assertGreaterEqual(len(lines), 1, sim.stderr[-2000:])
        self.assertLess(len(lines), 60, "%d lines about it: a flood" % len(lines))
        self.assertLess(len(sim.stderr), 200000, "the log stays small")


def http_keepalive(port, path):
    """A raw HTTP/1.1 client that sends one request and reads its reply,
    keeping the connection open: (socket, status, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None
    return s, status, body


class ConnectionCaps(unittest.TestCase):
    """Every service's connection cap comes from the descriptor limit
    (sim/net/caps.h: 64 kept, then five shares for the backend, two for
    Redis, one each for auth and control). Each service, filled to its cap
    with idle clients, refuses the next one in its own words: Redis
    -ERR max number of clients reached, auth and control and backend HTTP a
    503 with a JSON body, a backend WebSocket upgrade 1013 after the 101;
    and once the clients go, every service answers again."""

    LIMIT = 256
    CAPS = {"backend": 105, "redis": 42, "auth": 21, "control": 21}   # (256 - 64) / 9 shares

    def test_refusals_at_each_cap(self):
        sim = Stagesim(wrap=["prlimit", "--nofile=%d" % self.LIMIT])
        held = []
        try:
            # Redis: the backend's own client is one of maxclients; wait
            # for it, so that it does not take a place meanwhile.
            r = redis.Redis(host="127.0.0.1", port=sim.redis_port, socket_timeout=10)
            self.assertEqual(r.config_get("maxclients"), {"maxclients": str(self.CAPS["redis"])})
            info = wait_for(lambda: (lambda i: i if i["connected_clients"] >= 2 else None)(
                r.info("clients")))
            for _ in range(self.CAPS["redis"] - info["connected_clients"]):
                s = socket.create_connection(("127.0.0.1", sim.redis_port), timeout=10)
                s.sendall(b"PING\r\n")
                self.assertEqual(s.recv(64), b"+PONG\r\n")
                held.append(s)
            s = socket.create_connection(("127.0.0.1", sim.redis_port), timeout=10)
            self.assertEqual(s.recv(64), b"-ERR max number of clients reached\r\n")
            self.assertEqual(s.recv(64), b"", "then closed")
            s.close()
            # redis-py 4.3.4 finds the error waiting before its first command
            # and says "Connection not ready" (or the error's text): against
            # redis-server 7.0 at maxclients it does the same.
            with self.assertRaises(redis.exceptions.ConnectionError):
                redis.Redis(host="127.0.0.1", port=sim.redis_port, socket_timeout=10).ping()
            out = subprocess.run(["redis-cli", "-p", str(sim.redis_port), "PING"], capture_output=True,
                                 text=True, timeout=30)
            self.assertIn("max number of clients reached", out.stdout + out.stderr)
            self.assertTrue(r.ping(), "a client within the cap is still served")

            # Auth and control: clients that made one request and stay.
            for name, port, path in (("auth", sim.auth_port, "/health"), ("control", sim.control_port,
                                                                     "/status")):
                for i in range(self.CAPS[name]):
                    s, status, _ = http_keepalive(port, path)
                    self.assertEqual(status, 200, "%s client %d within the cap" % (name, i + 1))
                    held.append(s)
            r_auth = httpx.post(sim.auth_url + "/auth/login", timeout=10,
                                json={"email": "alice@example.com", "password": "alice-password"})
            self.assertEqual((r_auth.status_code, r_auth.json()),
                             (503, {"detail": "Too many connections"}))
            r_ctl = httpx.get(sim.control_url + "/status", timeout=10)
            self.assertEqual((r_ctl.status_code, r_ctl.json()),
                             (503, {"detail": "Too many connections"}))

            # The backend: WebSockets (its HTTP and WebSocket clients share
            # the cap), then one request and one upgrade too many.
            async def backend():
                socks = []
                try:
                    for _ in range(self.CAPS["backend"]):
                        ws = await websockets.connect(sim.ws_url, open_timeout=20)
                        socks.append(ws)
                        welcome = json.loads(await asyncio.wait_for(ws.recv(), 20))
                        self.assertEqual(welcome["type"], "connection_established")
                    async with httpx.AsyncClient() as client:
                        over = await client.get(sim.backend_url + "/health", timeout=10)
                    async with websockets.connect(sim.ws_url, open_timeout=20) as ws:
                        try:
                            got = await asyncio.wait_for(ws.recv(), 20)
                        except websockets.ConnectionClosed as e:
                            got = (e.rcvd.code, e.rcvd.reason) if e.rcvd else None
                    # The first holder still chats.
                    await socks[0].send(json.dumps({"type": "ping"}))
                    pong = json.loads(await asyncio.wait_for(socks[0].recv(), 20))
                    return over, got, pong
                finally:
                    for ws in socks:
                        await ws.close()
            over, got, pong = asyncio.run(asyncio.wait_for(backend(), 120))
            self.assertEqual((over.status_code, over.json()), (503, {"detail": "Too many connections"}))
            self.assertEqual(got, (1013, "Try Again Later"), "an upgrade over the cap")
            self.assertEqual(pong["type"], "pong")
        finally:
            for s in held:
                s.close()
        try:
            # Released: every service answers again (the server notices the
            # closes in its own time).
            def redis_ok():
                try:
                    return redis.Redis(host="127.0.0.1", port=sim.redis_port, socket_timeout=5).ping()
                except redis.exceptions.ConnectionError:
                    return False
            self.assertTrue(wait_for(redis_ok, timeout=15))
            for url in (sim.backend_url + "/health", sim.auth_url + "/health",
                        sim.control_url + "/status"):
                self.assertEqual(wait_for(lambda: httpx.get(url, timeout=10).status_code == 200,
                                          timeout=15), True, url)
            self.assertTrue(login(sim)["access_token"])

            async def chat():
                async with websockets.connect(sim.ws_url, open_timeout=20) as ws:
                    await asyncio.wait_for(ws.recv(), 20)
                    await ws.send(json.dumps({"type": "user_message", "message": "back"}))
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 20))
                        if m["type"] == "agent_completed":
                            return m
            self.assertEqual(asyncio.run(chat())["type"], "agent_completed")
        finally:
            code = sim.stop()
        self.assertEqual(code, 0, sim.stderr[-2000:])
        self.assertIn("file descriptors: %d (64 kept for stagesim); connection caps: backend %d, "
                      "redis maxclients %d, auth %d, control %d" % (
                          self.LIMIT, self.CAPS["backend"], self.CAPS["redis"], self.CAPS["auth"],
                          self.CAPS["control"]), sim.stderr)
        self.assertNotIn("out of file descriptors", sim.stderr, "the caps refused first")


class InvalidUtf8GoesOutValid(unittest.TestCase):
    """Bytes that are not UTF-8 (in a binary frame, which lws does not
    check, or in a body) come back escaped: every text frame and JSON body
    stagesim sends is valid UTF-8, so a python-websockets client never has
    to fail the connection with 1007."""

    def test_frames_and_bodies(self):
        with Stagesim() as sim:
            async def chat():
                url = sim.ws_url + "?token=" + login(sim)["access_token"]
                async with websockets.connect(url, open_timeout=10) as ws:
                    await asyncio.wait_for(ws.recv(), 10)
                    await ws.send(b'{"type":"t\xff\xfe"}')
                    ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    await ws.send(b'{"type":"user_message","message":"caf\xe9 \xff",'
                                  b'"thread_id":"utf8-1"}')
                    events = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(5)]
                    return ack, events

            ack, events = asyncio.run(asyncio.wait_for(chat(), 30))
            self.assertEqual(ack["type"], "ack")
            self.assertEqual(ack["received_type"], "t\u00ff\u00fe", "each bad byte escaped")
            self.assertEqual([e["type"] for e in events][-1], "agent_completed")
            self.assertIn('"caf\u00e9 \u00ff"', events[-1]["data"]["result"]["response"])
            # The history route: the stored texts come back valid too.
            tok = login(sim)["access_token"]
            r = httpx.get(sim.backend_url + "/api/threads/utf8-1/messages", timeout=10,
                          headers={"Authorization": "Bearer " + tok})
            r.raise_for_status()
            r.content.decode("utf-8")   # strict: raises on invalid UTF-8
            # Auth and control error bodies.
            r = httpx.post(sim.auth_url + "/auth/login", content=b'{"email":"\xff@x","password":1}',
                           headers={"content-type": "application/json"}, timeout=10)
            self.assertEqual(r.status_code, 422)
            r.content.decode("utf-8")
            r = httpx.post(sim.control_url + "/faults", timeout=10,
                           content=b'{"id":"x\xff","on":"ws.send","action":{"kind":"drop"}}')
            self.assertEqual(r.status_code, 422)
            r.content.decode("utf-8")


def welcome_then(sim, coro_fn, url=None, **kw):
    """Opens a WebSocket (demo user unless url has a token), takes the
    welcome, runs coro_fn(ws) and returns what it returns."""
    async def go():
        async with websockets.connect(url or sim.ws_url, open_timeout=10, **kw) as ws:
            json.loads(await asyncio.wait_for(ws.recv(), 10))
            return await coro_fn(ws)
    return asyncio.run(asyncio.wait_for(go(), 60))


def add_rule(sim, rule):
    sim.control.add_fault(rule)


def wait_rule(sim, rule_id, count=1):
    sim.control.wait_fault(rule_id, count, timeout=20)


class WebSocketEdges(unittest.TestCase):
    def test_shutdown_goodbye_goes_ahead_of_a_delayed_frame(self):
        sim = Stagesim()
        add_rule(sim, {"id": "slow", "on": "ws.send", "match": {"name": "agent_started"},
                       "action": {"kind": "delay", "ms": 30000}})

        async def chat(ws):
            await ws.send(json.dumps({"type": "user_message", "message": "hi"}))
            # The event is now held back 30 s; stop the server meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, wait_rule, sim, "slow")
            t0 = time.monotonic()
            sim.proc.terminate()
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed as e:
                return (e.rcvd.code if e.rcvd else None), time.monotonic() - t0

        try:
            code, took = welcome_then(sim, chat)
        finally:
            exit_code = sim.stop()
        self.assertEqual(code, 1001, "the goodbye, not a cut (1006) after the grace")
        self.assertLess(took, 1.9, "not after the 2 s grace")
        self.assertEqual(exit_code, 0)

    def test_protocol_pings_are_client_traffic(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"name": "hb", "websocket": {"heartbeat_s": 3, "heartbeat_timeout_s": 6}}, f)
        try:
            with Stagesim(scenario=f.name) as sim:
                async def pings_only(ws):
                    got = []
                    end = time.monotonic() + 8
                    while time.monotonic() < end:
                        pong = await ws.ping()
                        await asyncio.wait_for(pong, 5)
                        try:
                            got.append(await asyncio.wait_for(ws.recv(), 0.3))
                        except asyncio.TimeoutError:
                            pass
                    return got, ws.open
                got, still_open = welcome_then(sim, pings_only, ping_interval=None)
                self.assertEqual(got, [], "no heartbeat for a client that pings")
                self.assertTrue(still_open, "and no 1011 after heartbeat_timeout_s")
        finally:
            os.unlink(f.name)

    def test_trailing_garbage_is_invalid_json(self):
        with Stagesim() as sim:
            async def send(ws):
                await ws.send('{"type":"ping"} trailing garbage')
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                await ws.send('{"type":"ping"}  \n')
                second = json.loads(await asyncio.wait_for(ws.recv(), 10))
                return first, second
            first, second = welcome_then(sim, send)
            self.assertEqual((first["type"], first["error_code"]), ("error_message", "JSON_PARSE_ERROR"))
            self.assertEqual(second["type"], "pong", "whitespace after the value is fine")
            r = httpx.post(sim.control_url + "/faults", timeout=10,
                           content=b'{"id":"g","on":"ws.send","action":{"kind":"drop"}} x')
            self.assertEqual(r.status_code, 400)

    def test_oversized_message_in_fragments_gets_1009(self):
        with Stagesim() as sim:
            for frags in (["x" * 3000] * 4, ["x" * 100] * 100, ["x" * 20000] * 5):
                async def send(ws, frags=frags):
                    await ws.send(iter(frags))
                    try:
                        await asyncio.wait_for(ws.recv(), 10)
                    except websockets.ConnectionClosed as e:
                        return (e.rcvd.code, e.rcvd.reason) if e.rcvd else None
                self.assertEqual(welcome_then(sim, send, max_size=None), (1009, "Message too big"),
                                 "%d fragments of %d" % (len(frags), len(frags[0])))


class ThreadsHaveOwners(unittest.TestCase):
    """A thread belongs to the user who first used it: another user's token
    reads nothing of it (404), and nobody else (the demo user included)
    can write into it (AUTH_FAILED, no run)."""

    def test_owner_only(self):
        with Stagesim() as sim:
            alice = login(sim)["access_token"]
            bob = login(sim, "bob@example.com", "bob-password")["access_token"]

            async def chat(ws, thread):
                await ws.send(json.dumps({"type": "user_message", "message": "mine",
                                          "thread_id": thread}))
                out = []
                while not out or out[-1]["type"] not in ("agent_completed", "error_message"):
                    out.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                return [m["type"] for m in out], out[-1]

            for who, tok in (("alice", alice),):
                types, _ = welcome_then(sim, lambda ws: chat(ws, "alices"),
                                        url=sim.ws_url + "?token=" + tok)
                self.assertEqual(types[-1], "agent_completed", who)
            for url in (sim.ws_url + "?token=" + bob, sim.ws_url):   # bob, then the demo user
                types, last = welcome_then(sim, lambda ws: chat(ws, "alices"), url=url)
                self.assertEqual(types, ["error_message"], url)
                self.assertEqual(last["error_code"], "AUTH_FAILED")
                self.assertEqual(last["error_message"], "Thread alices belongs to another user")
            hist = lambda tok: httpx.get(sim.backend_url + "/api/threads/alices/messages", timeout=10,
                                         headers={"Authorization": "Bearer " + tok})
            r = hist(alice)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual([m["role"] for m in r.json()["messages"]], ["user", "assistant"],
                             "only alice's run is stored")
            r = hist(bob)
            self.assertEqual((r.status_code, r.json()), (404, {"detail": "Thread not found"}))
            r = httpx.get(sim.backend_url + "/api/threads/alices/validate", timeout=10,
                          headers={"Authorization": "Bearer " + bob})
            self.assertEqual(r.status_code, 404)
            # A thread created through the route is its creator's too.
            r = httpx.post(sim.backend_url + "/api/threads/create", timeout=10,
                           headers={"Authorization": "Bearer " + bob})
            tid = r.json()["thread_id"]
            self.assertEqual(httpx.get(sim.backend_url + "/api/threads/%s/validate" % tid, timeout=10,
                                       headers={"Authorization": "Bearer " + alice}).status_code, 404)
            self.assertEqual(httpx.get(sim.backend_url + "/api/threads/%s/validate" % tid, timeout=10,
                                       headers={"Authorization": "Bearer " + bob}).status_code, 200)


if __name__ == "__main__":
    unittest.main()
