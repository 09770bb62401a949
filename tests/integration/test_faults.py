"""Fault scenarios and the control API, observed with real clients on the wire:
python websockets (close codes and reasons, 1006 on abort, dropped events),
redis-py (ConnectionError during a refusal, recovery after, error replies),
httpx (HTTP status and delays), and the control API (rules at run time,
/journal/wait, /metrics, ttl_ms)."""
import asyncio
import json
import os
import tempfile
import time
import unittest

import httpx
import redis
import websockets

from stagesim import Stagesim
from support import add_rule, scenario_path, wait_rule

EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]


async def run_once(ws, text, thread=None, timeout=10):
    """Sends one chat message (in the connection's own thread unless told:
    a thread belongs to the user who first chats in it); returns the event
    types until agent_completed."""
    msg = {"type": "user_message", "message": text}
    if thread:
        msg["thread_id"] = thread
    await ws.send(json.dumps(msg))
    types = []
    while not types or types[-1] != "agent_completed":
        types.append(json.loads(await asyncio.wait_for(ws.recv(), timeout))["type"])
    return types


async def connect(sim, **kw):
    ws = await websockets.connect(sim.ws_url, open_timeout=10, **kw)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "connection_established", welcome
    return ws


class Scenarios(unittest.TestCase):
    def test_ws_1011_mid_run(self):
        with Stagesim(scenario=scenario_path("ws-1011-mid-run.json")) as s:
            async def go():
                ws = await connect(s)
                await ws.send(json.dumps({"type": "user_message", "message": "hi"}))
                got = []
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    while True:
                        got.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
                self.assertEqual(got, ["agent_started", "agent_thinking"])
                self.assertEqual(cm.exception.rcvd.code, 1011)
                self.assertEqual(cm.exception.rcvd.reason, "Internal error")
            asyncio.run(go())
            r = wait_rule(s, "ws-1011-after-thinking")
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.json()["fired"], 1)

    def test_dropped_events(self):
        def pattern(seed):
            with Stagesim(scenario=scenario_path("dropped-events.json"), seed=seed) as s:
                async def go():
                    ws = await connect(s)
                    seen = []
                    for i in range(20):
                        await ws.send(json.dumps({"type": "user_message", "message": "q%d" % i}))
                        types = []
                        while not types or types[-1] != "agent_completed":
                            types.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
                        seen.append("tool_completed" in types)
                        self.assertEqual(types[0], "agent_started")
                        self.assertEqual(types.count("tool_executing"), 1)
                    await ws.close()
                    return seen
                return asyncio.run(go())
        a = pattern(7)
        self.assertLess(sum(a), 20, "some tool_completed were dropped")
        self.assertGreater(sum(a), 0, "not all of them at p=0.5")
        self.assertEqual(a, pattern(7), "the same seed drops the same events")
        self.assertNotEqual(a, pattern(8), "another seed drops others")

    def test_health_503_slow(self):
        with Stagesim(scenario=scenario_path("health-503-slow.json")) as s:
            t0 = time.monotonic()
            r = httpx.get(s.backend_url + "/health", timeout=30)
            took = time.monotonic() - t0
            self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
            self.assertTrue(3.0 <= took <= 14.5, took)
            journal = httpx.get(s.control_url + "/journal", timeout=10).text
            fired = [json.loads(l) for l in journal.splitlines() if '"rule":"health-503-slow"' in l]
            self.assertEqual(len(fired), 1)
            self.assertAlmostEqual(fired[0]["delay_ms"] / 1000, took, delta=0.5)

    def test_startup_race(self):
        """scenarios/startup-race.json: a WebSocket during start-up waits 2.1 s
        and is closed 1011; with a shorter start-up a WebSocket that arrives
        early waits for phase services and is welcomed, its early message
        answered after; a legacy /health says 503 with the phase."""
        with Stagesim(scenario=scenario_path("startup-race.json")) as s:
            async def early():
                t0 = time.monotonic()
                ws = await websockets.connect(s.ws_url, open_timeout=10)
                await ws.send(json.dumps({"type": "ping"}))
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    await asyncio.wait_for(ws.recv(), 10)
                took = time.monotonic() - t0
                self.assertEqual(cm.exception.rcvd.code, 1011)
                self.assertEqual(cm.exception.rcvd.reason,
                                 "Service not ready: startup phase no_app_state after 2.1 s")
                self.assertTrue(2.0 <= took <= 3.0, took)
            asyncio.run(early())
        with open(scenario_path("startup-race.json")) as f:
            sc = json.load(f)
        sc["startup"] = {"app_state_ms": 300, "complete_ms": 1700, "ws_wait_ms": 3000}
        sc["profile"] = "legacy"
        sc["websocket"] = {"no_token": "demo"}   # legacy would refuse it with 403 (S1)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(sc, f)
        try:
            with Stagesim(scenario=f.name) as s:
                r = httpx.get(s.backend_url + "/health", timeout=10)
                self.assertEqual(r.status_code, 503)
                body = r.json()
                self.assertEqual((body["status"], body["message"], body["startup_in_progress"]),
                                 ("unhealthy", "Startup in progress", True))
                self.assertIn(body["details"]["phase"], ("no_app_state", "init", "dependencies"))

                async def waits():
                    t0 = time.monotonic()
                    ws = await websockets.connect(s.ws_url, open_timeout=10)
                    await ws.send(json.dumps({"type": "ping"}))
                    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    self.assertEqual(first["type"], "system_message", "legacy welcome, after the gate")
                    self.assertGreaterEqual(time.monotonic() - t0, 0.5)
                    self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"], "pong")
                    await ws.close()
                asyncio.run(waits())
                deadline = time.monotonic() + 10
                while httpx.get(s.backend_url + "/health", timeout=10).status_code != 200:
                    self.assertLess(time.monotonic(), deadline, "start-up never completed")
                    time.sleep(0.1)
        finally:
            os.unlink(f.name)

    def test_redis_outage_and_recovery(self):
        with Stagesim(scenario=scenario_path("redis-outage.json")) as s:
            r = wait_rule(s, "redis-refuse-4s", timeout_ms=5000)
            self.assertEqual(r.status_code, 200, r.text)
            client = redis.Redis(port=s.redis_port, socket_connect_timeout=2)
            with self.assertRaises(redis.exceptions.ConnectionError):
                client.ping()
            # Chat goes on while Redis is down.
            async def chat():
                ws = await connect(s)
                self.assertEqual(await run_once(ws, "during outage", "outage"), EVENTS)
                await ws.close()
            asyncio.run(chat())
            infra = httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
            self.assertNotEqual(infra["status"], "ok", infra)
            # Then Redis listens again and the backend's client reconnects.
            deadline = time.monotonic() + 15
            while True:
                try:
                    self.assertTrue(client.ping())
                    break
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            deadline = time.monotonic() + 15
            while httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()["status"] != "ok":
                self.assertLess(time.monotonic(), deadline, "backend never reconnected to Redis")
                time.sleep(0.2)
            asyncio.run(chat_after(s, self))
            self.assertEqual(len(client.lrange("thread:after:messages", 0, -1)), 2)


async def chat_after(s, tc):
    ws = await connect(s)
    tc.assertEqual(await run_once(ws, "after outage", "after"), EVENTS)
    await ws.close()
    # The history write goes out right after agent_completed; give it a turn.
    for _ in range(50):
        if redis.Redis(port=s.redis_port).llen("thread:after:messages") == 2:
            return
        await asyncio.sleep(0.02)


class Actions(unittest.TestCase):
    """Each action kind, observed by a real client."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        httpx.delete(self.sim.control_url + "/faults", timeout=10)

    def test_ws_close_code_and_reason(self):
        add_rule(self.sim, {"id": "c4000", "on": "ws.send", "match": {"name": "agent_thinking"},
                            "action": {"kind": "close", "code": 4000, "reason": "custom close"}})
        async def go():
            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "user_message", "message": "x"}))
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(cm.exception.rcvd.code, 4000)
            self.assertEqual(cm.exception.rcvd.reason, "custom close")
        asyncio.run(go())

    def test_ws_abort_is_1006(self):
        add_rule(self.sim, {"id": "abort", "on": "ws.send", "match": {"name": "tool_executing"},
                            "action": {"kind": "abort"}})
        async def go():
            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "user_message", "message": "x"}))
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            self.assertIsNone(cm.exception.rcvd, "no close frame")
            self.assertEqual(ws.close_code, 1006)
        asyncio.run(go())

    def test_ws_accept_close_1011(self):
        add_rule(self.sim, {"id": "acc", "on": "ws.accept",
                            "action": {"kind": "close", "code": 1011, "reason": "Internal error"}})
        async def go():
            ws = await websockets.connect(self.sim.ws_url, open_timeout=10)
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(cm.exception.rcvd.code, 1011)
        asyncio.run(go())

    def test_ws_drop_and_delay(self):
        add_rule(self.sim, {"id": "drop-thinking", "on": "ws.send", "match": {"name": "agent_thinking"},
                            "action": {"kind": "drop"}})
        add_rule(self.sim, {"id": "slow-done", "on": "ws.send", "match": {"name": "agent_completed"},
                            "action": {"kind": "delay", "ms": 400}})
        async def go():
            ws = await connect(self.sim)
            t0 = time.monotonic()
            types = await run_once(ws, "x")
            elapsed = time.monotonic() - t0
            self.assertEqual(types, ["agent_started", "tool_executing", "tool_completed", "agent_completed"])
            self.assertGreaterEqual(elapsed, 0.4)
            await ws.close()
        asyncio.run(go())

    def test_ws_hang(self):
        add_rule(self.sim, {"id": "hang", "on": "ws.send", "match": {"name": "tool_executing"},
                            "action": {"kind": "hang"}})
        async def go():
            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "user_message", "message": "x"}))
            got = [json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] for _ in range(2)]
            self.assertEqual(got, ["agent_started", "agent_thinking"])
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)
            await ws.close()
        asyncio.run(go())

    def test_ws_user_run_across_connections(self):
        """match.user_run counts a user's runs over all their connections."""
        from support import login
        add_rule(self.sim, {"id": "alice-run2", "on": "ws.send",
                            "match": {"user": "user-alice", "user_run": 2, "name": "agent_started"},
                            "action": {"kind": "drop"}})
        token = login(self.sim)["access_token"]
        async def go():
            one = await connect(self.sim, subprotocols=["jwt." + token])
            two = await connect(self.sim, subprotocols=["jwt." + token])
            self.assertEqual(await run_once(one, "first"), EVENTS, "alice's 1st run")
            self.assertEqual(await run_once(two, "second"), EVENTS[1:], "alice's 2nd run, other connection")
            self.assertEqual(await run_once(one, "third"), EVENTS, "alice's 3rd run")
            anon = await connect(self.sim)
            self.assertEqual(await run_once(anon, "demo"), EVENTS, "another user's runs count apart")
            for ws in (one, two, anon):
                await ws.close()
        asyncio.run(go())

    def test_http_status_and_delay(self):
        add_rule(self.sim, {"id": "h503", "on": "http.request", "match": {"name": "/health"},
                            "first": 1, "action": {"kind": "status", "status": 503,
                                                   "body": "Service Unavailable",
                                                   "content_type": "text/plain"}})
        r = httpx.get(self.sim.backend_url + "/health", timeout=10)
        self.assertEqual(r.status_code, 503)
        self.assertEqual(r.text, "Service Unavailable")
        self.assertEqual(httpx.get(self.sim.backend_url + "/health", timeout=10).status_code, 200)
        add_rule(self.sim, {"id": "auth-slow", "on": "auth.request", "match": {"name": "/health"},
                            "action": {"kind": "delay", "ms": 300}})
        t0 = time.monotonic()
        r = httpx.get(self.sim.auth_url + "/health", timeout=10)
        self.assertEqual(r.status_code, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        add_rule(self.sim, {"id": "auth-slow-503", "on": "auth.request", "match": {"name": "/health/ready"},
                            "action": {"kind": "status", "status": 503, "ms": 300,
                                       "body": "Service Unavailable", "content_type": "text/plain"}})
        t0 = time.monotonic()
        r = httpx.get(self.sim.auth_url + "/health/ready", timeout=10)
        self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
        self.assertEqual(r.headers["content-type"], "text/plain")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3, "the status came after its delay")
        add_rule(self.sim, {"id": "auth-500", "on": "auth.request", "match": {"name": "/auth/login"},
                            "action": {"kind": "status", "status": 500, "body": "{\"detail\":\"boom\"}"}})
        r = httpx.post(self.sim.auth_url + "/auth/login", json={"email": "alice@example.com",
                                                               "password": "alice-password"}, timeout=10)
        self.assertEqual(r.status_code, 500)
        self.assertEqual(r.json(), {"detail": "boom"})

    def test_auth_hang_releases_sockets_of_clients_that_left(self):
        """A hung auth request whose client gives up must not keep the socket."""
        import subprocess
        add_rule(self.sim, {"id": "auth-hang", "on": "auth.request", "match": {"name": "/health"},
                            "action": {"kind": "hang"}})
        for _ in range(20):
            with self.assertRaises(httpx.TimeoutException):
                httpx.get(self.sim.auth_url + "/health", timeout=0.2)
        wait_rule(self.sim, "auth-hang", 20)

        def close_wait():
            out = subprocess.run(["ss", "-Htn", "state", "close-wait", "sport", "= :%d" % self.sim.auth_port],
                                 capture_output=True, text=True, timeout=10).stdout
            return len(out.splitlines())
        deadline = time.monotonic() + 5
        while close_wait() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(close_wait(), 0, "sockets of departed clients closed")
        httpx.delete(self.sim.control_url + "/faults/auth-hang", timeout=10)
        self.assertEqual(httpx.get(self.sim.auth_url + "/health", timeout=10).status_code, 200)

    def test_auth_token_reject(self):
        """A rule on token checks makes bob's valid token fail everywhere (the
        services disagreeing on the secret), while alice is unaffected."""
        from support import login
        add_rule(self.sim, {"id": "reject-bob", "on": "auth.token", "match": {"user": "user-bob"},
                            "action": {"kind": "reject"}})
        bob = login(self.sim, "bob@example.com", "bob-password")["access_token"]
        alice = login(self.sim)["access_token"]
        me = lambda t: httpx.get(self.sim.auth_url + "/auth/me",
                                 headers={"Authorization": "Bearer " + t}, timeout=10)
        self.assertEqual(me(bob).status_code, 401)
        self.assertEqual(me(alice).status_code, 200)
        async def go():
            ws = await websockets.connect(self.sim.ws_url + "?token=" + bob, open_timeout=10)
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            self.assertEqual(first["type"], "error_message")
            self.assertEqual(first["error_code"], "AUTH_FAILED")
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                await asyncio.wait_for(ws.recv(), 10)
            self.assertEqual(cm.exception.rcvd.code, 1008)
            ws = await websockets.connect(self.sim.ws_url + "?token=" + alice, open_timeout=10)
            self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), 10))["data"]["user_id"],
                             "user-alice")
            await ws.close()
        asyncio.run(go())
        self.assertGreaterEqual(wait_rule(self.sim, "reject-bob", 2).json()["fired"], 2)

    def test_redis_reset_after_n_commands(self):
        add_rule(self.sim, {"id": "reset-3rd", "on": "redis.command", "nth": 3,
                            "action": {"kind": "reset"}})
        # One raw redis-py connection, so no client-side retry hides the reset.
        conn = redis.Connection(port=self.sim.redis_port)
        conn.send_command("SET", "a", "1")
        self.assertEqual(conn.read_response(), b"OK")
        conn.send_command("GET", "a")
        self.assertEqual(conn.read_response(), b"1")
        conn.send_command("GET", "a")
        with self.assertRaises(redis.exceptions.ConnectionError):
            conn.read_response()
        conn.disconnect()
        self.assertEqual(wait_rule(self.sim, "reset-3rd").json()["fired"], 1)
        # Counted per connection: a new one gets its own three commands.
        other = redis.Redis(port=self.sim.redis_port)
        self.assertEqual(other.get("a"), b"1")
        self.assertTrue(other.ping())

    def test_redis_pubsub_drop(self):
        add_rule(self.sim, {"id": "drop-news", "on": "redis.message", "match": {"key": "news.*"},
                            "first": 2, "action": {"kind": "drop"}})
        sub = redis.Redis(port=self.sim.redis_port).pubsub()
        sub.subscribe("news.eu", "other")
        for _ in range(2):
            self.assertEqual(sub.get_message(timeout=5)["type"], "subscribe")
        pub = redis.Redis(port=self.sim.redis_port)
        for i in range(4):
            pub.publish("news.eu", "n%d" % i)
        pub.publish("other", "o")
        got = []
        while len(got) < 3:
            m = sub.get_message(timeout=5)
            self.assertIsNotNone(m, "messages after the dropped ones arrive: %r" % got)
            got.append((m["channel"], m["data"]))
        self.assertEqual(got, [(b"news.eu", b"n2"), (b"news.eu", b"n3"), (b"other", b"o")])
        self.assertEqual(wait_rule(self.sim, "drop-news", 2).json()["fired"], 2)
        sub.close()

    def test_redis_error_and_delay(self):
        add_rule(self.sim, {"id": "loading", "on": "redis.command", "match": {"name": "get"},
                            "action": {"kind": "error", "text": "LOADING Redis is loading the dataset in memory"}})
        add_rule(self.sim, {"id": "slow-set", "on": "redis.command", "match": {"name": "set"},
                            "action": {"kind": "delay", "ms": 300}})
        c = redis.Redis(port=self.sim.redis_port)
        t0 = time.monotonic()
        self.assertTrue(c.set("k", "v"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        with self.assertRaises(redis.exceptions.BusyLoadingError):
            c.get("k")
        self.assertEqual(c.strlen("k"), 1, "other commands unaffected")


class ControlApi(unittest.TestCase):
    def test_rule_lifecycle(self):
        with Stagesim() as s:
            c = s.control_url
            self.assertEqual(httpx.get(c + "/status", timeout=10).json()["status"], "running")
            r = httpx.post(c + "/faults", json={"id": "bad", "on": "ws.send",
                                                "action": {"kind": "close", "code": 1006}}, timeout=10)
            self.assertEqual(r.status_code, 422)
            self.assertIn("rule.action.code: 1006 is not sendable", r.json()["detail"])
            self.assertEqual(httpx.post(c + "/faults", content=b"{", timeout=10).status_code, 400)

            add_rule(s, {"id": "ack-drop", "on": "ws.message", "match": {"name": "ping"},
                         "action": {"kind": "drop"}})
            self.assertEqual(httpx.get(c + "/faults/ack-drop", timeout=10).json()["fired"], 0)
            async def ping_twice():
                ws = await connect(s)
                await ws.send(json.dumps({"type": "ping"}))
                await ws.send(json.dumps({"type": "ping"}))
                await ws.send(json.dumps({"type": "heartbeat"}))
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.assertEqual(first["type"], "heartbeat_ack", "both pings dropped")
                await ws.close()
            asyncio.run(ping_twice())
            r = wait_rule(s, "ack-drop", count=2)
            self.assertEqual(r.status_code, 200)
            self.assertEqual(r.json()["fired"], 2)
            t0 = time.monotonic()
            r = wait_rule(s, "ack-drop", count=3, timeout_ms=300)
            self.assertEqual(r.status_code, 408)
            self.assertGreaterEqual(r.json()["waited_ms"], 300)
            self.assertGreaterEqual(time.monotonic() - t0, 0.3, "the long poll really waited")
            # A wait that starts before the rule fires returns once it does.
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                pending = pool.submit(wait_rule, s, "ack-drop", 3, 10000)
                time.sleep(0.2)  # let the poll start first: that is the point of this check
                self.assertFalse(pending.done(), "wait returned before the rule fired")
                async def third_ping():
                    ws = await connect(s)
                    await ws.send(json.dumps({"type": "ping"}))
                    await ws.close()
                asyncio.run(third_ping())
                r = pending.result(timeout=15)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(r.json()["fired"], 3)
            metrics = httpx.get(c + "/metrics", timeout=10).text
            self.assertIn('stagesim_faults_fired_total{rule="ack-drop"} 3', metrics)
            journal = httpx.get(c + "/journal", timeout=10).text.splitlines()
            fired = [json.loads(l) for l in journal if '"rule":"ack-drop"' in l]
            self.assertEqual(len(fired), 3)
            self.assertEqual(fired[0]["action"], "drop")
            self.assertEqual(httpx.delete(c + "/faults/ack-drop", timeout=10).status_code, 200)
            self.assertEqual(httpx.delete(c + "/faults/ack-drop", timeout=10).status_code, 404)

            # ttl_ms: the rule reverts by itself. The ttl is long enough that
            # the request right after the add falls inside it on a loaded
            # machine too, and the check after it leaves the server 0.5 s.
            t_add = time.monotonic()
            add_rule(s, {"id": "brief", "on": "http.request", "match": {"name": "/health"}, "ttl_ms": 1000,
                         "action": {"kind": "status", "status": 503}})
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).status_code, 503)
            time.sleep(max(0.0, t_add + 1.5 - time.monotonic()))  # the ttl itself is under test
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).status_code, 200)
            self.assertEqual(httpx.get(c + "/faults", timeout=10).json()["faults"], [])
            # A ttl rule on a place nobody uses is gone everywhere too.
            t_add = time.monotonic()
            add_rule(s, {"id": "quiet", "on": "redis.accept", "ttl_ms": 200, "action": {"kind": "hang"}})
            time.sleep(max(0.0, t_add + 0.7 - time.monotonic()))  # the ttl itself is under test
            self.assertEqual(httpx.get(c + "/status", timeout=10).json()["rules"], 0)
            self.assertNotIn('rule="quiet"', httpx.get(c + "/metrics", timeout=10).text)
            self.assertEqual(httpx.delete(c + "/faults/quiet", timeout=10).status_code, 404)
            add_rule(s, {"id": "quiet", "on": "redis.accept", "action": {"kind": "hang"}})

            # The journal pages: since=X-Journal-Last continues without a gap.
            seen, since = [], 0
            while True:
                r = httpx.get(c + "/journal", params={"since": since, "limit": 3}, timeout=10)
                lines = r.text.splitlines()
                if not lines:
                    break
                self.assertEqual(int(r.headers["x-journal-first"]), since + 1)
                self.assertEqual(int(r.headers["x-journal-last"]), since + len(lines))
                seen += lines
                since = int(r.headers["x-journal-last"])
            self.assertEqual(len(seen), int(r.headers["x-journal-total"]))
            self.assertEqual(seen, httpx.get(c + "/journal", timeout=10).text.splitlines())
            # Past the end, up to the largest since there is: an empty page
            # that says where the journal stands (once a wrap-around read).
            total = int(r.headers["x-journal-total"])
            for since in (total, total + 1, 2**64 - 1):
                r = httpx.get(c + "/journal", params={"since": since}, timeout=10)
                self.assertEqual((r.status_code, r.text), (200, ""), since)
                self.assertGreaterEqual(int(r.headers["x-journal-total"]), total)
                self.assertEqual(int(r.headers["x-journal-first"]), int(r.headers["x-journal-last"]) + 1)
            r = httpx.get(c + "/journal", params={"since": 2**64}, timeout=10)
            self.assertEqual(r.status_code, 422)
            r = httpx.get(c + "/journal/wait", params={"rule": "x" * 200}, timeout=10)
            self.assertEqual(r.status_code, 422)
            self.assertIn("1-64 characters", r.json()["detail"])

    def test_cli(self):
        import subprocess
        from support import STAGESIM
        with Stagesim() as s:
            env_args = ["--control-port", str(s.control_port)]
            def cli(*a):
                return subprocess.run([STAGESIM, "fault", *env_args, *a], capture_output=True, text=True,
                                      timeout=20)
            r = cli("add", '{"id":"x1","on":"ws.send","action":{"kind":"drop"}}')
            self.assertEqual(r.returncode, 0, r.stderr)
            r = cli("ls")
            self.assertEqual(r.returncode, 0)
            self.assertEqual([f["id"] for f in json.loads(r.stdout)["faults"]], ["x1"])
            r = cli("add", '{"id":"x1","on":"ws.send","action":{"kind":"drop"}}')
            self.assertEqual(r.returncode, 2)
            self.assertIn("duplicate rule id", r.stderr)
            self.assertEqual(cli("rm", "x1").returncode, 0)
            self.assertEqual(cli("rm", "x1").returncode, 2)
            self.assertEqual(cli("reset").returncode, 0)
        r = subprocess.run([STAGESIM, "fault", "--control-port", "1", "ls"], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 1)
        for bad in (["rm", "h1?x=1"], ["rm", "a b"], ["add", "/dev/zero"], ["add", "/tmp"]):
            r = subprocess.run([STAGESIM, "fault", "--control-port", "1", *bad], capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("stagesim fault:", r.stderr)
        r = subprocess.run([STAGESIM, "fault", "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: stagesim fault", r.stdout)


if __name__ == "__main__":
    unittest.main()
