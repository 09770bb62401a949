"""Backend fault actions observed on the wire: every row of docs/faults.md's
action table that applies to http.request, ws.accept, ws.message and ws.send,
each with a real client (python websockets, httpx, raw sockets). Rules are
added at run time through the control API; /journal/wait synchronises with
the server instead of sleeping. Also the scenarios built on them."""
import asyncio
import json
import socket
import subprocess
import time
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import STAGESIM, add_rule, login, scenario_path

EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
HANDLER_MISSING = "'AgentWebSocketBridge' object has no attribute 'handle_message'"


def wait_rule(sim, rule, count=1, timeout_ms=10000):
    """The rule must fire `count` times within timeout_ms; its counters."""
    return sim.control.wait_fault(rule, count, timeout=timeout_ms / 1000)


def journal(sim):
    return [json.loads(l) for l in httpx.get(sim.control_url + "/journal", timeout=10).text.splitlines()]


async def connect(sim, query="", **kw):
    ws = await websockets.connect(sim.ws_url + query, open_timeout=10, **kw)
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "connection_established", welcome
    return ws


async def chat(ws, text="hi", thread=None):
    """A chat message; without a thread, the connection's own (a thread
    belongs to the user who first chats in it)."""
    msg = {"type": "user_message", "message": text}
    if thread:
        msg["thread_id"] = thread
    await ws.send(json.dumps(msg))


async def recv_json(ws, timeout=10):
    raw = await asyncio.wait_for(ws.recv(), timeout)
    return json.loads(raw)


async def until_completed(ws, timeout=10):
    """The messages up to and including agent_completed."""
    got = []
    while not got or got[-1]["type"] != "agent_completed":
        got.append(await recv_json(ws, timeout))
    return got


async def nothing_arrives(tc, ws, seconds=0.5):
    with tc.assertRaises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


def types(msgs):
    return [m["type"] for m in msgs]


class WsSend(unittest.TestCase):
    """ws.send actions: what a client receives instead of the golden path."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()
        cls.alice = login(cls.sim)["access_token"]
        cls.bob = login(cls.sim, "bob@example.com", "bob-password")["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        httpx.delete(self.sim.control_url + "/faults", timeout=10)

    def run_with(self, rule, text="hi"):
        add_rule(self.sim, rule)

        async def go():
            ws = await connect(self.sim)
            await chat(ws, text)
            got = await until_completed(ws)
            await ws.close()
            return got
        return asyncio.run(go())

    def test_duplicate(self):
        got = self.run_with({"id": "dup", "on": "ws.send", "match": {"name": "agent_thinking"},
                             "action": {"kind": "duplicate"}})
        self.assertEqual(types(got), ["agent_started", "agent_thinking", "agent_thinking",
                                      "tool_executing", "tool_completed", "agent_completed"])
        self.assertEqual(got[1], got[2], "the same event, byte for byte")

    def test_hold_reorders(self):
        got = self.run_with({"id": "hold", "on": "ws.send", "match": {"name": "agent_thinking"},
                             "action": {"kind": "hold"}})
        self.assertEqual(types(got), ["agent_started", "tool_executing", "agent_thinking",
                                      "tool_completed", "agent_completed"])

    def test_hold_last_event_goes_when_the_run_ends(self):
        add_rule(self.sim, {"id": "hold-done", "on": "ws.send", "match": {"name": "agent_completed"},
                            "action": {"kind": "hold"}})

        async def go():
            ws = await connect(self.sim)
            await chat(ws)
            got = await until_completed(ws)
            self.assertEqual(types(got), EVENTS)
            await ws.close()
        asyncio.run(go())
        self.assertEqual(wait_rule(self.sim, "hold-done")["fired"], 1)

    def test_malform_remove_field(self):
        got = self.run_with({"id": "rm", "on": "ws.send", "match": {"name": "agent_started"},
                             "action": {"kind": "malform", "mode": "remove_field", "field": "run_id"}})
        self.assertNotIn("run_id", got[0])
        self.assertIn("run_id", got[1])
        got = self.run_with({"id": "rm2", "on": "ws.send", "match": {"name": "tool_completed"},
                             "action": {"kind": "malform", "mode": "remove_field",
                                        "field": "data.result"}})
        done = [m for m in got if m["type"] == "tool_completed"][0]
        self.assertIn("data", done)
        self.assertNotIn("result", done["data"])

    def test_malform_wrong_type(self):
        got = self.run_with({"id": "wt", "on": "ws.send", "match": {"name": "agent_thinking"},
                             "action": {"kind": "malform", "mode": "wrong_type", "field": "data"}})
        self.assertIsInstance(got[1]["data"], str, "object became a string")
        self.assertIsInstance(json.loads(got[1]["data"]), dict)
        got = self.run_with({"id": "wt2", "on": "ws.send", "match": {"name": "agent_completed"},
                             "action": {"kind": "malform", "mode": "wrong_type",
                                        "field": "data.execution_time_ms"}})
        self.assertIsInstance(got[-1]["data"]["execution_time_ms"], str, "number became a string")
        got = self.run_with({"id": "wt3", "on": "ws.send", "match": {"name": "agent_started"},
                             "action": {"kind": "malform", "mode": "wrong_type", "field": "run_id"}})
        self.assertIsInstance(got[0]["run_id"], (int, float), "string became a number")

    def test_malform_invalid_json(self):
        add_rule(self.sim, {"id": "bad", "on": "ws.send", "match": {"name": "tool_executing"},
                            "action": {"kind": "malform", "mode": "invalid_json"}})

        async def go():
            ws = await connect(self.sim)
            await chat(ws)
            raw = [await asyncio.wait_for(ws.recv(), 10) for _ in range(5)]
            self.assertTrue(all(isinstance(r, str) for r in raw), "text frames")
            with self.assertRaises(json.JSONDecodeError):
                json.loads(raw[2])
            self.assertTrue(raw[2].startswith('{"type":"tool_executing"'), raw[2])
            self.assertEqual([json.loads(r)["type"] for i, r in enumerate(raw) if i != 2],
                             ["agent_started", "agent_thinking", "tool_completed", "agent_completed"])
            await ws.close()
        asyncio.run(go())

    def test_replace_agent_error_death_and_error_message(self):
        got = self.run_with({"id": "err", "on": "ws.send", "match": {"name": "tool_executing"},
                             "action": {"kind": "replace", "type": "agent_error",
                                        "text": "Tool crashed"}})
        self.assertEqual(types(got), ["agent_started", "agent_thinking", "agent_error",
                                      "tool_completed", "agent_completed"])
        e = got[2]
        self.assertEqual(e["data"], {"error_message": "Tool crashed"})
        self.assertEqual(e["run_id"], got[0]["run_id"])
        self.assertEqual(e["user_id"], "demo-user-001")
        self.assertEqual(e["agent_name"], "supervisor")
        self.assertIsInstance(e["timestamp"], str)

        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        got = self.run_with({"id": "death", "on": "ws.send", "match": {"name": "agent_thinking"},
                             "action": {"kind": "replace", "type": "agent_death",
                                        "text": "Agent process terminated"}})
        d = got[1]
        self.assertEqual(d["type"], "agent_death")
        self.assertEqual(d["data"], {"death_cause": "Agent process terminated",
                                     "recovery_action": "refresh_required"})
        self.assertEqual(d["run_id"], got[0]["run_id"])

        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        got = self.run_with({"id": "em", "on": "ws.send", "match": {"name": "agent_started"},
                             "action": {"kind": "replace", "type": "error_message",
                                        "code": "SERVICE_UNAVAILABLE", "text": "busy"}})
        m = got[0]
        self.assertEqual((m["type"], m["error_code"], m["error_message"]),
                         ("error_message", "SERVICE_UNAVAILABLE", "busy"))
        self.assertEqual(m["details"], {})
        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        got = self.run_with({"id": "em2", "on": "ws.send", "match": {"name": "agent_started"},
                             "action": {"kind": "replace", "type": "error_message", "text": "x"}})
        self.assertEqual(got[0]["error_code"], "AGENT_ERROR", "the default code")

    def test_stall(self):
        add_rule(self.sim, {"id": "stall", "on": "ws.send", "match": {"name": "tool_executing"},
                            "action": {"kind": "stall"}})

        async def go():
            ws = await connect(self.sim)
            await chat(ws, "first")
            got = [await recv_json(ws) for _ in range(2)]
            self.assertEqual(types(got), ["agent_started", "agent_thinking"])
            await nothing_arrives(self, ws, 0.5)
            # The connection still answers, but the next run queues behind.
            await ws.send(json.dumps({"type": "ping"}))
            self.assertEqual((await recv_json(ws))["type"], "pong")
            await chat(ws, "second")
            await nothing_arrives(self, ws, 0.5)
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)   # protocol pings too
            await ws.close()
            self.assertEqual(ws.close_code, 1000)
        asyncio.run(go())
        self.assertEqual(wait_rule(self.sim, "stall")["fired"], 1)

    def test_misroute_to_another_user(self):
        add_rule(self.sim, {"id": "breach", "on": "ws.send",
                            "match": {"user": "user-alice", "name": "tool_*"},
                            "action": {"kind": "misroute", "user": "user-bob"}})

        async def go():
            bob = await connect(self.sim, "?token=" + self.bob)
            alice = await connect(self.sim, "?token=" + self.alice)
            await chat(alice, "alice's secret")
            a = await until_completed(alice)
            self.assertEqual(types(a), ["agent_started", "agent_thinking", "agent_completed"])
            b = [await recv_json(bob) for _ in range(2)]
            self.assertEqual(types(b), ["tool_executing", "tool_completed"])
            self.assertTrue(all(m["user_id"] == "user-alice" for m in b), b)
            self.assertEqual(b[0]["run_id"], a[0]["run_id"])
            await nothing_arrives(self, bob, 0.3)
            await alice.close()
            await bob.close()
        asyncio.run(go())
        self.assertEqual(wait_rule(self.sim, "breach", 2)["fired"], 2)

    def test_misroute_to_nobody_drops(self):
        got = self.run_with({"id": "nobody", "on": "ws.send", "match": {"name": "agent_thinking"},
                             "action": {"kind": "misroute", "user": "user-nobody"}})
        self.assertEqual(types(got), ["agent_started", "tool_executing", "tool_completed",
                                      "agent_completed"])

    def test_delay_keeps_order(self):
        # A delay much longer than the 50 ms gap: the later events wait behind.
        add_rule(self.sim, {"id": "slow-thinking", "on": "ws.send", "match": {"name": "agent_thinking"},
                            "action": {"kind": "delay", "ms": 400}})

        async def go():
            ws = await connect(self.sim)
            t0 = time.monotonic()
            await chat(ws)
            arrivals = []
            got = []
            while not got or got[-1]["type"] != "agent_completed":
                got.append(await recv_json(ws))
                arrivals.append(time.monotonic() - t0)
            self.assertEqual(types(got), EVENTS, "delayed, not reordered")
            self.assertGreaterEqual(arrivals[1], 0.4)
            await ws.close()
        asyncio.run(go())

    def test_delay_keeps_order_of_replies(self):
        add_rule(self.sim, {"id": "slow-pong", "on": "ws.send", "match": {"name": "pong"},
                            "action": {"kind": "delay", "ms": 300}})

        async def go():
            ws = await connect(self.sim)
            t0 = time.monotonic()
            await ws.send(json.dumps({"type": "ping"}))
            await ws.send(json.dumps({"type": "heartbeat"}))
            got = [await recv_json(ws) for _ in range(2)]
            self.assertEqual(types(got), ["pong", "heartbeat_ack"])
            self.assertGreaterEqual(time.monotonic() - t0, 0.3)
            await ws.close()
        asyncio.run(go())

    def test_delay_never_early(self):
        # A delay counts from when the message came, to the microsecond, not
        # from the start of its millisecond: the pong never comes sooner than
        # 30 ms after the ping left (it did by up to 1 ms, half a millisecond
        # on average). 0.1 ms for the two processes' clocks.
        add_rule(self.sim, {"id": "pong-30", "on": "ws.send", "match": {"name": "pong"},
                            "action": {"kind": "delay", "ms": 30}})

        async def go():
            ws = await connect(self.sim)
            took = []
            for _ in range(20):
                t0 = time.monotonic()
                await ws.send(json.dumps({"type": "ping"}))
                self.assertEqual((await recv_json(ws))["type"], "pong")
                took.append(time.monotonic() - t0)
            await ws.close()
            self.assertGreaterEqual(min(took), 0.0299, "pong after %.3f ms" % (min(took) * 1000))
        asyncio.run(go())

    def test_run_and_msg_ordinals(self):
        # run: per connection from 1; msg: server events per connection from 1
        # (the welcome is msg 1).
        add_rule(self.sim, {"id": "run2", "on": "ws.send", "match": {"name": "agent_thinking", "run": 2},
                            "action": {"kind": "drop"}})
        add_rule(self.sim, {"id": "msg1", "on": "ws.send", "match": {"msg": 1},
                            "action": {"kind": "duplicate"}})

        async def go():
            for _ in range(2):   # ordinals start again on each connection
                ws = await websockets.connect(self.sim.ws_url, open_timeout=10)
                self.assertEqual(types([await recv_json(ws) for _ in range(2)]),
                                 ["connection_established"] * 2)
                await chat(ws, "one")
                await chat(ws, "two")   # queued behind run 1: still run 2
                self.assertEqual(types(await until_completed(ws)), EVENTS)
                self.assertEqual(types(await until_completed(ws)),
                                 ["agent_started", "tool_executing", "tool_completed", "agent_completed"])
                await ws.close()
        asyncio.run(go())
        sends = [j for j in journal(self.sim) if j.get("point") == "send" and j.get("proto") == "ws"]
        last = sends[-1]["conn"]
        mine = [j for j in sends if j["conn"] == last]
        self.assertEqual([j["msg"] for j in mine], list(range(1, len(mine) + 1)))
        self.assertEqual([j.get("run", 0) for j in mine], [0] + [1] * 5 + [2] * 5)


class WsMessageAndAccept(unittest.TestCase):
    """ws.message and ws.accept actions."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()
        cls.alice = login(cls.sim)["access_token"]
        cls.bob = login(cls.sim, "bob@example.com", "bob-password")["access_token"]

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        httpx.delete(self.sim.control_url + "/faults", timeout=10)

    def test_message_replace_handler_missing(self):
        add_rule(self.sim, {"id": "nohandler", "on": "ws.message", "match": {"name": "user_message"},
                            "action": {"kind": "replace", "type": "error_message", "code": "AGENT_ERROR",
                                       "text": HANDLER_MISSING}})

        async def go():
            ws = await connect(self.sim)
            # "chat_message" is an alias: the rule sees user_message.
            for t in ("user_message", "chat_message"):
                await ws.send(json.dumps({"type": t, "message": "hi"}))
                e = await recv_json(ws)
                self.assertEqual((e["type"], e["error_code"], e["error_message"]),
                                 ("error_message", "AGENT_ERROR", HANDLER_MISSING))
            await nothing_arrives(self, ws, 0.4)   # no run was started
            await ws.send(json.dumps({"type": "ping"}))
            self.assertEqual((await recv_json(ws))["type"], "pong")
            await ws.close()
        asyncio.run(go())
        fired = [j for j in journal(self.sim) if j.get("rule") == "nohandler"]
        self.assertEqual([j["name"] for j in fired], ["user_message", "user_message"])
        self.assertEqual([j["run"] for j in fired], [1, 1], "a refused message starts no run")

    def test_message_delay_keeps_order(self):
        add_rule(self.sim, {"id": "slow-ping", "on": "ws.message", "match": {"name": "ping"},
                            "action": {"kind": "delay", "ms": 300}})

        async def go():
            ws = await connect(self.sim)
            t0 = time.monotonic()
            await ws.send(json.dumps({"type": "ping"}))
            await ws.send(json.dumps({"type": "heartbeat"}))
            got = [await recv_json(ws) for _ in range(2)]
            self.assertEqual(types(got), ["pong", "heartbeat_ack"])
            self.assertGreaterEqual(time.monotonic() - t0, 0.3)
            await ws.close()
        asyncio.run(go())

    def test_message_drop_close_abort_hang(self):
        add_rule(self.sim, {"id": "m-drop", "on": "ws.message", "match": {"name": "heartbeat"},
                            "action": {"kind": "drop"}})
        add_rule(self.sim, {"id": "m-close", "on": "ws.message", "match": {"name": "bye"},
                            "action": {"kind": "close", "code": 4001, "reason": "go away"}})
        add_rule(self.sim, {"id": "m-abort", "on": "ws.message", "match": {"name": "cut"},
                            "action": {"kind": "abort"}})
        add_rule(self.sim, {"id": "m-hang", "on": "ws.message", "match": {"name": "freeze"},
                            "action": {"kind": "hang"}})

        async def go():
            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "heartbeat"}))
            await ws.send(json.dumps({"type": "ping"}))
            self.assertEqual((await recv_json(ws))["type"], "pong", "heartbeat dropped")
            await ws.send(json.dumps({"type": "bye"}))
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                await recv_json(ws)
            self.assertEqual((cm.exception.rcvd.code, cm.exception.rcvd.reason), (4001, "go away"))

            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "cut"}))
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                await recv_json(ws)
            self.assertIsNone(cm.exception.rcvd)
            self.assertEqual(ws.close_code, 1006)

            ws = await connect(self.sim)
            await ws.send(json.dumps({"type": "freeze"}))
            await ws.send(json.dumps({"type": "ping"}))
            await nothing_arrives(self, ws, 0.5)
            ws.transport.abort()
        asyncio.run(go())

    def test_accept_replace_keeps_open(self):
        add_rule(self.sim, {"id": "acc-err", "on": "ws.accept",
                            "action": {"kind": "replace", "type": "error_message",
                                       "code": "CONNECTION_ERROR", "text": "Connection error in main mode"}})

        async def go():
            ws = await websockets.connect(self.sim.ws_url, open_timeout=10)
            first = await recv_json(ws)
            self.assertEqual((first["type"], first["error_code"], first["error_message"]),
                             ("error_message", "CONNECTION_ERROR", "Connection error in main mode"))
            await ws.send(json.dumps({"type": "ping"}))
            self.assertEqual((await recv_json(ws))["type"], "pong", "still open")
            await ws.close()
        asyncio.run(go())

    def test_accept_matches_the_authenticated_user(self):
        add_rule(self.sim, {"id": "no-bob", "on": "ws.accept", "match": {"user": "user-bob"},
                            "action": {"kind": "close", "code": 4003, "reason": "bob is out"}})

        async def go():
            ws = await connect(self.sim, "?token=" + self.alice)
            await ws.close()
            ws = await websockets.connect(self.sim.ws_url + "?token=" + self.bob, open_timeout=10)
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                await recv_json(ws)
            self.assertEqual(cm.exception.rcvd.code, 4003)
        asyncio.run(go())
        fired = [j for j in journal(self.sim) if j.get("rule") == "no-bob"]
        self.assertEqual([(j["point"], j["user"]) for j in fired], [("accept", "user-bob")])

    def test_accept_abort_and_hang(self):
        add_rule(self.sim, {"id": "acc-abort", "on": "ws.accept", "first": 1,
                            "action": {"kind": "abort"}})

        async def go():
            with self.assertRaises((websockets.InvalidMessage, ConnectionError, OSError, EOFError)):
                await websockets.connect(self.sim.ws_url, open_timeout=5)
            ws = await connect(self.sim)   # only the first
            await ws.close()
            add_rule(self.sim, {"id": "acc-hang", "on": "ws.accept", "first": 1,
                                "action": {"kind": "hang"}})
            t0 = time.monotonic()
            with self.assertRaises(asyncio.TimeoutError):
                await websockets.connect(self.sim.ws_url, open_timeout=0.5, close_timeout=0.2)
            self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        asyncio.run(go())


class Http(unittest.TestCase):
    """http.request actions on a plain route and on the /ws upgrade."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        httpx.delete(self.sim.control_url + "/faults", timeout=10)

    def rule(self, name, action, **kw):
        rid = "%s-%s" % (action["kind"], name.strip("/").replace("/", "-") or "root")
        add_rule(self.sim, dict({"id": rid, "on": "http.request", "match": {"name": name},
                                 "action": action}, **kw))
        return rid

    def raw(self, request, timeout=5):
        """Sends a raw request; returns (bytes received, how it ended)."""
        s = socket.create_connection(("127.0.0.1", self.sim.backend_port), timeout=timeout)
        s.sendall(request)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return data, "eof"
                data += chunk
        except ConnectionResetError:
            return data, "reset"
        except socket.timeout:
            return data, "timeout"
        finally:
            s.close()

    UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

    def test_status_on_route_and_upgrade(self):
        self.rule("/health", {"kind": "status", "status": 503, "body": "Service Unavailable",
                              "content_type": "text/plain"})
        r = httpx.get(self.sim.backend_url + "/health", timeout=10)
        self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.rule("/ws", {"kind": "status", "status": 503, "body": "Service Unavailable",
                          "content_type": "text/plain"})

        async def go():
            with self.assertRaises(websockets.InvalidStatusCode) as cm:
                await websockets.connect(self.sim.ws_url, open_timeout=10)
            self.assertEqual(cm.exception.status_code, 503)
            self.assertEqual(str(cm.exception), "server rejected WebSocket connection: HTTP 503")
        asyncio.run(go())
        data, end = self.raw(self.UPGRADE)
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data)
        self.assertTrue(data.endswith(b"\r\n\r\nService Unavailable"), data)
        self.assertEqual(end, "eof")

    def test_upgrade_on_a_keepalive_connection(self):
        """An upgrade after a plain request on the same socket crosses too."""
        def keepalive_upgrade():
            s = socket.create_connection(("127.0.0.1", self.sim.backend_port), timeout=2)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            first = b""
            while not first.endswith(b'{"status":"ok"}'):
                first += s.recv(4096)
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first)
            s.sendall(self.UPGRADE)
            data = b""
            try:
                while b"\r\n\r\n" not in data or data.startswith(b"HTTP/1.1 503") and \
                        not data.endswith(b"busy"):
                    chunk = s.recv(4096)
                    if not chunk:
                        return data, "eof"
                    data += chunk
                return data, "open"
            except ConnectionResetError:
                return data, "reset"
            finally:
                s.close()
        self.rule("/ws", {"kind": "status", "status": 503, "body": "busy"})
        data, _ = keepalive_upgrade()
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data)
        self.assertTrue(data.endswith(b"\r\n\r\nbusy"), data)
        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        self.rule("/ws", {"kind": "reset"})
        self.assertEqual(keepalive_upgrade(), (b"", "reset"))
        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        data, end = keepalive_upgrade()
        self.assertTrue(data.startswith(b"HTTP/1.1 101 "), data)

    def test_delay_on_route_and_upgrade(self):
        self.rule("/health", {"kind": "delay", "ms": 300})
        t0 = time.monotonic()
        self.assertEqual(httpx.get(self.sim.backend_url + "/health", timeout=10).status_code, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.rule("/ws", {"kind": "delay", "ms": 400})

        async def go():
            t0 = time.monotonic()
            ws = await connect(self.sim)
            self.assertGreaterEqual(time.monotonic() - t0, 0.4)
            await ws.close()
        asyncio.run(go())

    def test_reset_on_route_and_upgrade(self):
        self.rule("/health", {"kind": "reset"})
        data, end = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((data, end), (b"", "reset"))
        with self.assertRaises(httpx.TransportError):
            httpx.get(self.sim.backend_url + "/health", timeout=5)
        self.rule("/ws", {"kind": "reset"})
        data, end = self.raw(self.UPGRADE)
        self.assertEqual((data, end), (b"", "reset"))

        async def go():
            with self.assertRaises((ConnectionResetError, websockets.InvalidMessage)):
                await websockets.connect(self.sim.ws_url, open_timeout=5)
        asyncio.run(go())

    def test_empty_on_route_and_upgrade(self):
        self.rule("/health", {"kind": "empty"})
        data, end = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((data, end), (b"", "eof"))
        with self.assertRaises(httpx.RemoteProtocolError):
            httpx.get(self.sim.backend_url + "/health", timeout=5)
        self.rule("/ws", {"kind": "empty"})
        data, end = self.raw(self.UPGRADE)
        self.assertEqual((data, end), (b"", "eof"))

        async def go():
            with self.assertRaises(websockets.InvalidMessage):
                await websockets.connect(self.sim.ws_url, open_timeout=5)
        asyncio.run(go())

    def test_slow_on_route_and_upgrade(self):
        self.rule("/", {"kind": "slow", "bytes_per_s": 40})
        t0 = time.monotonic()
        chunks = []
        with httpx.stream("GET", self.sim.backend_url + "/", timeout=10) as r:
            self.assertEqual(r.status_code, 200)
            for c in r.iter_raw():
                chunks.append((time.monotonic() - t0, c))
        body = b"".join(c for _, c in chunks)
        self.assertEqual(json.loads(body), {"message": "Welcome to Netra API"})
        took = chunks[-1][0]
        self.assertGreaterEqual(took, 0.6, "%d bytes at 40 B/s" % len(body))
        self.assertLess(took, 3.0)
        self.assertGreater(len(chunks), 5, "trickled in pieces")
        self.rule("/ws", {"kind": "slow", "bytes_per_s": 400})   # ~160 bytes of 101: ~0.4 s

        async def go():
            t0 = time.monotonic()
            ws = await connect(self.sim)
            self.assertGreaterEqual(time.monotonic() - t0, 0.35)
            await ws.close()
        asyncio.run(go())

    def test_delayed_status_outlives_its_rule(self):
        """A delayed status keeps its content type and body when the rule is
        deleted (DELETE /faults/{id}, /reset) while the reply waits: the reply
        must not point into the freed rule (was a use-after-free)."""
        import threading
        ctype = "application/problem+json-" + "x" * 40
        for remove in ("delete", "reset"):
            add_rule(self.sim, {"id": "slow503", "on": "http.request", "match": {"name": "/health"},
                                "action": {"kind": "status", "status": 503, "body": "{}",
                                           "content_type": ctype, "ms": 1000}})
            got = {}

            def fetch():
                try:
                    got["r"] = httpx.get(self.sim.backend_url + "/health", timeout=10)
                except Exception as e:   # noqa: BLE001 - reported by the assertion below
                    got["e"] = e
            t = threading.Thread(target=fetch)
            t.start()
            wait_rule(self.sim, "slow503")   # fired: the reply waits its 1000 ms
            if remove == "delete":
                r = httpx.delete(self.sim.control_url + "/faults/slow503", timeout=10)
            else:
                r = httpx.post(self.sim.control_url + "/reset", timeout=10)
            self.assertIn(r.status_code, (200, 204), r.text)
            # Some churn so that freed memory is reused.
            for i in range(20):
                add_rule(self.sim, {"id": "churn%d" % i, "on": "http.request",
                                    "match": {"name": "/nowhere"},
                                    "action": {"kind": "status", "status": 500,
                                               "content_type": "text/zzzz" + "z" * 20}})
            httpx.delete(self.sim.control_url + "/faults", timeout=10)
            t.join(15)
            self.assertNotIn("e", got, remove)
            self.assertEqual((got["r"].status_code, got["r"].text), (503, "{}"), remove)
            self.assertEqual(got["r"].headers["content-type"], ctype, remove)
        # The upgrade's delayed refusal keeps the whole content type too.
        add_rule(self.sim, {"id": "slow503ws", "on": "http.request", "match": {"name": "/ws"},
                            "action": {"kind": "status", "status": 503, "body": "{}",
                                       "content_type": ctype, "ms": 300}})
        data, _ = self.raw(self.UPGRADE)
        self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data)
        self.assertIn(b"\r\ncontent-type: " + ctype.encode() + b"\r\n", data)
        httpx.delete(self.sim.control_url + "/faults", timeout=10)
        self.assertEqual(httpx.get(self.sim.backend_url + "/health", timeout=5).status_code, 200)

    def test_hang_on_route_and_upgrade(self):
        self.rule("/health", {"kind": "hang"})
        with self.assertRaises(httpx.ReadTimeout):
            httpx.get(self.sim.backend_url + "/health", timeout=0.5)
        self.rule("/ws", {"kind": "hang"})

        async def go():
            with self.assertRaises(asyncio.TimeoutError):
                await websockets.connect(self.sim.ws_url, open_timeout=0.5, close_timeout=0.2)
        asyncio.run(go())
        self.assertEqual(httpx.get(self.sim.backend_url + "/", timeout=5).status_code, 200,
                         "other routes unaffected")


class Scenarios(unittest.TestCase):
    def test_validate(self):
        for name in ("ws-1011-on-connect.json", "handler-missing.json", "isolation-breach.json",
                     "upgrade-503.json"):
            r = subprocess.run([STAGESIM, "validate", scenario_path(name)], capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)

    def test_ws_1011_on_connect(self):
        with Stagesim(scenario=scenario_path("ws-1011-on-connect.json")) as s:
            async def go():
                ws = await websockets.connect(s.ws_url, open_timeout=10)   # 101: accepted
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.assertEqual(welcome["type"], "connection_established")
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                self.assertEqual((cm.exception.rcvd.code, cm.exception.rcvd.reason),
                                 (1011, "Internal error"))
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.send(json.dumps({"type": "ping"}))
            asyncio.run(go())

    def test_handler_missing(self):
        with Stagesim(scenario=scenario_path("handler-missing.json")) as s:
            async def go():
                ws = await connect(s)
                for i in range(3):
                    await chat(ws, "q%d" % i)
                    e = await recv_json(ws)
                    self.assertEqual((e["type"], e["error_code"], e["error_message"]),
                                     ("error_message", "AGENT_ERROR", HANDLER_MISSING))
                await nothing_arrives(self, ws, 0.3)
                await ws.close()
            asyncio.run(go())
            self.assertEqual(wait_rule(s, "handle-message-missing", 3)["fired"], 3)

    def test_isolation_breach(self):
        with Stagesim(scenario=scenario_path("isolation-breach.json")) as s:
            alice = login(s)["access_token"]
            bob = login(s, "bob@example.com", "bob-password")["access_token"]

            async def go():
                b = await connect(s, "?token=" + bob)
                a = await connect(s, "?token=" + alice)
                await chat(a, "alice private question")
                mine = await until_completed(a)
                leaked = [await recv_json(b) for _ in range(2)]
                self.assertEqual(types(leaked), ["tool_executing", "tool_completed"])
                self.assertEqual({m["user_id"] for m in leaked}, {"user-alice"})
                self.assertEqual({m["run_id"] for m in leaked}, {mine[0]["run_id"]})
                self.assertNotIn("tool_executing", types(mine))
                # Bob's own runs are not affected.
                await chat(b, "bob's question")
                self.assertEqual(types(await until_completed(b)), EVENTS)
                await a.close()
                await b.close()
            asyncio.run(go())

    def test_upgrade_503(self):
        with Stagesim(scenario=scenario_path("upgrade-503.json")) as s:
            async def go():
                t0 = time.monotonic()
                with self.assertRaises(websockets.InvalidStatusCode) as cm:
                    await websockets.connect(s.ws_url, open_timeout=10)
                self.assertEqual(str(cm.exception), "server rejected WebSocket connection: HTTP 503")
                return time.monotonic() - t0
            took = asyncio.run(go())
            rule = httpx.get(s.control_url + "/faults/upgrade-503", timeout=10).json()
            self.assertEqual(rule["fired"], 1)
            self.assertGreaterEqual(took, rule["action"]["ms"] / 1000, "refused after the delay")
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).status_code, 200,
                             "only the upgrade is refused")


if __name__ == "__main__":
    unittest.main()
