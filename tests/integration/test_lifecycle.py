"""Service life cycle (docs/lifecycle.md): crash, restart, drain, cold
redeploy (S16) and a service that cannot start (S25), from POST /lifecycle
and from the scenario's timeline, seen with real clients."""
import asyncio
import json
import os
import socket
import subprocess
import tempfile
import unittest

import httpx
import redis
import websockets

from stagesim import Stagesim
from support import STAGESIM, login, wait_for

USERS = [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"}]
S25 = "The request failed because the instance could not start successfully."


def write_scenario(**extra):
    s = {"name": "lifecycle", "users": USERS, "agent": {"gap_ms": 5}}
    s.update(extra)
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(s, f)
    f.close()
    return f.name


def lifecycle(s, **step):
    return httpx.post(s.control_url + "/lifecycle", json=step, timeout=10)


def state(s, service):
    return httpx.get(s.control_url + "/lifecycle", timeout=10).json()["services"][service]["state"]


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def journal(s, event="lifecycle"):
    r = httpx.get(s.control_url + "/journal", params={"since": 0}, timeout=10)
    return [l for l in map(json.loads, r.text.splitlines()) if l.get("event") == event]


class Crash(unittest.TestCase):
    def setUp(self):
        self.path = write_scenario()

    def tearDown(self):
        os.unlink(self.path)

    def test_backend_crash_cuts_and_comes_back(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]

            async def go():
                ws = await websockets.connect(s.ws_url + "?token=" + tok, open_timeout=10)
                await asyncio.wait_for(ws.recv(), 10)   # welcome
                r = lifecycle(s, service="backend", action="crash", ms=800)
                self.assertEqual(r.status_code, 200, r.text)
                self.assertEqual(r.json()["services"]["backend"]["state"], "down")
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    await asyncio.wait_for(ws.recv(), 10)
                # A dying process sends no close frame.
                self.assertIsNone(cm.exception.rcvd)
                self.assertEqual(cm.exception.code, 1006)
            asyncio.run(go())
            self.assertTrue(refused(s.backend_port), "the port stops listening")
            self.assertEqual(httpx.get(s.auth_url + "/health", timeout=10).status_code, 200,
                             "other services are not affected")
            self.assertTrue(wait_for(lambda: state(s, "backend") == "running", timeout=15))
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).json(),
                             {"status": "ok"})
            self.assertEqual([(l["action"], l["state"]) for l in journal(s)],
                             [("crash", "down"), ("start", "running")])
            self.assertEqual(journal(s)[0]["ms"], 800)
            self.assertEqual(s.stop(), 0)

    def test_redis_restart_keeps_or_loses_data(self):
        with Stagesim(scenario=self.path) as s:
            redis.Redis(port=s.redis_port).set("k", "v")
            client = socket.create_connection(("127.0.0.1", s.redis_port), timeout=10)
            client.sendall(b"PING\r\n")
            self.assertEqual(client.recv(64), b"+PONG\r\n")
            self.assertEqual(lifecycle(s, service="redis", action="restart").status_code, 200)
            self.assertEqual(client.recv(64), b"", "the old connection is closed")
            client.close()
            self.assertEqual(redis.Redis(port=s.redis_port).get("k"), b"v", "keep_state by default")
            self.assertEqual(lifecycle(s, service="redis", action="restart",
                                       keep_state=False).status_code, 200)
            self.assertIsNone(redis.Redis(port=s.redis_port).get("k"), "restarted empty")
            self.assertEqual(s.stop(), 0)

    def test_auth_crash_forgets_registered_users_unless_kept(self):
        with Stagesim(scenario=self.path) as s:
            body = {"email": "new@example.com", "password": "pw-123456"}
            self.assertEqual(httpx.post(s.auth_url + "/auth/register", json=body).status_code, 200)
            self.assertEqual(lifecycle(s, service="auth", action="crash").status_code, 200)
            self.assertTrue(refused(s.auth_port))
            self.assertEqual(state(s, "auth"), "down")
            self.assertEqual(lifecycle(s, service="auth", action="start").status_code, 200)
            self.assertEqual(httpx.post(s.auth_url + "/auth/login", json=body).status_code, 200)
            self.assertEqual(lifecycle(s, service="auth", action="restart",
                                       keep_state=False).status_code, 200)
            self.assertEqual(httpx.post(s.auth_url + "/auth/login", json=body).status_code, 401)
            self.assertEqual(login(s)["token_type"], "Bearer", "scenario users stay")
            self.assertEqual(s.stop(), 0)


class DrainRedeployCannotStart(unittest.TestCase):
    def setUp(self):
        self.path = write_scenario()

    def tearDown(self):
        os.unlink(self.path)

    def test_drain_says_goodbye_then_refuses(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]

            async def go():
                ws = await websockets.connect(s.ws_url + "?token=" + tok, open_timeout=10)
                await asyncio.wait_for(ws.recv(), 10)
                self.assertEqual(lifecycle(s, service="backend", action="drain").status_code, 200)
                with self.assertRaises(websockets.ConnectionClosed) as cm:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                self.assertEqual(cm.exception.rcvd.code, 1001)
                self.assertEqual(cm.exception.rcvd.reason, "Server shutting down")
                with self.assertRaises(websockets.InvalidStatusCode) as cm:
                    await websockets.connect(s.ws_url + "?token=" + tok, open_timeout=10)
                self.assertEqual(str(cm.exception), "server rejected WebSocket connection: HTTP 503")
            asyncio.run(go())
            r = httpx.get(s.backend_url + "/health", timeout=10)
            self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
            r = lifecycle(s, service="backend", action="crash")
            self.assertEqual(r.status_code, 409)
            self.assertEqual(r.json()["detail"], "backend is draining: only start applies")
            self.assertEqual(lifecycle(s, service="backend", action="start").status_code, 200)
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).status_code, 200)
            self.assertEqual(s.stop(), 0)

    def test_cold_redeploy_s16(self):
        """S16: every /api/* 500 while /health 503; WebSocket upgrades 500,
        503, 500, then handshake timeouts."""
        with Stagesim(scenario=self.path) as s:
            self.assertEqual(lifecycle(s, service="backend", action="redeploy",
                                       ms=600000).status_code, 200)
            self.assertEqual(httpx.get(s.backend_url + "/api/mcp/servers").status_code, 500)
            self.assertEqual(httpx.get(s.backend_url + "/api/v1/anything").status_code, 500)
            r = httpx.get(s.backend_url + "/health")
            self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))

            async def upgrade():
                try:
                    await websockets.connect(s.ws_url, open_timeout=1.5)
                except websockets.InvalidStatusCode as e:
                    return str(e)
                except asyncio.TimeoutError:
                    # S4's "timed out during opening handshake" is the text of
                    # websockets >= 11; Debian 12's 10.4 raises it bare.
                    return "timeout"
                return "accepted"

            seen = [asyncio.run(upgrade()) for _ in range(4)]
            self.assertEqual(seen[:3], ["server rejected WebSocket connection: HTTP %d" % c
                                        for c in (500, 503, 500)])
            self.assertEqual(seen[3], "timeout")
            self.assertEqual(lifecycle(s, service="backend", action="start").status_code, 200)
            self.assertEqual(httpx.get(s.backend_url + "/api/mcp/servers").status_code, 200)
            self.assertEqual(s.stop(), 0)

    def test_cannot_start_s25(self):
        with Stagesim(scenario=self.path) as s:
            for svc, url in (("backend", s.backend_url), ("auth", s.auth_url)):
                self.assertEqual(lifecycle(s, service=svc, action="cannot_start").status_code, 200)
                r = httpx.get(url + "/health", timeout=10)
                self.assertEqual((r.status_code, r.text), (503, S25))

            async def upgrade():
                with self.assertRaises(websockets.InvalidStatusCode) as cm:
                    await websockets.connect(s.ws_url, open_timeout=10)
                return str(cm.exception)
            self.assertEqual(asyncio.run(upgrade()), "server rejected WebSocket connection: HTTP 503")
            self.assertEqual(s.stop(), 0)
            self.assertIn("auth: Container called exit(3).", s.stderr)


class Timeline(unittest.TestCase):
    def test_scenario_timeline_and_its_errors(self):
        path = write_scenario(startup={"complete_ms": 400},
                              lifecycle=[{"at_ms": 200, "service": "backend", "action": "restart",
                                          "ms": 300}])
        try:
            with Stagesim(scenario=path, time_scale=4) as s:
                self.assertTrue(wait_for(lambda: len(journal(s)) >= 2, timeout=15))
                lines = journal(s)
                self.assertEqual([(l["action"], l["state"]) for l in lines],
                                 [("restart", "down"), ("start", "running")])
                # Simulated ms, on the one clock: 200 and 200 + 300.
                self.assertGreaterEqual(lines[0]["t_ms"], 200)
                self.assertGreaterEqual(lines[1]["t_ms"] - lines[0]["t_ms"], 300)
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(path)
        bad = write_scenario(lifecycle=[{"at_ms": 100, "service": "redis", "action": "drain"}])
        try:
            r = subprocess.run([STAGESIM, "validate", bad], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn(bad + ': lifecycle[0].action: "drain" does not apply to redis', r.stderr)
        finally:
            os.unlink(bad)

    def test_api_errors(self):
        with Stagesim() as s:
            r = httpx.post(s.control_url + "/lifecycle", content=b"{", timeout=10)
            self.assertEqual(r.status_code, 400)
            r = lifecycle(s, service="db", action="crash")
            self.assertEqual(r.status_code, 422)
            self.assertEqual(r.json()["detail"],
                             'service: must be "backend", "auth" or "redis", not "db"')
            r = lifecycle(s, service="backend", action="crash", at_ms=5)
            self.assertEqual(r.json()["detail"], "at_ms: is only for the scenario's timeline")
            r = lifecycle(s, service="backend", action="start")
            self.assertEqual((r.status_code, r.json()["detail"]), (409, "backend is already running"))
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
