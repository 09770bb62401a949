"""The backend WebSocket (docs/contract.md §2) with python-websockets (Debian's
10.x, legacy client API) against the real binary: token sources and
subprotocol echo, 1003, AUTH_FAILED + 1008 for tampered/expired/alg-none
tokens, the demo user, welcome, ping/heartbeat/ack, JSON errors, 1009,
isolation between users, runs in order, bad input next to a run in progress,
and SIGTERM → 1001 with exit 0."""
import asyncio
import base64
import json
import os
import signal
import socket
import struct
import tempfile
import time
import unittest

import httpx
import jwt
import websockets

from stagesim import Stagesim
from errors_clients import upgrade, ws_frame
from support import add_rule, login, wait_rule

SECRET = "test-secret-for-the-websocket-suite-0123456789"
EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
USERS = [
    {"id": "user-alice", "email": "alice@example.com", "password": "alice-password"},
    {"id": "user-bob", "email": "bob@example.com", "password": "bob-password"},
]


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def expect_close(test, ws, code, reason=None, timeout=5):
    """Reads until the server closes; asserts the close code (and reason)."""
    frames = []
    with test.assertRaises(websockets.ConnectionClosed) as cm:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    test.assertIsNotNone(cm.exception.rcvd, "no close frame received")
    test.assertEqual(cm.exception.rcvd.code, code)
    if reason is not None:
        test.assertEqual(cm.exception.rcvd.reason, reason)
    return frames


async def run_events(ws, timeout=5):
    """Receives one run's events (until agent_completed)."""
    got = []
    while not got or got[-1]["type"] != "agent_completed":
        got.append(await recv_json(ws, timeout))
    return got


def claims(sub="user-alice", exp_in=600, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + exp_in, "token_type": "access", "type": "access",
         "iss": "netra-auth-service", "aud": "netra-platform", "jti": "jti-%d" % now,
         "env": "staging", "email": "alice@example.com", "permissions": []}
    c.update(extra)
    return c


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


class WebSocket(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(env={"JWT_SECRET_STAGING": SECRET})
        cls.token = login(cls.sim)["access_token"]
        cls.bob_token = login(cls.sim, "bob@example.com", "bob-password")["access_token"]

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        assert code == 0, "stagesim exited %r: %s" % (code, cls.sim.stderr[-3000:])

    def url(self, path="/ws", query=""):
        return "ws://127.0.0.1:%d%s%s" % (self.sim.backend_port, path, query)

    async def open(self, path="/ws", query="", **kw):
        ws = await websockets.connect(self.url(path, query), open_timeout=10, **kw)
        welcome = await recv_json(ws)
        self.assertEqual(welcome["type"], "connection_established", welcome)
        return ws, welcome

    # ---- token sources and subprotocols --------------------------------

    def test_token_sources(self):
        async def go():
            tok = self.token
            cases = [
                ({"subprotocols": ["jwt." + tok]}, "", "jwt." + tok),
                ({"subprotocols": ["jwt-auth." + tok]}, "", "jwt-auth." + tok),
                ({"subprotocols": ["bearer." + tok]}, "", "bearer." + tok),
                ({"subprotocols": ["jwt." + b64url(tok.encode())]}, "", "jwt." + b64url(tok.encode())),
                ({"subprotocols": ["chat", "jwt-auth", "jwt." + tok]}, "", "jwt." + tok),
                ({"extra_headers": {"Authorization": "Bearer " + tok}}, "", None),
                ({}, "?token=" + tok, None),
                ({}, "?jwt=" + tok, None),
                ({}, "?access_token=" + tok, None),
            ]
            for kw, query, echo in cases:
                for path in ("/ws", "/api/v1/websocket"):
                    ws, welcome = await self.open(path, query, **kw)
                    self.assertEqual(welcome["data"]["user_id"], "user-alice", (kw, query))
                    self.assertEqual(ws.subprotocol, echo, (kw, query))
                    await ws.close()
        run(go())

    def test_welcome_shape(self):
        async def go():
            ws, w = await self.open(subprotocols=["jwt." + self.token])
            self.assertEqual(w["type"], "connection_established")
            d = w["data"]
            self.assertEqual(d["mode"], "main")
            self.assertEqual(d["user_id"], "user-alice")
            self.assertRegex(d["connection_id"], r"^main_[0-9a-f]+$")
            self.assertEqual(d["golden_path_events"], EVENTS)
            self.assertRegex(d["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
            self.assertIsInstance(w["timestamp"], float)
            self.assertIsNone(w["server_id"])
            self.assertIsNone(w["correlation_id"])
            await ws.close()
        run(go())

    def test_unsupported_subprotocol_1003(self):
        async def go():
            ws = await websockets.connect(self.url(), subprotocols=["chat", "graphql-ws"])
            self.assertIsNone(ws.subprotocol)
            await expect_close(self, ws, 1003, "No supported subprotocols")
        run(go())

    def test_bad_tokens_auth_failed_1008(self):
        now = int(time.time())
        good = jwt.encode(claims(), SECRET, algorithm="HS256")
        head, body, sig = self.token.split(".")
        forged_claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        forged_claims["sub"] = "user-bob"
        tampered_payload = ".".join([head, b64url(json.dumps(forged_claims).encode()), sig])
        tampered_sig = ".".join([head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")])
        expired = jwt.encode(claims(exp_in=-60, iat=now - 3600), SECRET, algorithm="HS256")
        alg_none = ".".join([b64url(b'{"alg":"none","typ":"JWT"}'),
                             b64url(json.dumps(claims()).encode()), ""])
        wrong_secret = jwt.encode(claims(), "another-secret-entirely-0123456789", algorithm="HS256")
        wrong_alg = jwt.encode(claims(), SECRET, algorithm="HS512")

        async def go():
            # The PyJWT token signed with the configured secret is accepted:
            # the bad ones below fail for their flaw, not for being foreign.
            ws, w = await self.open(subprotocols=["jwt." + good])
            self.assertEqual(w["data"]["user_id"], "user-alice")
            await ws.close()
            for name, tok in (("tampered payload", tampered_payload),
                              ("tampered signature", tampered_sig), ("expired", expired),
                              ("alg none", alg_none), ("wrong secret", wrong_secret),
                              ("HS512", wrong_alg), ("garbage", "not-a-token")):
                for kw, query in (({"subprotocols": ["jwt." + tok]}, ""),
                                  ({"extra_headers": {"Authorization": "Bearer " + tok}}, ""),
                                  ({}, "?token=" + tok)):
                    ws = await websockets.connect(self.url(query=query), **kw)
                    frames = await expect_close(self, ws, 1008, "Authentication failed")
                    self.assertEqual(len(frames), 1, name)
                    self.assertEqual(frames[0]["type"], "error_message", name)
                    self.assertEqual(frames[0]["error_code"], "AUTH_FAILED", name)
        run(go(), timeout=60)

    def test_no_token_demo_user(self):
        async def go():
            ws, w = await self.open()
            self.assertEqual(w["data"]["user_id"], "demo-user-001")
            await ws.send(json.dumps({"type": "user_message", "message": "demo?"}))
            evs = await run_events(ws)
            self.assertEqual([e["type"] for e in evs], EVENTS)
            self.assertTrue(all(e["user_id"] == "demo-user-001" for e in evs))
            await ws.close()
        run(go())

    def test_wrong_path_404(self):
        async def go():
            for path in ("/websocket", "/nope"):
                with self.assertRaises(websockets.InvalidStatusCode) as cm:
                    await websockets.connect(self.url(path))
                self.assertEqual(cm.exception.status_code, 404)
        run(go())

    # ---- client messages ---------------------------------------------------

    def test_ping_heartbeat_ack_and_errors(self):
        async def go():
            ws, _ = await self.open(extra_headers={"Authorization": "Bearer " + self.token})
            await ws.send(json.dumps({"type": "ping"}))
            r = await recv_json(ws)
            self.assertEqual(r["type"], "pong")
            self.assertEqual(r["data"]["user_id"], "user-alice")
            self.assertIsInstance(r["timestamp"], float)
            await ws.send(json.dumps({"type": "heartbeat"}))
            self.assertEqual((await recv_json(ws))["type"], "heartbeat_ack")
            await ws.send(json.dumps({"type": "pong"}))          # no answer
            await ws.send(json.dumps({"type": "get_thread_list", "payload": {}}))
            r = await recv_json(ws)
            self.assertEqual(r, {"type": "ack", "received_type": "get_thread_list",
                                 "status": "acknowledged", "timestamp": r["timestamp"]})
            for bad in ("{not json", "", "[1, 2", "\u00e9t\u00e9"):
                await ws.send(bad)
                r = await recv_json(ws)
                self.assertEqual(r["type"], "error_message", bad)
                self.assertEqual(r["error_code"], "JSON_PARSE_ERROR", bad)
            await ws.send(json.dumps([1, 2]))
            self.assertEqual((await recv_json(ws))["error_code"], "FORMAT_ERROR")
            # A chat message without text starts no run: the next answer is the pong.
            await ws.send(json.dumps({"type": "user_message", "payload": {}}))
            await ws.send(json.dumps({"type": "ping"}))
            self.assertEqual((await recv_json(ws))["type"], "pong")
            # Still open and working after all of that.
            await ws.send(json.dumps({"type": "chat_message", "payload": {"content": "still?"}}))
            self.assertEqual([e["type"] for e in await run_events(ws)], EVENTS)
            await ws.close()
        run(go())

    def test_aliases_start_runs(self):
        async def go():
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            msgs = [({"type": "message", "content": "a1"}, "a1"),
                    ({"type": "user", "payload": {"text": "a2"}}, "a2"),
                    ({"type": "user_input", "payload": {"message": "a3"}}, "a3"),
                    ({"type": "chat", "message": "a4"}, "a4"),
                    ({"type": "execute_agent", "payload": {"user_request": "a5"}}, "a5"),
                    ({"type": "start_agent", "user_request": "a6"}, "a6")]
            for m, _ in msgs:
                await ws.send(json.dumps(m))
            for m, prompt in msgs:
                evs = await run_events(ws)
                self.assertEqual([e["type"] for e in evs], EVENTS, m)
                self.assertIn('"%s"' % prompt, evs[-1]["data"]["result"]["response"], m)
            await ws.close()
        run(go())

    def test_oversize_1009(self):
        async def go():
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            await ws.send(json.dumps({"type": "user_message", "message": "x" * 9000}))
            await expect_close(self, ws, 1009)
            # Exactly at the limit is fine.
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            msg = json.dumps({"type": "ping", "pad": ""})
            msg = msg[:-2] + "x" * (8192 - len(msg)) + "\"}"
            self.assertEqual(len(msg), 8192)
            await ws.send(msg)
            self.assertEqual((await recv_json(ws))["type"], "pong")
            await ws.close()
        run(go())

    # ---- runs ---------------------------------------------------------------

    def test_event_fields(self):
        async def go():
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            await ws.send(json.dumps({"type": "user_message",
                                      "payload": {"message": "fields?", "thread_id": "th-f"}}))
            evs = await run_events(ws)
            self.assertEqual([e["type"] for e in evs], EVENTS)
            run_id = evs[0]["run_id"]
            self.assertRegex(run_id, r"^run_")
            for e in evs:
                self.assertEqual(e["run_id"], run_id)
                self.assertEqual(e["user_id"], "user-alice")
                self.assertEqual(e["agent_name"], "supervisor")
                self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT")
                self.assertIsInstance(e["data"], dict)
            self.assertEqual(evs[0]["data"]["status"], "started")
            d = evs[1]["data"]
            self.assertTrue(d["reasoning"])
            self.assertEqual((d["step_number"], d["progress_percentage"]), (1, 10))
            self.assertIn(evs[2]["tool_name"], ("search_knowledge_base", "analyze_data"))
            self.assertEqual(evs[2]["tool_name"], evs[3]["tool_name"])
            self.assertIsInstance(evs[2]["data"]["parameters"], dict)
            self.assertIsInstance(evs[3]["data"]["result"], dict)
            self.assertIsInstance(evs[3]["data"]["execution_time_ms"], (int, float))
            self.assertEqual(evs[4]["data"]["status"], "completed")
            self.assertIn("fields?", evs[4]["data"]["result"]["response"])
            # A client-chosen run_id is kept.
            await ws.send(json.dumps({"type": "user_message", "message": "x", "run_id": "mine-1"}))
            self.assertTrue(all(e["run_id"] == "mine-1" for e in await run_events(ws)))
            await ws.close()
        run(go())

    def test_several_messages_run_in_order(self):
        async def go():
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            prompts = ["first question", "second question", "third question"]
            for p in prompts:
                await ws.send(json.dumps({"type": "user_message", "message": p}))
            run_ids = []
            for p in prompts:
                evs = await run_events(ws)
                self.assertEqual([e["type"] for e in evs], EVENTS)
                self.assertEqual(len({e["run_id"] for e in evs}), 1)
                self.assertIn(p, evs[-1]["data"]["result"]["response"])
                run_ids.append(evs[0]["run_id"])
            self.assertEqual(len(set(run_ids)), 3)
            await ws.close()
        run(go())

    def test_answers_deterministic_and_prompt_dependent(self):
        async def answer(p):
            ws, _ = await self.open(subprotocols=["jwt." + self.token])
            await ws.send(json.dumps({"type": "user_message", "message": p}))
            ans = (await run_events(ws))[-1]["data"]["result"]["response"]
            await ws.close()
            return ans

        async def go():
            a1, a2, b = await answer("same prompt"), await answer("same prompt"), await answer("other")
            self.assertTrue(a1)
            self.assertNotEqual(a1, b)
            # The digest part comes from the prompt only.
            self.assertEqual(a1.replace("search_knowledge_base", "T").replace("analyze_data", "T"),
                             a2.replace("search_knowledge_base", "T").replace("analyze_data", "T"))
        run(go())

    def test_two_users_isolated(self):
        async def go():
            a, wa = await self.open(subprotocols=["jwt." + self.token])
            b, wb = await self.open(subprotocols=["jwt." + self.bob_token])
            self.assertEqual(wb["data"]["user_id"], "user-bob")
            await a.send(json.dumps({"type": "user_message", "message": "alice asks"}))
            await b.send(json.dumps({"type": "user_message", "message": "bob asks"}))
            ea, eb = await asyncio.gather(run_events(a), run_events(b))
            self.assertTrue(all(e["user_id"] == "user-alice" for e in ea))
            self.assertTrue(all(e["user_id"] == "user-bob" for e in eb))
            self.assertIn("alice asks", ea[-1]["data"]["result"]["response"])
            self.assertIn("bob asks", eb[-1]["data"]["result"]["response"])
            self.assertFalse({e["run_id"] for e in ea} & {e["run_id"] for e in eb})
            # Nothing more arrives on either side.
            for ws in (a, b):
                await ws.send(json.dumps({"type": "ping"}))
                self.assertEqual((await recv_json(ws))["type"], "pong")
                await ws.close()
        run(go())

    def test_bad_input_does_not_disturb_a_run_in_progress(self):
        async def go():
            good, _ = await self.open(subprotocols=["jwt." + self.token])
            await good.send(json.dumps({"type": "user_message", "message": "long run"}))
            first = await recv_json(good)
            self.assertEqual(first["type"], "agent_started")
            # Meanwhile, on other connections:
            bad, _ = await self.open(subprotocols=["jwt." + self.bob_token])
            await bad.send("{broken")
            self.assertEqual((await recv_json(bad))["error_code"], "JSON_PARSE_ERROR")
            await bad.send("y" * 10000)
            await expect_close(self, bad, 1009)
            ws = await websockets.connect(self.url(), subprotocols=["nope"])
            await expect_close(self, ws, 1003)
            ws = await websockets.connect(self.url(), subprotocols=["jwt.abc.def.ghi"])
            await expect_close(self, ws, 1008)
            rest = await run_events(good)
            self.assertEqual([first["type"]] + [e["type"] for e in rest], EVENTS)
            self.assertTrue(all(e["run_id"] == first["run_id"] for e in rest))
            await good.close()
        run(go())

    # ---- per-connection queue caps (1013) --------------------------------

    async def flood(self, ws, msg, count):
        """Sends msg up to count times; stops when the server has closed."""
        sent = 0
        try:
            for _ in range(count):
                await ws.send(msg)
                sent += 1
        except websockets.ConnectionClosed:
            pass
        return sent

    def test_flood_of_runs_closes_1013_others_unaffected(self):
        """More than 100 chat messages waiting for their run: 1013 on that
        connection only (the queue used to grow without bound)."""
        async def go():
            bob, _ = await self.open(subprotocols=["jwt." + self.bob_token])
            flooder, _ = await self.open(subprotocols=["jwt." + self.token])
            chat = json.dumps({"type": "user_message", "message": "again"})
            await self.flood(flooder, chat, 5000)
            frames = await expect_close(self, flooder, 1013, "Too many pending messages")
            self.assertLess(len(frames), 50, "pending events are dropped, the close comes first")
            await bob.send(json.dumps({"type": "user_message", "message": "bob asks"}))
            self.assertEqual([e["type"] for e in await run_events(bob)], EVENTS)
            # The cap is per connection: a fresh one from the same user works.
            again, _ = await self.open(subprotocols=["jwt." + self.token])
            for _ in range(50):
                await again.send(chat)
            for _ in range(2):
                self.assertEqual([e["type"] for e in await run_events(again)], EVENTS)
            await again.close()
            await bob.close()
        run(go(), timeout=60)

    def test_flood_of_queued_messages_closes_1013(self):
        """Messages held behind a delayed one: more than 1000 → 1013."""
        import httpx
        rule = {"id": "slow-ping", "on": "ws.message", "match": {"name": "ping"}, "times": 1,
                "action": {"kind": "delay", "ms": 20000}}
        r = httpx.post(self.sim.control_url + "/faults", json=rule, timeout=10)
        self.assertEqual(r.status_code, 201, r.text)
        try:
            async def go():
                bob, _ = await self.open(subprotocols=["jwt." + self.bob_token])
                flooder, _ = await self.open(subprotocols=["jwt." + self.token])
                t0 = time.monotonic()
                await self.flood(flooder, json.dumps({"type": "ping"}), 5000)
                frames = await expect_close(self, flooder, 1013, "Too many pending messages")
                self.assertEqual(frames, [], "the queued pings were never answered")
                self.assertLess(time.monotonic() - t0, 15, "closed at the cap, not after the delay")
                await bob.send(json.dumps({"type": "ping"}))
                self.assertEqual((await recv_json(bob))["type"], "pong")
                await bob.send(json.dumps({"type": "user_message", "message": "bob asks"}))
                self.assertEqual([e["type"] for e in await run_events(bob)], EVENTS)
                await bob.close()
            run(go(), timeout=60)
        finally:
            httpx.delete(self.sim.control_url + "/faults/slow-ping", timeout=10)



def server_frames(data):
    """The complete server frames at the start of data: ([(opcode, payload)], the rest)."""
    frames, at = [], 0
    while len(data) - at >= 2:
        n, head = data[at + 1] & 0x7f, 2
        if n == 126:
            if len(data) - at < 4:
                break
            n, head = struct.unpack_from("!H", data, at + 2)[0], 4
        elif n == 127:
            if len(data) - at < 10:
                break
            n, head = struct.unpack_from("!Q", data, at + 2)[0], 10
        if len(data) - at < head + n:
            break
        frames.append((data[at] & 0x0f, bytes(data[at + head:at + head + n])))
        at += head + n
    return frames, data[at:]


class SlowReader(unittest.TestCase):
    """A client that reads nothing while its runs go out (gap 0, 3000 runs,
    about 5 MB: more than the kernel's send buffer takes, 4 MB at most): the
    server writes what the socket takes, lws keeps the rest, and what the
    session makes after that waits for the socket (docs/libraries.md §2.8).
    Once the client reads, it gets every event of every run, in order,
    nothing twice."""

    RUNS = 3000

    def test_late_reader_gets_every_event_in_order(self):
        scen = {"name": "gap0", "users": USERS, "agent": {"name": "supervisor", "gap_ms": 0}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                add_rule(s, {"id": "run-done", "on": "ws.send",
                             "match": {"name": "agent_completed"}, "action": {"kind": "mark"}})
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a small window
                sock.settimeout(10)
                sock.connect(("127.0.0.1", s.backend_port))
                try:
                    sock.sendall(upgrade())
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += sock.recv(4096)
                    head, data = data.split(b"\r\n\r\n", 1)
                    self.assertIn(b" 101 ", head.split(b"\r\n")[0])
                    chats = b"".join(ws_frame(1, json.dumps({"type": "user_message",
                                                             "message": "late %d" % i,
                                                             "thread_id": "t-late"}).encode())
                                     for i in range(self.RUNS))
                    sock.sendall(chats)
                    # Every run has been handed out before the client reads a byte.
                    r = wait_rule(s, "run-done", self.RUNS, timeout_ms=60000)
                    self.assertEqual(r.status_code, 200, r.text)
                    texts = []
                    while len(texts) < 1 + self.RUNS * len(EVENTS):
                        frames, data = server_frames(data)
                        for op, payload in frames:
                            self.assertEqual(op, 1, payload[:80])
                            texts.append(json.loads(payload))
                        if len(texts) < 1 + self.RUNS * len(EVENTS):
                            chunk = sock.recv(65536)
                            self.assertTrue(chunk, "the server closed after %d messages" % len(texts))
                            data += chunk
                finally:
                    sock.close()
                self.assertEqual(texts[0]["type"], "connection_established")
                got = [m["type"] for m in texts[1:]]
                self.assertEqual(got, EVENTS * self.RUNS)
                queries = [m["data"]["parameters"]["query"] for m in texts[1:]
                           if m["type"] == "tool_executing"]
                self.assertEqual(queries, ["late %d" % i for i in range(self.RUNS)])
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(f.name)


class NoTokenReject(unittest.TestCase):
    def test_reject_403(self):
        scen = {"name": "reject", "users": USERS, "websocket": {"no_token": "reject"}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                async def go():
                    with self.assertRaises(websockets.InvalidStatusCode) as cm:
                        await websockets.connect(s.ws_url)
                    self.assertEqual(cm.exception.status_code, 403)
                    tok = login(s)["access_token"]
                    ws = await websockets.connect(s.ws_url, subprotocols=["jwt." + tok])
                    self.assertEqual((await recv_json(ws))["data"]["user_id"], "user-alice")
                    await ws.close()
                run(go())
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(f.name)


class ServicesDisagree(unittest.TestCase):
    """The backend and the auth service disagree on a token (CONTRACT I7;
    docs/scenarios.md auth.backend_clock_skew_ms, auth.backend_jwt_secret):
    the auth service's /auth/validate says valid while the backend refuses
    it, over the WebSocket and on a Bearer route."""

    def check(self, auth, ws_text, bearer_text="Invalid authentication credentials"):
        scen = {"name": "disagree", "users": USERS, "auth": dict(auth, jwt_secret=SECRET)}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                tok = login(s)["access_token"]
                r = httpx.post(s.auth_url + "/auth/validate", json={"token": tok}, timeout=10)
                self.assertEqual(r.json()["valid"], True, "the auth service says valid")
                r = httpx.post(s.http_url + "/api/threads/create", timeout=10, json={},
                              headers={"Authorization": "Bearer " + tok})
                self.assertEqual((r.status_code, r.json()), (401, {"detail": bearer_text}))

                async def go():
                    ws = await websockets.connect(s.ws_url + "?token=" + tok)
                    frames = await expect_close(self, ws, 1008, "Authentication failed")
                    return frames
                frames = run(go())
                self.assertEqual([(f["type"], f["error_code"], f["error_message"]) for f in frames],
                                 [("error_message", "AUTH_FAILED", ws_text)])
        finally:
            os.unlink(f.name)

    def test_backend_clock_behind(self):
        """Behind by 5 s, a fresh token's iat is in the backend's future:
        PyJWT's ImmatureSignatureError, which the backend reports as an
        invalid token."""
        self.check({"backend_clock_skew_ms": -5000}, "Authentication failed: Invalid token")

    def test_backend_clock_ahead_by_the_lifetime(self):
        self.check({"backend_clock_skew_ms": 1801000}, "Authentication failed: Token has expired",
                   "Token has expired")

    def test_other_secret(self):
        self.check({"backend_jwt_secret": "not-the-auth-services-secret-0123456789"},
                   "Authentication failed: Invalid token")


class Heartbeat(unittest.TestCase):
    """Staging's keep-alive, with short timings: a heartbeat after heartbeat_s
    of client silence, close 1011 after heartbeat_timeout_s; any client frame
    (a pong) resets both."""

    def test_heartbeat_then_timeout_and_pong_keeps_alive(self):
        scen = {"name": "hb", "users": USERS, "websocket": {"heartbeat_s": 1, "heartbeat_timeout_s": 2}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                async def silent():
                    # t0 before the connection: the server's silence starts
                    # at or after it, so the lower bounds below always hold.
                    t0 = time.monotonic()
                    ws = await websockets.connect(s.ws_url)
                    await recv_json(ws)
                    hb = await recv_json(ws, timeout=5)
                    self.assertEqual(hb["type"], "heartbeat")
                    self.assertEqual(hb["data"]["user_id"], "demo-user-001")
                    self.assertGreaterEqual(time.monotonic() - t0, 0.9)
                    frames = await expect_close(self, ws, 1011, "Heartbeat timeout")
                    self.assertEqual(frames, [], "one heartbeat per silence, then the close")
                    self.assertGreaterEqual(time.monotonic() - t0, 1.9)

                async def answering():
                    ws = await websockets.connect(s.ws_url)
                    await recv_json(ws)
                    t0 = time.monotonic()
                    beats = 0
                    while time.monotonic() - t0 < 3.5:   # longer than the timeout
                        try:
                            m = await recv_json(ws, timeout=0.5)
                        except asyncio.TimeoutError:
                            continue
                        self.assertEqual(m["type"], "heartbeat")
                        beats += 1
                        await ws.send(json.dumps({"type": "pong"}))
                    self.assertGreaterEqual(beats, 2)
                    # Still open: a ping is answered. The server's next
                    # heartbeat may be on its way before the ping arrives
                    # (its silence timer runs on its own), so heartbeats may
                    # come first; anything else may not.
                    await ws.send(json.dumps({"type": "ping"}))
                    m = await recv_json(ws)
                    if m["type"] == "heartbeat":
                        m = await recv_json(ws)
                    self.assertEqual(m["type"], "pong", "still open")
                    await ws.close()

                async def both():
                    await asyncio.gather(silent(), answering())
                run(both())
        finally:
            os.unlink(f.name)


class LegacyProfile(unittest.TestCase):
    def test_legacy_shapes(self):
        scen = {"name": "legacy", "profile": "legacy", "users": USERS}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                async def go():
                    tok = login(s)["access_token"]
                    base = "ws://127.0.0.1:%d" % s.backend_port
                    with self.assertRaises(websockets.InvalidStatusCode) as cm:
                        await websockets.connect(base + "/api/v1/websocket?token=" + tok)
                    self.assertEqual(cm.exception.status_code, 404)
                    ws = await websockets.connect(base + "/websocket", subprotocols=["jwt." + tok])
                    w = await recv_json(ws)
                    self.assertEqual(w["type"], "system_message")
                    self.assertEqual(w["data"]["event"], "connection_established")
                    self.assertTrue(w["data"]["connection_ready"])
                    self.assertEqual(w["data"]["user_id"], "user-alice")
                    # Oversized messages are dropped, the connection stays.
                    await ws.send("z" * 9000)
                    await ws.send(json.dumps({"type": "user_message", "message": "legacy?"}))
                    evs = await run_events(ws)
                    self.assertEqual([e["type"] for e in evs], EVENTS)
                    for e in evs:
                        self.assertNotIn("data", e)
                        self.assertEqual(e["payload"]["user_id"], "user-alice")
                    self.assertIn("tool_name", evs[2]["payload"])
                    self.assertIn("legacy?", evs[4]["payload"]["result"]["response"])
                    await ws.close()
                run(go())
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(f.name)


class Shutdown(unittest.TestCase):
    def test_sigterm_sends_1001_and_exits_0(self):
        s = Stagesim()
        try:
            async def go():
                clients = [await websockets.connect(s.ws_url) for _ in range(3)]
                for ws in clients:
                    self.assertEqual((await recv_json(ws))["type"], "connection_established")
                await clients[0].send(json.dumps({"type": "user_message", "message": "bye?"}))
                self.assertEqual((await recv_json(clients[0]))["type"], "agent_started")
                s.proc.send_signal(signal.SIGTERM)
                for ws in clients:
                    with self.assertRaises(websockets.ConnectionClosed) as cm:
                        while True:
                            await asyncio.wait_for(ws.recv(), 10)
                    self.assertIsNotNone(cm.exception.rcvd)
                    self.assertEqual(cm.exception.rcvd.code, 1001)
            run(go())
            self.assertEqual(s.proc.wait(timeout=15), 0)
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
