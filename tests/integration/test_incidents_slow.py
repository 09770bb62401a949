"""The incident library, the slow symptoms (docs/incidents.md): those whose
timing band is seconds long (S3, S4, S8, S10, S11, S14, S22, S23, the 25 s
agent timeout, the startup race, the Redis outage). Every check starts in
setUpClass, each with its own simulator, and runs concurrently with the
others; each test method waits for its own check, so the class takes as long
as the slowest check (the 25 s agent timeout), not the sum. Lower bounds of
the bands are asserted strictly (the delays are the simulator's), upper ones
with room for a loaded machine."""
import asyncio
import json
import socket
import time
import unittest

import httpx
import redis
import websockets

from support import login, wait_for
from test_incidents_common import (at_least, EVENTS, S3, S11_BODY, GoldenSim, Checks, asserts, chat,
                                   closed_after, connect, curl, golden_run, http, recv_json, run,
                                   sim, this_library)

SLACK = 5.0   # seconds above a band's top that a loaded machine may add


def types(msgs):
    return [m["type"] for m in msgs]


# ---- the checks: each runs in its own thread, returns nothing or raises ----

def check_upgrade_503():
    """S3: `server rejected WebSocket connection: HTTP 503` after 2.2-2.8 s
    (staging 2.2-7.7 s)."""
    t = asserts()
    with sim("upgrade-503") as s:
        async def go():
            t0 = time.monotonic()
            with t.assertRaises(websockets.InvalidStatusCode) as cm:
                await websockets.connect(s.ws_url, open_timeout=10)
            return str(cm.exception), time.monotonic() - t0
        text, took = run(go())
        t.assertEqual(text, S3)
        at_least(t, took, 2.2)
        t.assertLess(took, 7.7 + SLACK)


def check_handshake_timeout():
    """S4: the opening handshake never completes; the client's 10 s open
    timeout fires at 10.0 s (staging 10.0-10.2 s) and no byte of an answer
    ever came. websockets >= 13 says `timed out during opening handshake`;
    10.4 raises asyncio.TimeoutError at that moment."""
    t = asserts()
    with sim("handshake-timeout") as s:
        async def client():
            t0 = time.monotonic()
            with t.assertRaises(asyncio.TimeoutError):
                await websockets.connect(s.ws_url, open_timeout=10, close_timeout=1)
            return time.monotonic() - t0

        def raw():
            """The same upgrade by hand: the server reads it, keeps the
            connection open and never answers."""
            k = socket.create_connection(("127.0.0.1", s.backend_port), timeout=10.5)
            k.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            try:
                return k.recv(1)
            except socket.timeout:
                return "timeout"
            finally:
                k.close()

        async def both():
            return await asyncio.gather(client(), asyncio.to_thread(raw))
        took, answer = run(both())
        at_least(t, took, 10.0)
        t.assertLess(took, 10.2 + SLACK)
        t.assertEqual(answer, "timeout", "no byte of an answer, and no close")
        t.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).status_code, 200)


def check_http_hang():
    """S14: /health and /api/* read and never answered: httpx raises
    ReadTimeout at the client's timeout (10 s here; staging's clients used
    10, 30 and 60 s)."""
    t = asserts()
    with sim("http-hang") as s:
        def hung(path):
            r, took = http(s, "GET", path, timeout=httpx.Timeout(10.0, connect=5.0))
            t.assertIsInstance(r, httpx.ReadTimeout, path)
            at_least(t, took, 10.0, path)
            t.assertLess(took, 10.0 + SLACK, path)

        async def both():
            await asyncio.gather(asyncio.to_thread(hung, "/health"),
                                 asyncio.to_thread(hung, "/api/discovery/services"))
        run(both())
        r, _ = http(s, "GET", "/")
        t.assertEqual(r.json(), {"message": "Welcome to Netra API"}, "GET / answers")
        _, events, _ = run(golden_run(s))
        t.assertEqual(types(events), EVENTS, "the WebSocket works")


def check_health_503_slow():
    """S10: `HTTP/1.1 503`, body `Service Unavailable` (plain text), after
    3-14 s; curl and httpx."""
    t = asserts()
    with sim("health-503-slow") as s:
        def with_curl():
            t0 = time.monotonic()
            code, out = curl("-i", "-m", "30", s.backend_url + "/health")
            return code, out, time.monotonic() - t0

        def with_httpx():
            return http(s, "GET", "/health")

        async def both():
            return await asyncio.gather(asyncio.to_thread(with_curl), asyncio.to_thread(with_httpx))
        (code, out, took_curl), (r, took) = run(both())
        t.assertEqual(code, 0)
        t.assertTrue(out.startswith("HTTP/1.1 503 "), out)
        t.assertTrue(out.endswith("\r\n\r\nService Unavailable"), out)
        t.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
        t.assertTrue(r.headers["content-type"].startswith("text/plain"))
        for d in (took, took_curl):
            at_least(t, d, 3.0)
            t.assertLess(d, 14.0 + SLACK)


def check_slow_database():
    """S11: /health 200 with the degraded body (postgresql 5083.41 ms, redis
    failed) after 5.4-5.9 s; a thread route 5083 ms late."""
    t = asserts()
    with sim("slow-database") as s:
        token = login(s)["access_token"]

        async def both():
            return await asyncio.gather(
                asyncio.to_thread(http, s, "GET", "/health"),
                asyncio.to_thread(http, s, "POST", "/api/threads/create",
                                  headers={"Authorization": "Bearer " + token}))
        (r, took), (created, took_db) = run(both())
        t.assertEqual(r.status_code, 200)
        t.assertEqual(r.json(), S11_BODY)
        at_least(t, took, 5.4)
        t.assertLess(took, 5.9 + SLACK)
        t.assertEqual(created.status_code, 200)
        at_least(t, took_db, 5.083)
        _, events, _ = run(golden_run(s))
        t.assertEqual(types(events), EVENTS, "chat is unaffected")


def check_slow_but_ok():
    """S22: health above 2 s (2.5 s), a chat run 6.3 s against a 5 s SLA;
    every answer correct."""
    t = asserts()
    with sim("slow-but-ok") as s:
        async def both():
            return await asyncio.gather(asyncio.to_thread(http, s, "GET", "/health"),
                                        golden_run(s))
        (r, took), (welcome, events, run_s) = run(both())
        t.assertEqual((r.status_code, r.json()), (200, {"status": "ok"}))
        at_least(t, took, 2.5)
        t.assertLess(took, 2.6 + SLACK)
        t.assertEqual(types(events), EVENTS)
        t.assertTrue(events[-1]["data"]["result"]["response"])
        at_least(t, run_s, 6.3)
        t.assertLess(run_s, 6.3 + SLACK)


def check_events_never_arrive():
    """S8: connected, chat sent, the client's `wait_for(ws.recv(), 3)` times
    out: 3.6-4.0 s in all (staging 3.6-6.8 s); pings still answered."""
    t = asserts()
    with sim("events-never-arrive") as s:
        async def go():
            t0 = time.monotonic()
            ws, took = await connect(s)
            at_least(t, took, 0.6)
            welcome = await recv_json(ws)
            await chat(ws)
            with t.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 3)
            total = time.monotonic() - t0
            await ws.send(json.dumps({"type": "ping"}))
            pong = await recv_json(ws)
            await ws.close()
            return welcome, total, pong
        welcome, total, pong = run(go())
        t.assertEqual(welcome["type"], "connection_established")
        at_least(t, total, 3.6)
        t.assertLess(total, 6.8 + SLACK)
        t.assertEqual(pong["type"], "pong")


def check_stream_stall():
    """S23: agent_started, agent_thinking, tool_executing, then nothing until
    the client gives up (its test timeout; 5 s here, staging's 30 s / 120 s:
    the stall has no end); the connection answers pings meanwhile."""
    t = asserts()
    with sim("stream-stall") as s:
        async def go():
            ws, _ = await connect(s)
            await recv_json(ws)
            await chat(ws)
            got = [await recv_json(ws) for _ in range(3)]
            t0 = time.monotonic()
            with t.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 5)
            waited = time.monotonic() - t0
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
            t.assertIsNone(ws.close_code, "still open")
            await ws.close()
            return got, waited
        got, waited = run(go())
        t.assertEqual(types(got), EVENTS[:3])
        at_least(t, waited, 5.0)


def check_agent_timeout():
    """I5: events 6.25 s apart, then at 25 s agent_error "Agent execution
    timed out after 25.0s" where agent_completed was due."""
    t = asserts()
    with sim("agent-timeout") as s:
        async def go():
            ws, _ = await connect(s)
            await recv_json(ws)
            t0 = time.monotonic()
            await chat(ws)
            got = []
            while not got or got[-1]["type"] not in ("agent_completed", "agent_error"):
                got.append(await recv_json(ws, 40))
            took = time.monotonic() - t0
            await ws.close()
            return got, took
        got, took = run(go())
        t.assertEqual(types(got), EVENTS[:4] + ["agent_error"])
        t.assertEqual(got[-1]["data"], {"error_message": "Agent execution timed out after 25.0s"})
        t.assertEqual(got[-1]["run_id"], got[0]["run_id"])
        at_least(t, took, 25.0)
        t.assertLess(took, 25.0 + SLACK)


def check_startup_race():
    """I2 (S5): a WebSocket right after a redeploy waits 2.1 s and is closed
    1011 `Service not ready: startup phase no_app_state after 2.1 s`."""
    t = asserts()
    with sim("startup-race") as s:
        async def go():
            t0 = time.monotonic()
            ws, _ = await connect(s)
            frames, e = await closed_after(ws)
            return frames, e, time.monotonic() - t0
        frames, e, took = run(go())
        t.assertEqual(frames, [], "no welcome")
        reason = "Service not ready: startup phase no_app_state after 2.1 s"
        t.assertEqual(str(e), this_library("received 1011 (internal error) %s; then sent 1011 "
                                           "(internal error) %s" % (reason, reason)))
        at_least(t, took, 2.1)
        t.assertLess(took, 2.1 + SLACK)


def check_redis_outage():
    """I3: Redis refuses connections for 4 s from start: redis-py's
    ConnectionError, /health/infrastructure degraded, chat works; then Redis
    answers and the backend reconnects."""
    t = asserts()
    with sim("redis-outage") as s:
        r = redis.Redis(host="127.0.0.1", port=s.redis_port, socket_timeout=5)
        with t.assertRaises(redis.ConnectionError) as cm:
            r.ping()
        # Refused, or reset when this client was the connection the rule
        # closed (it races the backend's own client for being the first).
        t.assertRegex(str(cm.exception), "Connection refused|Connection reset by peer")
        infra = httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
        t.assertEqual((infra["status"], infra["infrastructure"]["redis"]["connected"]),
                      ("degraded", False))
        _, events, _ = run(golden_run(s))
        t.assertEqual(types(events), EVENTS, "chat goes on")

        def up():
            try:
                return r.ping()
            except redis.ConnectionError:
                return False
        t.assertTrue(wait_for(up, timeout=15), "Redis listens again after 4 s")
        t.assertTrue(wait_for(lambda: httpx.get(s.backend_url + "/health/infrastructure",
                                                timeout=10).json()["status"] == "ok",
                              timeout=20), "the backend reconnects (back-off 1, 2, 4 s)")


CHECKS = {name[len("check_"):]: fn for name, fn in globals().items() if name.startswith("check_")}


def golden_check(golden):
    """The same clients against golden-path: no symptom anywhere."""
    t = asserts()

    async def ws_side():
        ws, took = await connect(golden)
        t.assertLess(took, 2.2, "S3's refusal takes 2.2 s")
        t.assertEqual((await recv_json(ws))["type"], "connection_established")
        await chat(ws)
        t0 = time.monotonic()
        got = [await asyncio.wait_for(recv_json(ws), 3)]   # S8's wait: it arrives
        while got[-1]["type"] != "agent_completed":
            got.append(await recv_json(ws, 5))
        t.assertLess(time.monotonic() - t0, 5.0, "well inside the 5 s SLA (S22)")
        t.assertEqual(types(got), EVENTS, "no stall (S23), no agent timeout (I5)")
        await ws.close()
        t.assertEqual(ws.close_code, 1000)

    run(ws_side())
    for path in ("/health", "/api/discovery/services"):
        r, took = http(golden, "GET", path, timeout=10)
        t.assertEqual(r.status_code, 200, path)   # no 503 (S10), no hang (S14)
        t.assertLess(took, 2.5, path)   # S22's slow health: 2.5 s
    t.assertEqual(http(golden, "GET", "/health")[0].json(), {"status": "ok"}, "not degraded (S11)")
    infra = httpx.get(golden.backend_url + "/health/infrastructure", timeout=10).json()
    t.assertEqual(infra["status"], "ok", "Redis up (I3)")
    t.assertTrue(redis.Redis(host="127.0.0.1", port=golden.redis_port, socket_timeout=5).ping())


class Slow(GoldenSim, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.start_golden()
        cls.checks = Checks()
        for name, fn in CHECKS.items():
            cls.checks.start(name, fn)

    @classmethod
    def tearDownClass(cls):
        cls.checks.close()
        cls.stop_golden()

    def test_upgrade_503(self):
        self.checks.result("upgrade_503")

    def test_handshake_timeout(self):
        self.checks.result("handshake_timeout")

    def test_http_hang(self):
        self.checks.result("http_hang")

    def test_health_503_slow(self):
        self.checks.result("health_503_slow")

    def test_slow_database(self):
        self.checks.result("slow_database")

    def test_slow_but_ok(self):
        self.checks.result("slow_but_ok")

    def test_events_never_arrive(self):
        self.checks.result("events_never_arrive")

    def test_stream_stall(self):
        self.checks.result("stream_stall")

    def test_agent_timeout(self):
        self.checks.result("agent_timeout")

    def test_startup_race(self):
        self.checks.result("startup_race")

    def test_redis_outage(self):
        self.checks.result("redis_outage")

    def test_golden_path_shows_none_of_them(self):
        # After the others, alone: its bounds measure the simulator, not the
        # load of eleven others.
        self.checks.wait_all()
        golden_check(self.golden)

    def test_every_check_has_a_test(self):
        names = {n[len("test_"):] for n in dir(self) if n.startswith("test_")}
        self.assertEqual(set(CHECKS) - names, set())


if __name__ == "__main__":
    unittest.main()
