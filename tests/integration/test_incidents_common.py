"""Shared by the incident library's tests (test_incidents_ws.py,
test_incidents_http.py, test_incidents_slow.py): the exact client-side texts
of docs/contract.md §6.3, real clients (python websockets, httpx, redis-py, curl), and
a runner that carries out slow checks concurrently so a test class waits for
the slowest, not for the sum.

The texts of docs/contract.md §6.3 were printed by a newer python websockets than
Debian's 10.4, which the tests use. Two differences, both in wording the
library picks, not on the wire:
- websockets >= 11 explains close code 1011 as "internal error", 10.4 as
  "unexpected error": `this_library()` rewrites such a text into what the
  installed library prints for the same close frame, and the tests compare
  str(exception) with that;
- websockets >= 13 raises TimeoutError("timed out during opening handshake")
  when its open timeout passes; 10.4 raises a bare asyncio.TimeoutError at the
  same moment. The tests assert that exception, the moment, and that the
  server sent no byte of an answer (which is what the newer text says)."""
import asyncio
import concurrent.futures
import json
import subprocess
import time
import unittest

import httpx
import websockets
from websockets.frames import Close

from stagesim import Stagesim
from support import login, scenario_path

EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]

# docs/contract.md §6.3, verbatim.
S1 = "server rejected WebSocket connection: HTTP 403"
S2 = "server rejected WebSocket connection: HTTP 500"
S3 = "server rejected WebSocket connection: HTTP 503"
S4 = "timed out during opening handshake"
S5 = "received 1011 (internal error) Internal error; then sent 1011 (internal error) Internal error"
S6_CLOSE = "received 1011 (internal error) main mode error"
S7 = "received 1008 (policy violation) SSOT Auth failed"
S15_BODY = {"detail": "Not Found"}
S17_INVALID = {"detail": "Invalid E2E bypass key"}
S17_REQUIRED = {"detail": "E2E bypass key required"}
S18 = "405 Method Not Allowed"
S11_BODY = {"status": "degraded", "service": "netra-ai-platform", "version": "1.0.0",
            "checks": {"postgresql": {"status": "degraded", "connected": True,
                                      "response_time_ms": 5083.41},
                       "redis": {"status": "failed", "connected": False,
                                 "error": "Failed to create Redis client: Error -3 connecting to "
                                          "10.166.204.83:6379. Try again."},
                       "clickhouse": {"status": "healthy", "response_time_ms": 20.42}}}
HANDLER_MISSING = "'AgentWebSocketBridge' object has no attribute 'handle_message'"

# The simulator times a delay from the moment it read the request or message
# (docs/incidents.md, bug 3), and the client's clock starts before it sends
# (started after the send, it started up to 20 ms late with another thread
# holding the GIL): a lower bound holds strictly but for the clock's
# rounding, CLOCK_EPS, and 0.1 % of the band for what the loop's timers
# round.
CLOCK_EPS = 0.01


def at_least(tc, seconds, bound, msg=None, eps=None):
    """The band's lower bound: the simulator's delay, strictly but for eps."""
    if eps is None:
        eps = CLOCK_EPS + 0.001 * bound
    tc.assertGreaterEqual(seconds, bound - eps, msg)


def this_library(text):
    """A symptom's text as the installed websockets words the same frames."""
    words = str(Close(1011, "x"))   # "1011 (<its words>) x"
    return text.replace("(internal error)", words[len("1011 "):-len(" x")])


def sim(name, **kw):
    """A simulator serving scenarios/NAME.json."""
    return Stagesim(scenario=scenario_path(name + ".json"), **kw)


def run(coro):
    return asyncio.run(coro)


async def recv_json(ws, timeout=10):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def connect(s, query="", open_timeout=10, **kw):
    """Opens the WebSocket; returns (ws, seconds the opening took)."""
    t0 = time.monotonic()
    ws = await websockets.connect(s.ws_url + query, open_timeout=open_timeout, **kw)
    return ws, time.monotonic() - t0


async def chat(ws, text="hi"):
    await ws.send(json.dumps({"type": "user_message", "message": text}))


async def golden_run(s, query="", text="hi", timeout=10):
    """Connect, welcome, one chat message, the events up to agent_completed;
    returns (welcome, events, seconds from the message to agent_completed)."""
    ws, _ = await connect(s, query)
    try:
        welcome = await recv_json(ws, timeout)
        t0 = time.monotonic()   # before the send: after it, the clock could start late
        await chat(ws, text)
        got = []
        while not got or got[-1]["type"] != "agent_completed":
            got.append(await recv_json(ws, timeout))
        return welcome, got, time.monotonic() - t0
    finally:
        await ws.close()


async def closed_after(ws, timeout=10):
    """Receives until the connection closes; returns (frames, the exception)."""
    frames = []
    while True:
        try:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
        except websockets.ConnectionClosed as e:
            return frames, e


def timed(fn, *a, **kw):
    """(fn's result or the exception it raised, seconds it took)."""
    t0 = time.monotonic()
    try:
        r = fn(*a, **kw)
    except Exception as e:   # noqa: BLE001 - the caller asserts on it
        r = e
    return r, time.monotonic() - t0


def curl(*args, timeout=30):
    """curl -s with args; returns (exit code, stdout)."""
    r = subprocess.run(["curl", "-s", *args], capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode()


class Checks:
    """Runs named checks concurrently: start(name, fn) at once in a thread,
    result(name) waits for it and re-raises what it raised, so each test
    method reports its own check while the class takes as long as the
    slowest."""

    def __init__(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=32)
        self.futures = {}

    def start(self, name, fn):
        self.futures[name] = self.pool.submit(fn)

    def result(self, name, timeout=120):
        return self.futures[name].result(timeout)

    def wait_all(self, timeout=120):
        """Until every check has ended, whatever its outcome."""
        concurrent.futures.wait(list(self.futures.values()), timeout)

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def asserts():
    """A TestCase for its assert methods inside checks that run in threads."""
    tc = unittest.TestCase()
    tc.maxDiff = None
    return tc


class GoldenSim:
    """One golden-path simulator for a test class: the same checks against
    healthy staging must show no symptom."""

    GOLDEN_ENV = None   # environment of the golden simulator, for a class that needs one

    @classmethod
    def setUpClass(cls):
        cls.start_golden(cls.GOLDEN_ENV)

    @classmethod
    def tearDownClass(cls):
        cls.stop_golden()

    @classmethod
    def start_golden(cls, env=None):
        cls.golden = Stagesim(scenario=scenario_path("golden-path.json"), env=env)
        cls.golden_token = login(cls.golden)["access_token"]

    @classmethod
    def stop_golden(cls):
        cls.golden.stop()


def http(s, method, path, service="backend", **kw):
    """One request with httpx; returns (response or exception, seconds)."""
    base = s.backend_url if service == "backend" else s.auth_url
    kw.setdefault("timeout", 30)
    return timed(httpx.request, method, base + path, **kw)

