"""`stagesim probe` against a running stagesim: the golden path 1000 of 1000
times (100 at once), with each token source, the E2E bypass and the legacy
build; the same failure point on every attempt against ws-1011-mid-run; a
refused upgrade and a timeout; over wss with the READY line's certificate;
health passing and failing; auth; redis passing, and failing against a
closed port; attempts behind a breaker (--breaker) against a failing /health,
checked against the server's journal; usage errors. Results are read from
--json (docs/probes.md)."""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

from stagesim import Stagesim
from support import STAGESIM, scenario_path

E2E_KEY = "probe-e2e-key-0123456789abcdef"


def probe_lines(*args, timeout=120, env=None):
    """Runs `stagesim probe ARGS --json`; returns (exit code, every object in
    the order printed, stderr)."""
    r = subprocess.run([STAGESIM, "probe", *args, "--json"], capture_output=True, text=True,
                       timeout=timeout, env=env)
    return r.returncode, [json.loads(line) for line in r.stdout.splitlines() if line.strip()], r.stderr


def probe(*args, timeout=120, env=None):
    """Runs `stagesim probe ARGS --json`; returns (exit code, attempt objects,
    the summary object, stderr)."""
    code, lines, err = probe_lines(*args, timeout=timeout, env=env)
    attempts = [o for o in lines if o["type"] == "attempt"]
    summary = [o for o in lines if o["type"] == "summary"]
    return code, attempts, summary[0] if summary else None, err


def golden(sim, *args, **kw):
    return probe("golden-path", "--backend", sim.backend_url, "--auth", sim.auth_url, *args, **kw)


def closed_port():
    """A port nothing listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fields(attempt, *keys):
    return tuple(attempt[k] for k in keys)


class SimTest(unittest.TestCase):
    """A stagesim for the class, started with sim_args (and sim_env); its
    clean exit is checked at the end."""
    sim_args = ()
    sim_env = None

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(args=cls.sim_args, env=cls.sim_env)

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        assert code == 0, "stagesim exited %r: %s" % (code, cls.sim.stderr[-3000:])

    def failures(self, result):
        """The attempts of a probe run that must have failed (exit 1)."""
        code, attempts, _, err = result
        self.assertEqual(code, 1, (attempts, err[-2000:]))
        return attempts

    def passes(self, result, n=1):
        code, attempts, summary, err = result
        self.assertEqual([a for a in attempts if not a["ok"]], [], err[-2000:])
        self.assertEqual((code, len(attempts)), (0, n))
        return attempts, summary


class AgainstDefaultScenario(SimTest):
    sim_env = {"E2E_OAUTH_SIMULATION_KEY": E2E_KEY}

    def assert_all_passed(self, result, n):
        attempts, summary = self.passes(result, n)
        self.assertEqual(sorted(a["attempt"] for a in attempts), list(range(1, n + 1)))
        self.assertEqual(fields(summary, "attempts", "passed", "failed"), (n, n, 0))

    def test_golden_path_1000_attempts_100_at_once(self):
        t0 = time.monotonic()
        res = golden(self.sim, "--count", "1000", "--concurrency", "100")
        took = time.monotonic() - t0
        self.assert_all_passed(res, 1000)
        summary = res[2]
        self.assertLessEqual(summary["latency_ms"]["p50"], summary["latency_ms"]["p95"])
        self.assertLessEqual(summary["latency_ms"]["p95"], summary["latency_ms"]["max"])
        # 10 rounds of a ~0.2 s run; generous for a shared 2-core machine.
        self.assertLess(took, 60, "1000 runs at concurrency 100 took %.1f s" % took)

    def test_golden_path_one_at_a_time(self):
        # The scenario spaces its events 50 ms apart, so a run takes ~0.2 s
        # and 1000 in a row take over 3 minutes; STAGESIM_PROBE_LONG=1 runs
        # those, the default a tenth of them.
        n = 1000 if os.environ.get("STAGESIM_PROBE_LONG") == "1" else 100
        self.assert_all_passed(golden(self.sim, "--count", str(n), timeout=600), n)

    def test_each_token_source_and_the_e2e_bypass(self):
        for source in ("query", "header", "subprotocol"):
            with self.subTest(source=source):
                self.assert_all_passed(golden(self.sim, "--token-source", source, "--count", "3"), 3)
        self.assert_all_passed(golden(self.sim, "--e2e-key", E2E_KEY, "--count", "3"), 3)
        self.assert_all_passed(golden(self.sim, "--email", "bob@example.com", "--password",
                                      "bob-password", "--interval", "20", "--count", "3"), 3)

    def test_login_refused(self):
        a = self.failures(golden(self.sim, "--password", "wrong"))[0]
        self.assertEqual(fields(a, "stage", "failure", "http_status"), ("login", "status", 401))
        self.assertIn("Invalid credentials", a["detail"])
        a = self.failures(golden(self.sim, "--e2e-key", "not-the-key"))[0]
        self.assertEqual(fields(a, "stage", "http_status"), ("login", 401))

    def test_health_passes(self):
        attempts, summary = self.passes(probe("health", "--url", self.sim.backend_url + "/health",
                                              "--field", "status=ok", "--max-latency-ms", "5000",
                                              "--count", "5"), 5)
        self.assertEqual({a["http_status"] for a in attempts}, {200})
        self.assertEqual(summary["passed"], 5)
        self.passes(probe("health", "--url", self.sim.auth_url + "/health", "--field",
                          "service=auth-service", "--field", "database_status=connected"))

    def test_health_fails_on_status_and_on_a_missing_field(self):
        health = self.sim.backend_url + "/health"
        a = self.failures(probe("health", "--url", health, "--status", "503"))[0]
        self.assertEqual(fields(a, "stage", "expected", "got", "http_status"),
                         ("status", "503", "200", 200))
        a = self.failures(probe("health", "--url", health, "--field", "checks.redis.status=healthy"))[0]
        self.assertEqual(fields(a, "stage", "field", "expected", "got"),
                         ("field", "checks.redis.status", "healthy", None))
        a = self.failures(probe("health", "--url", self.sim.backend_url + "/no-such-route"))[0]
        self.assertEqual(a["http_status"], 404)

    def test_auth_probe(self):
        auth = ("auth", "--auth", self.sim.auth_url)
        self.passes(probe(*auth, "--count", "3"), 3)
        self.passes(probe(*auth, "--e2e-key", E2E_KEY))
        self.passes(probe(*auth, "--email", "bob@example.com", "--password", "bob-password",
                          "--e2e-key", E2E_KEY))
        a = self.failures(probe(*auth, "--password", "nope"))[0]
        self.assertEqual(fields(a, "stage", "http_status"), ("login", 401))

    def test_redis_probe(self):
        self.passes(probe("redis", "--redis", "127.0.0.1:%d" % self.sim.redis_port, "--count", "20",
                          "--concurrency", "5"), 20)

    def test_redis_probe_against_a_closed_port(self):
        port = closed_port()
        a = self.failures(probe("redis", "--redis", "127.0.0.1:%d" % port, timeout=30))[0]
        self.assertEqual(fields(a, "stage", "failure"), ("connect", "connect"))
        self.assertIn("127.0.0.1:%d" % port, a["detail"])
        self.assertIn("refused", a["detail"])


class AgainstWs1011MidRun(SimTest):
    sim_args = ("--scenario", scenario_path("ws-1011-mid-run.json"))

    def test_same_failure_point_every_attempt(self):
        # The scenario closes after agent_thinking on each connection's first run.
        result = golden(self.sim, "--count", "40", "--concurrency", "8")
        attempts = self.failures(result)
        self.assertEqual(fields(result[2], "attempts", "failed"), (40, 40))
        points = {fields(a, "stage", "failure", "event_ordinal", "close_code", "close_reason",
                         "expected") for a in attempts}
        self.assertEqual(points, {("close", "closed", 3, 1011, "Internal error", "tool_executing")})

    def test_human_line(self):
        r = subprocess.run([STAGESIM, "probe", "golden-path", "--backend", self.sim.backend_url,
                            "--auth", self.sim.auth_url], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn('attempt 1: FAIL at event 3: close 1011 "Internal error" (expected tool_executing)',
                      r.stdout)
        self.assertIn("golden-path: 0 passed, 1 failed of 1", r.stdout)


class AgainstUpgrade503(SimTest):
    sim_args = ("--scenario", scenario_path("upgrade-503.json"))

    def test_refused_upgrade_names_its_status(self):
        for a in self.failures(golden(self.sim, "--count", "2", "--concurrency", "2")):
            self.assertEqual(fields(a, "stage", "failure", "http_status", "expected", "got"),
                             ("upgrade", "status", 503, "101", "503"))

    def test_timeout_names_what_was_awaited(self):
        # The 503 comes after 2.2-2.8 s: a 1 s attempt times out waiting for it.
        a = self.failures(golden(self.sim, "--timeout-ms", "1000"))[0]
        self.assertEqual(fields(a, "stage", "failure", "expected"), ("timeout", "timeout", "upgrade"))
        self.assertGreaterEqual(a["latency_ms"], 1000)


class AgainstDroppedEvents(SimTest):
    sim_args = ("--scenario", scenario_path("dropped-events.json"))

    def test_lost_tool_completed_is_a_tool_count(self):
        failed = [a for a in self.failures(golden(self.sim, "--count", "20")) if not a["ok"]]
        self.assertTrue(failed, "p = 0.5 over 20 runs")
        for a in failed:
            self.assertEqual(fields(a, "failure", "event_ordinal", "expected", "got"),
                             ("tool_count", 4, "tool_completed", "agent_completed"))


class AgainstLegacyBuild(SimTest):
    """The legacy profile: system_message welcome, events with "payload"."""

    @classmethod
    def setUpClass(cls):
        with open(scenario_path("golden-path.json")) as f:
            sc = json.load(f)
        sc["name"], sc["profile"] = "golden-path-legacy", "legacy"
        cls.tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(sc, cls.tmp)
        cls.tmp.close()
        cls.sim_args = ("--scenario", cls.tmp.name)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.tmp.name)

    def test_legacy_golden_path_passes(self):
        self.passes(golden(self.sim, "--count", "3"), 3)


class OverTls(SimTest):
    sim_args = ("--tls",)

    def test_golden_path_over_wss_with_the_ready_cert(self):
        self.passes(probe("golden-path", "--backend", "wss://127.0.0.1:%d" % self.sim.backend_port,
                          "--auth", self.sim.auth_url, "--cacert", self.sim.cert, "--count", "20",
                          "--concurrency", "5"), 20)

    def test_health_and_auth_over_https(self):
        self.passes(probe("health", "--url", self.sim.backend_url + "/health", "--cacert",
                          self.sim.cert))
        self.passes(probe("auth", "--auth", self.sim.auth_url, "--cacert", self.sim.cert))

    def test_untrusted_certificate_fails_with_the_reason(self):
        # The system store trusts nothing stagesim made.
        a = self.failures(golden(self.sim, "--cacert", "/etc/ssl/certs/ca-certificates.crt"))[0]
        self.assertEqual(fields(a, "stage", "failure"), ("login", "connect"))
        self.assertIn("self-signed certificate", a["detail"])


    def test_system_store_as_openssl_finds_it(self):
        # Without --cacert the system store is loaded before the first TLS
        # connection (probe_net.c), from where OpenSSL looks: SSL_CERT_FILE
        # naming the READY certificate makes it trusted; a store without it
        # does not.
        env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
        url = self.sim.backend_url + "/health"
        self.passes(probe("health", "--url", url, env=dict(env, SSL_CERT_FILE=self.sim.cert)))
        with tempfile.TemporaryDirectory() as empty:
            a = self.failures(probe("health", "--url", url,
                                    env=dict(env, SSL_CERT_FILE=os.path.join(empty, "none.pem"),
                                             SSL_CERT_DIR=empty)))[0]
        self.assertIn("certificate", a["detail"])


HALF_OPEN_SPEC = "consecutiveFailures=3,waitDurationInOpenState=%s,permittedNumberOfCallsInHalfOpenState=1"


class BehindABreaker(SimTest):
    """--breaker against a /health made to fail by a run-time fault rule.
    What the probe says is checked against what the server saw: its journal
    counts the requests that arrived, so a refused attempt that was sent
    anyway cannot pass. Bounds are counts and order, not times."""

    def setUp(self):
        self.since = self.sim.control.journal(limit=1).total
        self.rules = []

    def tearDown(self):
        for rule in self.rules:
            self.sim.control.remove_fault(rule)

    def fail_health(self, rule_id, **when):
        self.sim.control.add_fault(dict(id=rule_id, on="http.request", match={"name": "/health"},
                                        action={"kind": "status", "status": 503}, **when))
        self.rules.append(rule_id)

    def health_behind(self, spec, *args):
        return probe_lines("health", "--url", self.sim.backend_url + "/health", "--breaker", spec,
                           *args)

    def received(self, svc="backend", name="/health"):
        """The requests the server got since the test began."""
        return len(self.sim.control.journal_all(since=self.since, svc=svc, point="request",
                                                name=name))

    def replay(self, lines):
        """Walks the output in order, the breaker's state following its
        transition lines: every attempt must be refused exactly when the
        state is open (the transition a verdict causes is printed after that
        verdict, the one an attempt's start observes before it). Returns the
        transitions as (from, to, reason) and the refused attempts' numbers."""
        state, transitions, refused = "closed", [], []
        for o in lines:
            if o["type"] == "breaker":
                self.assertEqual((o["svc"], o["event"], o["breaker"], o["from"]),
                                 ("probe", "breaker", "health", state), o)
                self.assertLessEqual(o["eligible_ms"], o["t_ms"], o)
                state = o["to"]
                transitions.append((o["from"], o["to"], o["reason"]))
            elif o["type"] == "attempt":
                self.assertEqual(o["stage"] == "breaker", state == "open", (state, o))
                if state == "open":
                    refused.append(o["attempt"])
                    self.assertEqual((o["ok"], o["failure"], o["http_status"], o["latency_ms"]),
                                     (False, "not_permitted", None, 0), o)
        return transitions, refused

    def test_opens_refuses_half_opens_and_closes_once_the_fault_is_gone(self):
        # The rule fails the first 3 requests only: attempts 1-3 fail and
        # open the breaker; refusals until the 500 ms wait is over; the one
        # trial then finds /health well and closes it.
        self.fail_health("health-503-first-3", times=3)
        code, lines, err = self.health_behind(HALF_OPEN_SPEC % "500ms", "--count", "15",
                                              "--interval", "100")
        self.assertEqual(code, 1, err[-2000:])   # refusals count as failures
        transitions, refused = self.replay(lines)
        self.assertEqual(transitions, [("closed", "open", "consecutive_failures"),
                                       ("open", "half_open", "wait_elapsed"),
                                       ("half_open", "closed", "success_threshold")])
        attempts = [o for o in lines if o["type"] == "attempt"]
        self.assertEqual([a["attempt"] for a in attempts], list(range(1, 16)))
        self.assertEqual([(a["stage"], a["http_status"]) for a in attempts[:3]], [("status", 503)] * 3)
        # Refused: the attempts right after the third, at least one (they
        # start 100 ms apart inside a 500 ms wait), at most what fits in it.
        self.assertEqual(refused, list(range(4, 4 + len(refused))))
        self.assertTrue(1 <= len(refused) <= 6, refused)
        self.assertTrue(all(a["ok"] for a in attempts[3 + len(refused):]), attempts)
        opened, half_open = [o for o in lines if o["type"] == "breaker"][:2]
        self.assertEqual(half_open["eligible_ms"], opened["t_ms"] + 500)
        summary = lines[-1]
        self.assertEqual(summary["type"], "summary")
        self.assertEqual(summary["breaker"], {"state": "closed", "permitted": 15 - len(refused),
                                              "refused": len(refused), "transitions": 3})
        self.assertEqual((summary["passed"], summary["failed"]), (12 - len(refused), 3 + len(refused)))
        # Refused attempts never reached the server.
        self.assertEqual(self.received(), 15 - len(refused))
        self.assertEqual(self.sim.control.fault("health-503-first-3")["fired"], 3)

    def test_a_failing_trial_reopens_and_refused_attempts_stay_off_the_wire(self):
        self.fail_health("health-503-always")
        code, lines, err = self.health_behind(HALF_OPEN_SPEC % "300ms", "--count", "12",
                                              "--interval", "100")
        self.assertEqual(code, 1, err[-2000:])
        transitions, refused = self.replay(lines)
        # 3 failures, then cycles of refusals and one failing trial: a
        # refusal per 100 ms in a 300 ms wait leaves room for at least one.
        # Each half-open is seen by the attempt that becomes its trial.
        trials = (len(transitions) - 1) // 2
        self.assertGreaterEqual(trials, 1)
        self.assertEqual(transitions, [("closed", "open", "consecutive_failures")] +
                         [("open", "half_open", "wait_elapsed"),
                          ("half_open", "open", "half_open_failure")] * trials)
        sent = [o for o in lines if o["type"] == "attempt" and o["stage"] != "breaker"]
        self.assertEqual({(a["stage"], a["http_status"]) for a in sent}, {("status", 503)})
        self.assertEqual(len(sent), 3 + trials)
        self.assertEqual(len(sent) + len(refused), 12)
        summary = lines[-1]
        self.assertEqual(summary["breaker"]["permitted"], len(sent))
        self.assertEqual(summary["breaker"]["refused"], len(refused))
        self.assertEqual(self.received(), len(sent))
        self.assertEqual(self.sim.control.fault("health-503-always")["fired"], len(sent))

    def test_human_lines_and_another_probe(self):
        # A wait far longer than the run: two failures, then only refusals.
        self.fail_health("health-503-human")
        r = subprocess.run([STAGESIM, "probe", "health", "--url", self.sim.backend_url + "/health",
                            "--breaker", "consecutiveFailures=2,waitDurationInOpenState=10m",
                            "--count", "5"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = r.stdout.splitlines()
        self.assertEqual(out[0], "attempt 1: FAIL at status: HTTP 503 (expected 200, got 503)")
        self.assertRegex(out[2], r"^breaker closed -> open at \d+ ms \(2 consecutive failures\)$")
        self.assertEqual(out[3:6], ["attempt %d: REFUSED: not sent, the breaker is open" % n
                                    for n in (3, 4, 5)])
        self.assertRegex(out[6], r"^health: 0 passed, 5 failed of 5; ")
        self.assertEqual(out[7], "breaker: open at the end; 2 attempts sent, 3 refused; 1 transition")
        self.assertEqual(self.received(), 2)
        # auth: the same breaker in front of a refused login.
        code, attempts, summary, err = probe("auth", "--auth", self.sim.auth_url, "--password", "nope",
                                             "--breaker", "consecutiveFailures=1,waitDurationInOpenState=10m",
                                             "--count", "3")
        self.assertEqual(code, 1, err[-2000:])
        self.assertEqual([(a["stage"], a["failure"]) for a in attempts],
                         [("login", "status")] + [("breaker", "not_permitted")] * 2)
        self.assertEqual(summary["breaker"], {"state": "open", "permitted": 1, "refused": 2,
                                              "transitions": 1})
        self.assertEqual(self.received("auth", "/auth/login"), 1)

    def test_a_breaker_that_never_trips_changes_nothing(self):
        code, lines, err = self.health_behind("consecutiveFailures=3", "--count", "4")
        self.assertEqual(code, 0, err[-2000:])
        self.assertEqual([o["type"] for o in lines], ["attempt"] * 4 + ["summary"])
        self.assertEqual(lines[-1]["breaker"], {"state": "closed", "permitted": 4, "refused": 0,
                                                "transitions": 0})
        self.assertEqual(self.received(), 4)


class UsageErrors(unittest.TestCase):
    def check(self, args, needle):
        r = subprocess.run([STAGESIM, "probe", *args], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2, (args, r.stdout, r.stderr))
        self.assertIn(needle, r.stderr)

    def test_usage_errors_exit_2_naming_the_flag(self):
        self.check([], "usage: stagesim probe")
        self.check(["frobnicate"], "unknown probe 'frobnicate'")
        self.check(["golden-path", "--auth", "http://127.0.0.1:1"], "--backend is required")
        self.check(["golden-path", "--backend", "ftp://h", "--auth", "http://h"],
                   "--backend: unsupported scheme 'ftp'")
        self.check(["golden-path", "--backend", "http://h", "--auth", "http://h",
                    "--token-source", "cookie"], "--token-source: 'cookie'")
        self.check(["golden-path", "--backend", "http://h", "--auth", "http://h",
                    "--password", "p", "--e2e-key", "k"], "--password and --e2e-key")
        self.check(["health", "--url", "http://h", "--count", "0"], "--count: invalid value '0'")
        self.check(["health", "--url", "http://h", "--concurrency", "x"], "--concurrency: invalid value")
        self.check(["health", "--url", "http://h", "--field", "status"], "--field: invalid value 'status'")
        self.check(["health", "--url", "http://h", "--cacert", "/no/such/ca.pem"],
                   "--cacert: cannot read /no/such/ca.pem")
        self.check(["health"], "--url is required")
        self.check(["redis", "--url", "http://h"], "--url does not apply to redis")
        self.check(["redis", "--redis", "localhost"], "--redis: 'localhost' has no port")
        self.check(["auth", "--auth", "http://h", "--bogus"], "unknown or incomplete option '--bogus'")
        self.check(["auth", "--auth", "http://h", "extra"], "unexpected argument 'extra'")

    def test_a_bad_breaker_spec_names_its_key(self):
        # Worded as the scenario loader words it, after the flag.
        self.check(["health", "--url", "http://h", "--breaker", "waitDurationInOpenState=0"],
                   "stagesim probe health: --breaker: waitDurationInOpenState: must be >= 1")
        self.check(["redis", "--redis", "h:1", "--breaker", "consecutiveFailures=3,fooBar=1"],
                   "--breaker: fooBar: unknown key")
        self.check(["golden-path", "--backend", "http://h", "--auth", "http://h", "--breaker",
                    "slidingWindowType=SIDEWAYS"],
                   "--breaker: slidingWindowType: must be COUNT_BASED or TIME_BASED")
        self.check(["auth", "--auth", "http://h", "--breaker"], "unknown or incomplete option '--breaker'")

    def test_help(self):
        r = subprocess.run([STAGESIM, "probe", "--help"], capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0)
        for word in ("health", "golden-path", "auth", "redis", "--concurrency", "--cacert", "--json",
                     "--breaker"):
            self.assertIn(word, r.stdout)
        r = subprocess.run([STAGESIM, "--help"], capture_output=True, text=True, timeout=20)
        self.assertIn("stagesim probe", r.stdout)


if __name__ == "__main__":
    unittest.main()
