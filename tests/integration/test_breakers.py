"""The backend's own circuit breaker in front of Redis (docs/contract.md §4),
seen as a client of staging saw it: /health/circuit-breakers and
/health/infrastructure, history reads failing fast while it is open, chat
working throughout, and its transitions in the journal.

The backend's Redis connections cross `dep.connect`, where a rule refuses
them (or makes the host unresolvable), so Redis itself stays up for other
clients, as Memorystore did while the backend could not reach it."""
import asyncio
import json
import os
import tempfile
import time
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import add_rule, login, wait_for

USERS = [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"}]
WAIT_MS = 1500
BREAKER = ("consecutiveFailures=5,waitDurationInOpenState=%dms,successThreshold=2,"
           "permittedNumberOfCallsInHalfOpenState=2,"
           "automaticTransitionFromOpenToHalfOpenEnabled=true" % WAIT_MS)
REFUSE = {"id": "refuse-redis", "on": "dep.connect", "match": {"name": "redis"},
          "action": {"kind": "refuse"}}


def scenario(**extra):
    s = {"name": "breaker", "users": USERS, "agent": {"gap_ms": 5},
         "redis": {"breaker": BREAKER, "connect_timeout_ms": 300}}
    s.update(extra)
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(s, f)
    f.close()
    return f.name


def breakers(s):
    return httpx.get(s.backend_url + "/health/circuit-breakers", timeout=10).json()["circuit_breakers"]


def breaker_lines(s):
    r = httpx.get(s.control_url + "/journal", params={"since": 0}, timeout=10)
    lines = [json.loads(l) for l in r.text.splitlines() if l]
    return [l for l in lines if l.get("event") == "breaker" and l.get("breaker") == "redis"]


async def chat(s, token, text="hello"):
    """One golden-path run; returns the event types."""
    async with websockets.connect(s.ws_url + "?token=" + token, open_timeout=10) as ws:
        json.loads(await asyncio.wait_for(ws.recv(), 10))   # the welcome
        await ws.send(json.dumps({"type": "user_message", "message": text}))
        types = []
        while not types or types[-1] != "agent_completed":
            types.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
        return types


class RedisBreaker(unittest.TestCase):
    def setUp(self):
        self.path = scenario(faults=[REFUSE])

    def tearDown(self):
        os.unlink(self.path)

    def read_history(self, s, h):
        t0 = time.monotonic()
        r = httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h, timeout=10)
        return r, time.monotonic() - t0

    def test_opens_at_the_fifth_failure_and_recovers(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]
            h = {"Authorization": "Bearer " + tok}
            # Every history read without a connection is a failed call; the
            # reconnect attempts are too. While closed, at most 4 in a row.
            for _ in range(10):
                b = breakers(s)["redis"]
                if b["state"] == "open":
                    break
                self.assertEqual(b["state"], "closed", b)
                self.assertLessEqual(b["failure_count"], 4, b)
                r, _ = self.read_history(s, h)
                self.assertEqual(r.status_code, 503, r.text)
                self.assertTrue(r.json()["detail"].startswith("Thread history unavailable: "))
            self.assertEqual(breakers(s)["redis"]["state"], "open")
            self.assertEqual(breakers(s)["redis"]["failure_threshold"], 5)
            opened = breaker_lines(s)
            self.assertEqual([(l["from"], l["to"], l["reason"]) for l in opened],
                             [("closed", "open", "consecutive_failures")])
            # Open: reads fail fast, saying why; chat goes on.
            r, took = self.read_history(s, h)
            self.assertEqual(r.status_code, 503)
            self.assertEqual(r.json()["detail"],
                             "Thread history unavailable: Circuit breaker 'redis' is open")
            self.assertLess(took, 1.0)
            types = asyncio.run(chat(s, tok))
            self.assertEqual(types[0], "agent_started")
            self.assertEqual(types[-1], "agent_completed")
            infra = httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
            self.assertEqual(infra["status"], "degraded")
            self.assertEqual(infra["circuit_breakers"]["redis"]["state"], "open")
            self.assertEqual(infra["infrastructure"]["redis"], {
                "status": "failed", "connected": False,
                "error": "Failed to create Redis client: Error 111 connecting to 127.0.0.1:%d. "
                         "Connection refused." % s.redis_port})
            self.assertFalse(infra["chat_functionality_impact"])
            # Half-open after the wait: the trial connection is refused too,
            # so it opens again.
            self.assertIsNotNone(wait_for(lambda: len(breaker_lines(s)) >= 3, timeout=15),
                                 breaker_lines(s))
            # Redis reachable again: the next half-open trial (a connection
            # and a PING) closes it.
            httpx.delete(s.control_url + "/faults/refuse-redis", timeout=10).raise_for_status()
            self.assertIsNotNone(wait_for(lambda: breakers(s)["redis"]["state"] == "closed",
                                          timeout=15), breakers(s))
            lines = breaker_lines(s)
            self.assertEqual([(l["from"], l["to"]) for l in lines],
                             [("closed", "open"), ("open", "half_open"), ("half_open", "open"),
                              ("open", "half_open"), ("half_open", "closed")])
            self.assertEqual(lines[2]["reason"], "half_open_failure")
            self.assertEqual(lines[4]["reason"], "success_threshold")
            # Half-open exactly the wait after each opening, on the
            # simulator's clock (observed a little later, by its timer).
            for opened, half in ((lines[0], lines[1]), (lines[2], lines[3])):
                self.assertEqual(half["eligible_ms"] - opened["eligible_ms"], WAIT_MS)
                self.assertGreaterEqual(half["t_ms"], half["eligible_ms"])
            r, _ = self.read_history(s, h)
            self.assertEqual(r.status_code, 200, r.text)
            infra = httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
            self.assertEqual(infra["status"], "ok", infra)
            self.assertEqual(infra["infrastructure"]["redis"]["status"], "healthy")
            self.assertEqual(s.stop(), 0)

    def test_unresolvable_host_reads_as_staging_did(self):
        """S11: staging's backend could not resolve its Redis host."""
        path = scenario(faults=[dict(REFUSE, id="dns", action={"kind": "unresolved"})])
        try:
            with Stagesim(scenario=path) as s:
                get = lambda: httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
                body = wait_for(lambda: (lambda j: j if j["status"] == "degraded" else None)(get()))
                self.assertEqual(body["infrastructure"]["redis"]["error"],
                                 "Failed to create Redis client: Error -3 connecting to "
                                 "127.0.0.1:%d. Try again." % s.redis_port)
                # Redis itself is up: only the backend cannot reach it.
                import redis
                self.assertTrue(redis.Redis(port=s.redis_port).ping())
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(path)

    def test_default_is_stagings_breaker(self):
        with Stagesim() as s:
            b = breakers(s)
            self.assertEqual(b["redis"]["failure_threshold"], 5)
            self.assertEqual(b["redis"]["recovery_timeout"], 60)
            self.assertEqual(b["redis"]["success_threshold"], 2)
            self.assertEqual(b["websocket"]["failure_threshold"], 3)
            self.assertEqual(b["websocket"]["recovery_timeout"], 15)
            self.assertEqual(b["auth"]["failure_threshold"], 5)
            self.assertEqual(b["auth"]["recovery_timeout"], 30)
            self.assertEqual(b["auth"]["half_open_max_calls"], 3)
            self.assertEqual({v["state"] for v in b.values()}, {"closed"})
            self.assertEqual(s.stop(), 0)

    def test_bad_breaker_spec_names_the_path(self):
        path = scenario(redis={"breaker": "consecutiveFailures=0x"})
        try:
            r = __import__("subprocess").run(
                [os.environ.get("STAGESIM", "build/stagesim"), "validate", path],
                capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn(path + ": redis.breaker: consecutiveFailures", r.stderr)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
