"""The backend validating tokens at the auth service (auth.validation
"remote"): over the wire, so the auth service's faults reach it, behind the
auth breaker (5 failures, open, at most 3 half-open calls)."""
import asyncio
import json
import os
import tempfile
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import add_rule, login, wait_for

USERS = [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"}]
WAIT_MS = 1500
BREAKER = ("consecutiveFailures=5,waitDurationInOpenState=%dms,"
           "permittedNumberOfCallsInHalfOpenState=3,"
           "automaticTransitionFromOpenToHalfOpenEnabled=true" % WAIT_MS)


def write_scenario(validation="remote"):
    s = {"name": "remote-validation", "users": USERS, "agent": {"gap_ms": 5},
         "auth": {"validation": validation, "validation_timeout_ms": 500, "breaker": BREAKER}}
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(s, f)
    f.close()
    return f.name


def journal(s):
    r = httpx.get(s.control_url + "/journal", params={"since": 0}, timeout=10)
    return [json.loads(l) for l in r.text.splitlines()]


def validations(s):
    return [l for l in journal(s) if l.get("svc") == "auth" and l.get("name") == "/auth/validate"
            and l.get("point") == "request"]


def auth_breaker(s):
    r = httpx.get(s.backend_url + "/health/circuit-breakers", timeout=10)
    return r.json()["circuit_breakers"]["auth"]


async def first_and_close(s, token):
    async with websockets.connect(s.ws_url + "?token=" + token, open_timeout=10) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as e:
            return first, str(e)
        return first, None


class RemoteValidation(unittest.TestCase):
    def setUp(self):
        self.path = write_scenario()

    def tearDown(self):
        os.unlink(self.path)

    def test_every_check_crosses_the_wire(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]
            h = {"Authorization": "Bearer " + tok}
            self.assertEqual(httpx.post(s.backend_url + "/api/threads/create", headers=h).status_code, 200)

            async def chat():
                async with websockets.connect(s.ws_url + "?token=" + tok) as ws:
                    w = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    self.assertEqual((w["type"], w["data"]["user_id"]),
                                     ("connection_established", "user-alice"))
            asyncio.run(chat())
            self.assertEqual(len(validations(s)), 2, "one POST /auth/validate per check")
            # A bad token, judged by the auth service: S7's close.
            first, closed = asyncio.run(first_and_close(s, "not-a-token"))
            self.assertEqual((first["type"], first["error_code"]), ("error_message", "AUTH_FAILED"))
            self.assertTrue(closed.startswith("received 1008 (policy violation) SSOT Auth failed"),
                            closed)
            self.assertEqual(s.stop(), 0)

    def test_auth_failing_opens_the_breaker_and_recovers(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]
            h = {"Authorization": "Bearer " + tok}
            add_rule(s, {"id": "validate-503", "on": "auth.request",
                         "match": {"name": "/auth/validate"},
                         "action": {"kind": "status", "status": 503, "body": "Service Unavailable"}})
            for i in range(5):
                self.assertEqual(auth_breaker(s)["state"], "closed")
                r = httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h, timeout=10)
                self.assertEqual((r.status_code, r.json()["detail"]),
                                 (503, "Authentication service unavailable"))
            self.assertEqual(auth_breaker(s)["state"], "open", "open at the 5th failure")
            crossed = len(validations(s))
            first, closed = asyncio.run(first_and_close(s, tok))
            self.assertEqual(first["error_message"],
                             "Authentication failed: Authentication service unavailable")
            self.assertTrue(closed.startswith("received 1008 (policy violation) SSOT Auth failed"))
            self.assertEqual(len(validations(s)), crossed, "open: nothing reaches the auth service")
            httpx.delete(s.control_url + "/faults/validate-503", timeout=10).raise_for_status()
            self.assertTrue(wait_for(lambda: auth_breaker(s)["state"] == "half_open", timeout=15))
            r = httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h, timeout=10)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(auth_breaker(s)["state"], "closed")
            lines = [l for l in journal(s) if l.get("event") == "breaker" and l["breaker"] == "auth"]
            self.assertEqual([(l["from"], l["to"]) for l in lines],
                             [("closed", "open"), ("open", "half_open"), ("half_open", "closed")])
            self.assertEqual(lines[1]["eligible_ms"] - lines[0]["eligible_ms"], WAIT_MS)
            self.assertEqual(s.stop(), 0)

    def test_slow_auth_times_out(self):
        with Stagesim(scenario=self.path) as s:
            tok = login(s)["access_token"]
            add_rule(s, {"id": "validate-slow", "on": "auth.request",
                         "match": {"name": "/auth/validate"},
                         "action": {"kind": "delay", "ms": 2000}})
            r = httpx.get(s.backend_url + "/api/threads/t1/messages",
                          headers={"Authorization": "Bearer " + tok}, timeout=10)
            self.assertEqual(r.status_code, 503, "the backend's 500 ms timeout, not the auth's 2 s")
            self.assertEqual(auth_breaker(s)["failure_count"], 1)
            self.assertEqual(s.stop(), 0)

    def test_local_validation_never_asks(self):
        path = write_scenario("local")
        try:
            with Stagesim(scenario=path) as s:
                tok = login(s)["access_token"]
                r = httpx.get(s.backend_url + "/api/threads/t1/messages",
                              headers={"Authorization": "Bearer " + tok}, timeout=10)
                self.assertEqual(r.status_code, 200)
                self.assertEqual(validations(s), [])
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
