"""The staging profile and the stale deployment, as clients written for
staging see them (issue 8): wss and https trusting only the certificate the
READY line names, staging's latency through Google's front end with
seeded, reproducible delays; the legacy build's shapes and its 403 (S1, S9),
and how a client written for the current build fails against it."""
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import time
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import login, scenario_path

EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed",
          "agent_completed"]


def health_delays(s, n):
    """n GET /health on one keep-alive connection: client-side seconds, and
    the latency the simulator drew for each (its journal)."""
    took = []
    with httpx.Client(verify=s.cert, timeout=10) as c:
        for _ in range(n):
            t0 = time.monotonic()
            r = c.get(s.backend_url + "/health")
            took.append(time.monotonic() - t0)
            assert r.status_code == 200, r.text
    lines = httpx.get(s.control_url + "/journal", params={"since": 0}, timeout=10).text
    reqs = [l for l in map(json.loads, lines.splitlines())
            if l.get("name") == "/health" and l.get("point") == "request"]
    # One connection all along: the TLS front once cut them after 5 s.
    assert {l["conn"] for l in reqs} == {1}, [l["conn"] for l in reqs]
    return took, [l["latency_ms"] for l in reqs]


async def current_client(url, token, ctx=None):
    """A client written against the current build (docs/contract.md §2): waits for
    connection_established, then reads every event's `data`."""
    async with websockets.connect(url + "?token=" + token, ssl=ctx, open_timeout=10) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if welcome["type"] != "connection_established":
            raise AssertionError("expected connection_established, got %s" % welcome["type"])
        await ws.send(json.dumps({"type": "user_message", "message": "status?"}))
        types = []
        while not types or types[-1] != "agent_completed":
            e = json.loads(await asyncio.wait_for(ws.recv(), 10))
            e["data"]["status"]    # KeyError: 'data' against the legacy build
            types.append(e["type"])
        return types


async def legacy_client(url, token):
    """The same client, written against the legacy build."""
    async with websockets.connect(url + "?token=" + token, open_timeout=10) as ws:
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert welcome["type"] == "system_message", welcome
        assert welcome["data"]["event"] == "connection_established", welcome
        await ws.send(json.dumps({"type": "user_message", "message": "status?"}))
        events = []
        while not events or events[-1]["type"] != "agent_completed":
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
        return welcome, events


class Staging(unittest.TestCase):
    def test_wss_trusting_only_the_ready_certificate(self):
        with Stagesim(scenario="staging") as s:
            self.assertTrue(s.cert and os.path.isfile(s.cert), s.ports)
            self.assertTrue(s.ws_url.startswith("wss://"))
            ctx = ssl.create_default_context(cafile=s.cert)   # nothing else trusted
            token = httpx.post(s.auth_url + "/auth/login", verify=s.cert, timeout=10,
                               json={"email": "alice@example.com",
                                     "password": "alice-password"}).json()["access_token"]
            t0 = time.monotonic()
            self.assertEqual(asyncio.run(current_client(s.ws_url, token, ctx)), EVENTS)
            # Not "Test too fast (0.012s) - likely fake!": a connect takes
            # staging's 0.37-0.48 s.
            self.assertGreaterEqual(time.monotonic() - t0, 0.37)
            with self.assertRaises(ssl.SSLCertVerificationError):
                asyncio.run(current_client(s.ws_url, token, ssl.create_default_context()))
            r = subprocess.run(["curl", "-sS", "--cacert", s.cert, "-D", "-",
                                s.backend_url + "/health"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Server: Google Frontend", r.stdout.replace("server:", "Server:"))
            self.assertIn('{"status":"ok"}', r.stdout)
            self.assertEqual(s.stop(), 0)

    def test_health_latency_in_band_and_reproducible(self):
        """50 GET /health: each waits a latency in the configured band,
        170-215 ms (the client sees at least that), and another run with the
        same seed draws the same sequence."""
        runs = []
        for _ in range(2):
            with Stagesim(scenario="staging") as s:
                took, drawn = health_delays(s, 50)
                self.assertEqual(s.stop(), 0)
            self.assertEqual(len(drawn), 50)
            self.assertTrue(all(170 <= d <= 215 for d in drawn), drawn)
            self.assertGreater(len(set(drawn)), 10, "jitter, not one fixed delay")
            for t, d in zip(took, drawn):
                self.assertGreaterEqual(t, d / 1000 - 0.002)   # never early
            # "Latency too low (1.9ms) - likely local/fake!" does not apply.
            self.assertGreater(statistics.median(took), 0.17)
            runs.append(drawn)
        self.assertEqual(runs[0], runs[1], "one seed, one sequence of delays")
        with Stagesim(scenario="staging", seed=191) as s:
            _, other = health_delays(s, 50)
            self.assertEqual(s.stop(), 0)
        self.assertNotEqual(other, runs[0], "another seed, other delays")


class StaleDeployment(unittest.TestCase):
    def test_unauthenticated_upgrade_refused_403_s1(self):
        with Stagesim(scenario="stale-deployment") as s:
            async def attempt(query):
                t0 = time.monotonic()
                with self.assertRaises(websockets.InvalidStatusCode) as cm:
                    await websockets.connect(s.ws_url + query, open_timeout=10)
                return str(cm.exception), time.monotonic() - t0

            for query in ("", "?token=not-a-jwt"):
                text, took = asyncio.run(attempt(query))
                self.assertEqual(text, "server rejected WebSocket connection: HTTP 403")
                self.assertGreaterEqual(took, 0.33)   # S1: single ~0.33-0.43 s
                self.assertLess(took, 1.8)
            self.assertEqual(s.stop(), 0)

    def test_legacy_client_passes_current_client_fails(self):
        with Stagesim(scenario="stale-deployment") as s:
            token = login(s)["access_token"]
            welcome, events = asyncio.run(legacy_client(s.ws_url, token))
            self.assertTrue(welcome["data"]["connection_id"].startswith("ws_"), welcome)   # S9
            self.assertEqual([e["type"] for e in events], EVENTS)
            self.assertTrue(all("payload" in e and "data" not in e for e in events))
            self.assertEqual(events[2]["payload"]["user_id"], "user-alice")
            # The documented failure (docs/contract.md §7.1): the welcome is
            # not connection_established (S9) ...
            with self.assertRaisesRegex(AssertionError,
                                        "expected connection_established, got system_message"):
                asyncio.run(current_client(s.ws_url, token))
            # ... and /health has the legacy body.
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).json()["status"],
                             "healthy")
            self.assertEqual(s.stop(), 0)

    def test_current_client_passes_against_golden_path(self):
        with Stagesim(scenario=scenario_path("golden-path.json")) as s:
            self.assertEqual(asyncio.run(current_client(s.ws_url, login(s)["access_token"])),
                             EVENTS)
            with self.assertRaises(AssertionError):
                asyncio.run(legacy_client(s.ws_url, login(s)["access_token"]))
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
