"""The golden path end to end with real clients: log in through the auth
service (httpx), check the JWT with PyJWT, open the WebSocket with each of
the three token sources (python-websockets), chat, receive the five events in
order, read the stored thread history with redis-py and through the backend
route, then log out and see the same token refused (1008, 401)."""
import asyncio
import json
import time
import unittest

import httpx
import jwt
import redis
import websockets

from stagesim import Stagesim
from support import wait_for

SECRET = "golden-path-secret-0123456789abcdef0123"
EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


class GoldenPath(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(env={"JWT_SECRET_STAGING": SECRET})
        cls.redis = redis.Redis(host="127.0.0.1", port=cls.sim.redis_port, decode_responses=True)

    @classmethod
    def tearDownClass(cls):
        cls.redis.close()
        code = cls.sim.stop()
        assert code == 0, "stagesim exited %r: %s" % (code, cls.sim.stderr[-3000:])

    def login(self):
        r = httpx.post(self.sim.auth_url + "/auth/login",
                       json={"email": "alice@example.com", "password": "alice-password"})
        self.assertEqual(r.status_code, 200, r.text)
        tok = r.json()["access_token"]
        c = jwt.decode(tok, SECRET, algorithms=["HS256"], audience="netra-platform",
                       issuer="netra-auth-service",
                       options={"require": ["exp", "iat", "sub", "iss", "jti"]})
        self.assertEqual(c["sub"], "user-alice")
        self.assertEqual(c["token_type"], "access")
        self.assertGreater(c["exp"], time.time())
        self.assertTrue(c["jti"])
        return tok

    def connect_kwargs(self, source, tok):
        url = self.sim.ws_url
        if source == "subprotocol":
            return url, {"subprotocols": ["jwt." + tok]}
        if source == "header":
            return url, {"extra_headers": {"Authorization": "Bearer " + tok}}
        return url + "?token=" + tok, {}

    async def chat(self, source, tok, prompt, thread):
        url, kw = self.connect_kwargs(source, tok)
        async with websockets.connect(url, open_timeout=10, **kw) as ws:
            welcome = await recv_json(ws)
            self.assertEqual(welcome["type"], "connection_established")
            self.assertEqual(welcome["data"]["user_id"], "user-alice")
            await ws.send(json.dumps({"type": "user_message",
                                      "payload": {"message": prompt, "thread_id": thread}}))
            evs = []
            while not evs or evs[-1]["type"] != "agent_completed":
                evs.append(await recv_json(ws))
            return evs

    def check_run(self, evs, prompt):
        self.assertEqual([e["type"] for e in evs], EVENTS)
        run_id = evs[0]["run_id"]
        for e in evs:
            for k in ("type", "run_id", "user_id", "agent_name", "timestamp", "data"):
                self.assertIn(k, e)
            self.assertEqual(e["run_id"], run_id)
            self.assertEqual(e["user_id"], "user-alice")
        self.assertIn("reasoning", evs[1]["data"])
        self.assertIn("tool_name", evs[2])
        self.assertIn("parameters", evs[2]["data"])
        self.assertIn("result", evs[3]["data"])
        self.assertIn("execution_time_ms", evs[3]["data"])
        answer = evs[4]["data"]["result"]["response"]
        self.assertTrue(answer.strip())
        self.assertIn(prompt, answer)
        return run_id, answer

    def test_golden_path_each_token_source(self):
        for source in ("subprotocol", "header", "query"):
            with self.subTest(source=source):
                tok = self.login()
                thread = "golden-" + source
                prompt = "How do I reduce costs? (%s)" % source
                evs = run(self.chat(source, tok, prompt, thread))
                run_id, answer = self.check_run(evs, prompt)

                # History in stagesim's Redis, read with redis-py.
                key = "thread:%s:messages" % thread
                items = wait_for(lambda: (lambda v: v if len(v) >= 2 else None)(
                    self.redis.lrange(key, 0, -1)))
                self.assertIsNotNone(items, "history never written")
                msgs = [json.loads(x) for x in items]
                self.assertEqual([m["role"] for m in msgs], ["user", "assistant"])
                self.assertEqual(msgs[0]["content"], prompt)
                self.assertEqual(msgs[1]["content"], answer)
                self.assertTrue(all(m["run_id"] == run_id for m in msgs))
                self.assertTrue(all(m["timestamp"] for m in msgs))

                # The same history through the backend route.
                r = httpx.get(self.sim.backend_url + "/api/threads/%s/messages" % thread,
                              headers={"Authorization": "Bearer " + tok})
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["messages"], msgs)

    def test_history_accumulates_on_a_thread(self):
        tok = self.login()

        async def go():
            url, kw = self.connect_kwargs("subprotocol", tok)
            async with websockets.connect(url, **kw) as ws:
                await recv_json(ws)
                for p in ("one", "two"):
                    await ws.send(json.dumps({"type": "user_message", "message": p,
                                              "thread_id": "acc-thread"}))
                for _ in range(2):
                    evs = []
                    while not evs or evs[-1]["type"] != "agent_completed":
                        evs.append(await recv_json(ws))
        run(go())
        items = wait_for(lambda: (lambda v: v if len(v) >= 4 else None)(
            self.redis.lrange("thread:acc-thread:messages", 0, -1)))
        self.assertIsNotNone(items)
        self.assertEqual([json.loads(x)["content"] for x in items][0::2], ["one", "two"])

    def test_logout_revokes_everywhere(self):
        tok = self.login()
        # Works before logout.
        evs = run(self.chat("subprotocol", tok, "before logout", "logout-thread"))
        self.assertEqual(evs[-1]["type"], "agent_completed")
        r = httpx.post(self.sim.auth_url + "/auth/logout", headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status_code, 200, r.text)
        self.assertEqual(httpx.get(self.sim.auth_url + "/auth/me",
                                   headers={"Authorization": "Bearer " + tok}).status_code, 401)
        self.assertEqual(httpx.get(self.sim.backend_url + "/api/threads/logout-thread/messages",
                                   headers={"Authorization": "Bearer " + tok}).status_code, 401)

        async def refused(source):
            url, kw = self.connect_kwargs(source, tok)
            ws = await websockets.connect(url, **kw)
            err = await recv_json(ws)
            self.assertEqual(err["type"], "error_message")
            self.assertEqual(err["error_code"], "AUTH_FAILED")
            with self.assertRaises(websockets.ConnectionClosed) as cm:
                await asyncio.wait_for(ws.recv(), 5)
            self.assertEqual(cm.exception.rcvd.code, 1008)
            self.assertEqual(cm.exception.rcvd.reason, "Authentication failed")
        for source in ("subprotocol", "header", "query"):
            run(refused(source))


if __name__ == "__main__":
    unittest.main()
