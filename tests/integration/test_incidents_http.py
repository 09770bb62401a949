"""The incident library, HTTP side (docs/incidents.md): the backend's and the
auth service's routes as httpx and curl see them under each scenario, with
the exact status and body of docs/contract.md §6 inside its timing band (the lower
bound strictly), and the same requests against golden-path."""
import asyncio
import json
import unittest

import httpx
import websockets

from support import login
from test_incidents_common import (at_least, S15_BODY, S17_INVALID, S17_REQUIRED, S18, GoldenSim, connect,
                                   curl, http, recv_json, run, sim)

CLIENT_E2E_KEY = "the-e2e-key-the-clients-have"   # not the one staging has


class Health(GoldenSim, unittest.TestCase):
    """S12, S13: GET /health answers an error, quickly."""

    def assert_golden_health(self):
        r, took = http(self.golden, "GET", "/health")
        self.assertEqual((r.status_code, r.json()), (200, {"status": "ok"}))

    def test_health_422(self):
        """S12: status 422 in ~0.5 s (0.45-0.55 s)."""
        with sim("health-422") as s:
            r, took = http(s, "GET", "/health")
            self.assertEqual(r.status_code, 422)
            self.assertEqual(r.json()["detail"][0]["msg"], "Field required")
            at_least(self, took, 0.45)
            self.assertLess(took, 0.55 + 3)
            r, _ = http(s, "GET", "/health/ready")
            self.assertEqual(r.status_code, 200, "only /health")
        self.assert_golden_health()

    def test_health_500(self):
        """S13: `Internal Server Error` (plain text) in ~0.6 s (0.55-0.65 s); curl sees HTTP/1.1 500."""
        with sim("health-500") as s:
            r, took = http(s, "GET", "/health")
            self.assertEqual((r.status_code, r.text), (500, "Internal Server Error"))
            self.assertTrue(r.headers["content-type"].startswith("text/plain"))
            at_least(self, took, 0.55)
            self.assertLess(took, 0.65 + 3)
            code, out = curl("-i", s.backend_url + "/health")
            self.assertEqual(code, 0)
            self.assertTrue(out.startswith("HTTP/1.1 500 "), out)
            self.assertTrue(out.endswith("\r\n\r\nInternal Server Error"), out)
        self.assert_golden_health()


class Api(GoldenSim, unittest.TestCase):
    """S15, S19, S24: the backend's REST routes."""

    REQUESTS = [("GET", "/api/messages"), ("POST", "/api/chat"), ("GET", "/api/v1/status")]

    def test_missing_routes(self):
        """S15: 404 {"detail":"Not Found"} on GET /api/messages, POST
        /api/chat, GET /api/v1/status in 0.16-0.76 s. golden-path has no such
        routes either (the contract's 404), only without the front end's
        latency; its own routes answer."""
        with sim("missing-routes") as s:
            for method, path in self.REQUESTS:
                r, took = http(s, method, path)
                self.assertEqual((r.status_code, r.json()), (404, S15_BODY), path)
                at_least(self, took, 0.16, path)
                self.assertLess(took, 0.76 + 3, path)
            # A delayed answer to a request with a body once sent the backend
            # round lws's body parser for ever (docs/incidents.md, bug 1).
            r, took = http(s, "POST", "/api/chat", json={"message": "hello"})
            self.assertEqual((r.status_code, r.json()), (404, S15_BODY))
            at_least(self, took, 0.16, "with a body")
            r, took = http(s, "GET", "/health")
            self.assertEqual(r.status_code, 200)
            at_least(self, took, 0.16, "every request takes the front end's band")
        for method, path in self.REQUESTS:
            r, _ = http(self.golden, method, path)
            self.assertEqual((r.status_code, r.json()), (404, S15_BODY), path)
        r, _ = http(self.golden, "GET", "/api/mcp/servers")
        self.assertEqual(r.status_code, 200)

    def test_profile_500(self):
        """S19: GET /api/v1/user/profile status 500 in ~0.7 s (0.65-0.75 s);
        golden-path has no such route (404), not a 500."""
        with sim("profile-500") as s:
            r, took = http(s, "GET", "/api/v1/user/profile")
            self.assertEqual(r.status_code, 500)
            at_least(self, took, 0.65)
            self.assertLess(took, 0.75 + 3)
        r, _ = http(self.golden, "GET", "/api/v1/user/profile")
        self.assertEqual((r.status_code, r.json()), (404, S15_BODY))

    def test_error_not_json(self):
        """S24: the thread API's error is not JSON: the client's .json()
        raises a JSON decode error, in 0.4-0.7 s."""
        with sim("error-not-json") as s:
            token = login(s)["access_token"]
            for method, path in (("POST", "/api/threads/create"),
                                 ("GET", "/api/threads/thread_1/messages")):
                r, took = http(s, method, path, headers={"Authorization": "Bearer " + token})
                self.assertEqual(r.status_code, 500, path)
                with self.assertRaises(json.JSONDecodeError) as cm:
                    r.json()
                self.assertEqual(str(cm.exception), "Expecting value: line 1 column 1 (char 0)")
                at_least(self, took, 0.4, path)
                self.assertLess(took, 0.7 + 3, path)
        r, _ = http(self.golden, "POST", "/api/threads/create",
                    headers={"Authorization": "Bearer " + self.golden_token})
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.json()["thread_id"].startswith("thread_"))
        r, _ = http(self.golden, "POST", "/api/threads/create")
        self.assertEqual(r.status_code, 401)
        self.assertIn("detail", r.json(), "golden-path's errors are JSON")


class Auth(GoldenSim, unittest.TestCase):
    """S17, S18: the auth service."""

    # The key the clients hold is the one golden-path's auth service has.
    GOLDEN_ENV = {"E2E_OAUTH_SIMULATION_KEY": CLIENT_E2E_KEY}

    def e2e(self, s, key):
        headers = {"X-E2E-Bypass-Key": key} if key is not None else {}
        return http(s, "POST", "/auth/e2e/test-auth", service="auth", headers=headers, json={})

    def test_e2e_key_missing(self):
        """S17: 401 {"detail":"Invalid E2E bypass key"} for the clients' key;
        401 {"detail":"E2E bypass key required"} without one; 0.13-0.69 s."""
        with sim("e2e-key-missing") as s:
            r, took = self.e2e(s, CLIENT_E2E_KEY)
            self.assertEqual((r.status_code, r.json()), (401, S17_INVALID))
            at_least(self, took, 0.13)
            self.assertLess(took, 0.69 + 3)
            r, took = self.e2e(s, None)
            self.assertEqual((r.status_code, r.json()), (401, S17_REQUIRED))
            at_least(self, took, 0.13)
            r, _ = http(s, "POST", "/auth/login", service="auth",
                        json={"email": "alice@example.com", "password": "alice-password"})
            self.assertEqual(r.status_code, 200, "password login works")
        r, _ = self.e2e(self.golden, CLIENT_E2E_KEY)
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.json()["user"]["oauth_simulated"])

    def test_auth_405(self):
        """S18: POST /auth/validate and OPTIONS /health answer `405 Method Not
        Allowed` in 0.13-0.61 s. golden-path validates; it answers a bare
        OPTIONS 405 too (Starlette without a CORS preflight)."""
        with sim("auth-405") as s:
            token = login(s)["access_token"]
            r, took = http(s, "POST", "/auth/validate", service="auth", json={"token": token})
            self.assertEqual((r.status_code, r.json()), (405, {"detail": "Method Not Allowed"}))
            at_least(self, took, 0.13)
            self.assertLess(took, 0.61 + 3)
            r, took = http(s, "OPTIONS", "/health", service="auth")
            self.assertEqual((r.status_code, r.headers["allow"]), (405, "GET"))
            at_least(self, took, 0.13)
            self.assertLess(took, 0.61 + 3)
            code, out = curl("-i", "-X", "OPTIONS", s.auth_url + "/health")
            self.assertEqual(code, 0)
            self.assertTrue(out.startswith("HTTP/1.1 " + S18 + "\r\n"), out)
        r, _ = http(self.golden, "POST", "/auth/validate", service="auth",
                    json={"token": self.golden_token})
        self.assertEqual((r.status_code, r.json()["valid"]), (200, True))
        r, _ = http(self.golden, "OPTIONS", "/health", service="auth")
        self.assertEqual(r.status_code, 405)



class Lifecycle(unittest.TestCase):
    """S16, S25: the backend's instance between revisions, from the
    scenario's lifecycle timeline (docs/lifecycle.md)."""

    async def upgrade_refusals(self, s, n):
        """The first n upgrades' outcomes: an HTTP status, or "timeout"."""
        got = []
        for _ in range(n):
            try:
                ws, _ = await connect(s, open_timeout=1)
                await ws.close()
                got.append(101)
            except websockets.exceptions.InvalidStatusCode as e:
                got.append(e.status_code)
            except asyncio.TimeoutError:
                got.append("timeout")
        return got

    def test_cold_redeploy(self):
        """S16: /api/* 500 while /health 503, both plain text; upgrades 500,
        503, 500, then handshake timeouts (S4)."""
        with sim("cold-redeploy") as s:
            r, _ = http(s, "GET", "/api/discovery/services")
            self.assertEqual((r.status_code, r.text), (500, "Internal Server Error"))
            r, _ = http(s, "GET", "/health")
            self.assertEqual((r.status_code, r.text), (503, "Service Unavailable"))
            self.assertEqual(curl("-o", "/dev/null", "-w", "%{http_code}", s.backend_url + "/api/threads"),
                             (0, "500"))
            self.assertEqual(run(self.upgrade_refusals(s, 5)), [500, 503, 500, "timeout", "timeout"])
            lc = httpx.get(s.control_url + "/lifecycle").json()["services"]
            self.assertEqual(lc["backend"]["state"], "redeploying")

    def test_cannot_start(self):
        """S25: every request and upgrade 503 with Cloud Run's text, the log
        says `Container called exit(3).`; login still works; a `start`
        brings up a fresh instance that serves."""
        with sim("cannot-start") as s:
            r, _ = http(s, "GET", "/health")
            self.assertEqual((r.status_code, r.text),
                             (503, "The request failed because the instance could not start successfully."))
            self.assertEqual(run(self.upgrade_refusals(s, 2)), [503, 503])
            token = login(s)["access_token"]
            r = httpx.post(s.control_url + "/lifecycle", json={"service": "backend", "action": "start"})
            self.assertEqual(r.json()["services"]["backend"]["state"], "running")

            async def served():
                ws, _ = await connect(s, "?token=" + token)
                welcome = await recv_json(ws)
                await ws.close()
                return welcome["type"]
            self.assertEqual(run(served()), "connection_established")
        self.assertIn("backend: Container called exit(3).", s.stderr)

if __name__ == "__main__":
    unittest.main()
