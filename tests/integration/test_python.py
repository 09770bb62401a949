"""The Python package (python/stagesim) against the real binary: the process
(READY, URLs, TLS, a start that fails, TERM and KILL), the control API
client (rules, waits, the journal paged and filtered, metrics, scenarios,
errors with the API's detail), and the pytest plugin run by pytest itself
(the fixture, the marker, both scopes, the journal on a failing test)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.error
import urllib.request

import stagesim
from stagesim import APIError, FaultWaitTimeout, Stagesim, StartError

from support import STAGESIM, SOURCE_ROOT

PACKAGE_DIR = os.path.join(SOURCE_ROOT, "python")
H503 = {"id": "h503", "on": "http.request", "match": {"name": "/health"},
        "action": {"kind": "status", "status": 503}}


def get(url):
    """(status, body) of a plain GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Process(unittest.TestCase):
    def test_ready_urls_and_a_clean_stop(self):
        with Stagesim(seed=7) as sim:
            self.assertEqual(set(sim.ports), {"backend", "auth", "redis", "control"})
            self.assertEqual(sim.http_url, "http://127.0.0.1:%d" % sim.backend_port)
            self.assertEqual(sim.ws_url, "ws://127.0.0.1:%d/ws" % sim.backend_port)
            self.assertEqual(sim.auth_url, "http://127.0.0.1:%d" % sim.auth_port)
            self.assertEqual(sim.redis_url, "redis://127.0.0.1:%d/0" % sim.redis_port)
            self.assertIsNone(sim.cert)
            self.assertEqual(get(sim.http_url + "/health")[0], 200)
            self.assertEqual(get(sim.auth_url + "/health")[0], 200)
            self.assertEqual(sim.control.status()["scenario"]["seed"], 7)
        self.assertEqual(sim.exit_code, 0)
        self.assertIn("bye", sim.stderr)

    def test_tls_urls_and_the_certificate(self):
        with Stagesim(tls=True) as sim:
            self.assertTrue(sim.http_url.startswith("https://"))
            self.assertTrue(sim.ws_url.startswith("wss://"))
            self.assertTrue(sim.auth_url.startswith("https://"))
            self.assertTrue(sim.redis_url.startswith("redis://"), "Redis stays plain")
            with open(sim.cert) as f:
                self.assertIn("BEGIN CERTIFICATE", f.read())
            import ssl
            ctx = ssl.create_default_context(cafile=sim.cert)
            with urllib.request.urlopen(sim.http_url + "/health", context=ctx, timeout=10) as r:
                self.assertEqual(r.status, 200)

    def test_a_failed_start_says_why_with_stagesims_stderr(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"agent": {"gap_ms": -1}}')
        try:
            with self.assertRaises(StartError) as cm:
                Stagesim(scenario=f.name)
            self.assertEqual(cm.exception.returncode, 2)
            self.assertIn("agent.gap_ms: must be >= 0", cm.exception.stderr)
            self.assertIn("agent.gap_ms: must be >= 0", str(cm.exception))
            self.assertIn("exited with code 2 before its READY line", str(cm.exception))
        finally:
            os.unlink(f.name)
        with self.assertRaises(StartError) as cm:
            Stagesim(scenario="no-such-scenario")
        self.assertIn('no scenario named "no-such-scenario"', cm.exception.stderr)
        with self.assertRaises(FileNotFoundError):
            Stagesim(binary="/nonexistent/stagesim")

    def test_start_timeout_kills_what_never_got_ready(self):
        # A command that prints nothing: the wait ends at start_timeout.
        t0 = time.monotonic()
        with self.assertRaises(StartError) as cm:
            Stagesim(wrap=["sh", "-c", "exec sleep 30", "sh"], start_timeout=0.5)
        self.assertIn("no READY line within 0.5 s", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 10)

    def test_stop_kills_after_its_timeout(self):
        sim = Stagesim()
        # Signal 0 is delivered to no handler: stagesim goes on, so only the
        # KILL after the timeout ends it.
        self.assertEqual(sim.stop(sig=0, timeout=0.3), -signal.SIGKILL)
        self.assertFalse(sim.running())
        self.assertEqual(sim.stop(), -signal.SIGKILL, "stopping again gives the same code")

    def test_secrets_come_from_env_only(self):
        os.environ["JWT_SECRET_STAGING"] = "from-the-callers-environment-0123456789"
        try:
            with Stagesim() as sim:
                self.assertIn("generated from the seed", sim.stderr)
            with Stagesim(env={"JWT_SECRET_STAGING": "s" * 40}) as sim:
                self.assertNotIn("generated from the seed", sim.stderr)
        finally:
            del os.environ["JWT_SECRET_STAGING"]

    def test_find_binary_and_scenario_path(self):
        self.assertEqual(stagesim.find_binary(STAGESIM), STAGESIM)
        self.assertTrue(stagesim.scenario_path("redis-outage").endswith("/redis-outage.json"))
        with self.assertRaises(FileNotFoundError):
            stagesim.scenario_path("no-such-scenario")


class ControlClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(scenario="ws-1011-mid-run")
        cls.c = cls.sim.control

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()

    def setUp(self):
        self.c.reset()

    def test_rules_added_listed_and_removed(self):
        self.assertEqual(self.c.add_fault(H503), ["h503"])
        self.assertEqual(self.c.add_fault([dict(H503, id="a"), dict(H503, id="b")]), ["a", "b"])
        ids = [r["id"] for r in self.c.faults()]
        self.assertEqual(ids, ["ws-1011-after-thinking", "h503", "a", "b"])
        self.assertEqual(self.c.fault("h503")["action"]["status"], 503)
        self.assertEqual(self.c.remove_fault("a"), "a")
        with self.assertRaises(APIError) as cm:
            self.c.remove_fault("a")
        self.assertEqual((cm.exception.status, cm.exception.detail), (404, "no such rule"))
        self.assertEqual(self.c.clear_faults(), 3)
        self.assertEqual(self.c.faults(), [])
        self.c.set_scenario(os.path.join(SOURCE_ROOT, "scenarios", "ws-1011-mid-run.json"))

    def test_a_refused_rule_carries_the_detail(self):
        bad = {"id": "x", "on": "ws.send", "action": {"kind": "close", "code": 1006}}
        with self.assertRaises(APIError) as cm:
            self.c.add_fault(bad)
        self.assertEqual(cm.exception.status, 422)
        self.assertIn("rule.action.code: 1006 is not sendable", cm.exception.detail)
        self.assertIn("1006 is not sendable", str(cm.exception))

    def test_wait_fault_returns_once_fired_and_raises_on_timeout(self):
        self.c.add_fault(H503)
        with self.assertRaises(FaultWaitTimeout) as cm:
            self.c.wait_fault("h503", count=1, timeout=0.2)
        self.assertEqual((cm.exception.status, cm.exception.fired), (408, 0))
        result = {}
        waiter = threading.Thread(target=lambda: result.update(self.c.wait_fault("h503", timeout=10)))
        waiter.start()
        self.assertEqual(get(self.sim.http_url + "/health")[0], 503)
        waiter.join(15)
        self.assertEqual((result["rule"], result["fired"]), ("h503", 1))
        self.assertEqual(self.c.metrics().value("stagesim_faults_fired_total", rule="h503"), 1.0)
        self.c.remove_fault("h503")

    def test_journal_paged_filtered_and_followed(self):
        for _ in range(3):
            get(self.sim.http_url + "/health")
        everything = self.c.journal_all()
        self.assertEqual(len(everything), self.c.status()["journal_lines"])
        page = self.c.journal(since=0, limit=2)
        self.assertEqual((len(page), page.first, page.last), (2, 1, 2))
        self.assertEqual(list(page), everything[:2])
        rest = self.c.journal(since=page.last)
        self.assertEqual(list(page) + list(rest), everything)
        backend = self.c.journal_all(svc="backend", point="request")
        self.assertGreaterEqual(len(backend), 3)
        self.assertTrue(all(ln["svc"] == "backend" and ln["point"] == "request" for ln in backend))
        # A wait for a line newer than the last returns as soon as one comes.
        last, got = page.total, []
        follower = threading.Thread(target=lambda: got.extend(self.c.journal(since=last, wait=10)))
        follower.start()
        get(self.sim.http_url + "/health")
        follower.join(15)
        self.assertTrue(got and got[0]["svc"] == "backend", got)
        t0 = time.monotonic()
        empty = self.c.journal(since=self.c.status()["journal_lines"] + 5, wait=0.3)
        self.assertEqual(list(empty), [])
        self.assertGreaterEqual(time.monotonic() - t0, 0.25, "the long poll waited")

    def test_metrics_as_a_dict(self):
        m = self.c.metrics()
        self.assertIsInstance(m, stagesim.Metrics)
        self.assertIn("stagesim_journal_lines_total", m)
        self.assertEqual(m.value("stagesim_redis_history_up"), 1.0)
        self.assertEqual(m.value("stagesim_faults_fired_total", rule="no-such-rule"), 0.0)

    def test_status_names_the_services_and_breakers(self):
        st = self.c.status()
        self.assertEqual(st["services"]["backend"]["state"], "running")
        self.assertEqual(st["services"]["redis"]["port"], self.sim.redis_port)
        self.assertEqual(st["services"]["redis_client"]["state"], "connected")
        self.assertEqual(st["breakers"]["redis"]["state"], "closed")

    def test_scenario_replacement(self):
        out = self.c.set_scenario({"name": "two-rules", "faults": [H503, dict(H503, id="h2")]})
        self.assertEqual((out["name"], out["rules"]), ("two-rules", 2))
        with self.assertRaises(APIError) as cm:
            self.c.set_scenario({"agent": {"gap_ms": -1}})
        self.assertEqual(cm.exception.status, 422)
        self.assertIn("agent.gap_ms: must be >= 0", cm.exception.detail)
        self.c.set_scenario(os.path.join(SOURCE_ROOT, "scenarios", "ws-1011-mid-run.json"))
        self.assertEqual([r["id"] for r in self.c.faults()], ["ws-1011-after-thinking"])

    def test_lifecycle(self):
        with Stagesim() as sim:
            state = sim.control.lifecycle("backend", "drain")
            self.assertEqual(state["services"]["backend"]["state"], "draining")
            self.assertEqual(sim.control.status()["services"]["backend"]["state"], "draining")
            with self.assertRaises(APIError) as cm:
                sim.control.lifecycle("backend", "drain")
            self.assertEqual(cm.exception.status, 409)
            self.assertIn("only start applies", cm.exception.detail)
            with self.assertRaises(APIError) as cm:
                sim.control.lifecycle("db", "crash")
            self.assertEqual(cm.exception.status, 422)
            self.assertIn('must be "backend", "auth" or "redis"', cm.exception.detail)
            self.assertEqual(sim.control.lifecycle("backend", "start")["services"]["backend"]["state"],
                             "running")
            self.assertEqual(sim.control.lifecycle_state()["services"]["redis"]["state"], "running")

    def test_control_token(self):
        with Stagesim(control_token="sekrit-token") as sim:
            self.assertEqual(sim.control.status()["status"], "running")
            with self.assertRaises(APIError) as cm:
                stagesim.Control(sim.control_url).status()
            self.assertEqual((cm.exception.status, cm.exception.detail),
                             (401, "control API token required"))


PLUGIN_TESTS = '''
import json, urllib.request
import pytest

RULE = {"id": "h503", "on": "http.request", "match": {"name": "/health"},
        "action": {"kind": "status", "status": 503}}

def health(sim):
    try:
        return urllib.request.urlopen(sim.http_url + "/health").status
    except urllib.error.HTTPError as e:
        return e.code

def test_default_is_the_golden_path(stagesim):
    assert stagesim.control.status()["scenario"]["name"] == "golden-path"
    assert health(stagesim) == 200

@pytest.mark.stagesim(scenario="ws-1011-mid-run", seed=11)
def test_marker(stagesim):
    st = stagesim.control.status()
    assert (st["scenario"]["name"], st["scenario"]["seed"]) == ("ws-1011-mid-run", 11)

PORTS = []

@pytest.mark.stagesim(scope="session", seed=5)
def test_shared_first(stagesim):
    PORTS.append(stagesim.control_port)
    stagesim.control.add_fault(RULE)
    assert health(stagesim) == 503

@pytest.mark.stagesim(scope="session", seed=5)
def test_shared_second(stagesim):
    assert PORTS == [stagesim.control_port], "the same simulator"
    assert stagesim.control.faults() == [], "rules reset between tests"
    assert health(stagesim) == 200

def test_function_scope_is_its_own(stagesim):
    assert stagesim.control_port not in PORTS

@pytest.mark.stagesim(seed=3)
def test_fails_with_the_journal(stagesim):
    stagesim.control.add_fault(RULE)
    assert health(stagesim) == 200, "made to fail"

@pytest.mark.stagesim(scenario="no-such-scenario")
def test_start_failure(stagesim):
    pass
'''


class PytestPlugin(unittest.TestCase):
    def run_pytest(self, *args, binary_env=True):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "test_plugin.py")
            with open(path, "w") as f:
                f.write(textwrap.dedent(PLUGIN_TESTS))
            env = dict(os.environ, PYTHONPATH=PACKAGE_DIR)
            if not binary_env:
                env.pop("STAGESIM", None)
            return subprocess.run([sys.executable, "-m", "pytest", "-p", "stagesim.pytest", "-p",
                                   "no:cacheprovider", "-rA", path, *args],
                                  capture_output=True, text=True, timeout=240, env=env, cwd=d)

    def test_fixture_marker_scopes_and_the_journal_of_a_failure(self):
        r = self.run_pytest()
        out = r.stdout
        self.assertEqual(r.returncode, 1, out + r.stderr)
        self.assertRegex(out, r"1 failed, 5 passed, 1 error")
        for name in ("test_default_is_the_golden_path", "test_marker", "test_shared_first",
                     "test_shared_second", "test_function_scope_is_its_own"):
            self.assertIn("PASSED test_plugin.py::" + name, out)
        self.assertIn("FAILED test_plugin.py::test_fails_with_the_journal", out)
        # The failing test's report: its journal, with the rule's firing in it.
        section = out[out.index("stagesim journal ("):]
        self.assertRegex(section, r"stagesim journal \(\d+ lines since the test began\)")
        lines = [json.loads(ln) for ln in section.splitlines()[1:] if ln.startswith("{")]
        self.assertTrue(any(ln.get("rule") == "h503" and ln.get("name") == "/health" for ln in lines),
                        section[:2000])
        # A simulator that cannot start: the error says why, from its stderr.
        self.assertIn("ERROR test_plugin.py::test_start_failure", out)
        self.assertIn('no scenario named "no-such-scenario"', out)

    def test_binary_option(self):
        r = self.run_pytest("-k", "golden_path", "--stagesim-binary", STAGESIM, binary_env=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("1 passed", r.stdout)


if __name__ == "__main__":
    unittest.main()
