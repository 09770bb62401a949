"""`stagesim drill` end to end: every shipped drill passes; one mutated
expectation of several drills (a close code, a count, a breaker timing, an
event ordinal) makes each fail with exit 1 and a report naming it, expected
and actual; the JUnit file as CI systems read it; the digest over runs and
seeds, and --expect-digest naming the first differing line; invalid drills
exit 2 with the loader's error."""
import glob
import json
import os
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

from support import STAGESIM, SOURCE_ROOT, scenario_path

SCENARIOS = sorted(glob.glob(os.path.join(SOURCE_ROOT, "scenarios", "*.json")))

# A drill whose journal has breaker lines: a golden-path step behind a
# breaker (consecutive failures 2, open 1 s) while the first three runs of
# the service are closed 1011 (counted, not timed: the same on a loaded
# machine); the runs after pass.
BREAKER_DRILL = {
    "name": "breaker-drill",
    "seed": 9,
    "users": [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"}],
    "agent": {"gap_ms": 20},
    "faults": [{"id": "ws-1011", "on": "ws.send", "match": {"name": "tool_executing"},
                "scope": "service", "first": 3,
                "action": {"kind": "close", "code": 1011, "reason": "x"}}],
    "expect": {
        "time_scale": 2,
        "steps": [{"id": "chat", "probe": "golden-path", "every_ms": 400, "until_ms": 3200,
                   "breaker": "consecutiveFailures=2,waitDurationInOpenState=1s"}],
        "checks": [
            {"id": "opens-then-recovers", "breaker": "chat", "svc": "drill",
             "since": {"rule": "ws-1011"},
             "sequence": [{"state": "closed"}, {"state": "open", "at_ms": {"range": [0, 2000]}},
                          {"state": "half_open", "time": "eligible",
                           "after_prev_ms": {"eq": 1000}},
                          {"state": "closed"}],
             "never": ["forced_open"]},
        ],
    },
}


def drill(*args, timeout=120):
    r = subprocess.run([STAGESIM, "drill", *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def write_json(obj, directory, name):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def load(name):
    with open(scenario_path(name)) as f:
        return json.load(f)


def check(sc, check_id):
    return next(c for c in sc["expect"]["checks"] if c["id"] == check_id)


def mutated(directory, name, check_id, key, matcher):
    """A shipped drill written to directory with one check's key changed."""
    sc = load(name)
    check(sc, check_id)[key] = matcher
    return write_json(sc, directory, "mutated-" + name)


class ShippedDrills(unittest.TestCase):
    def test_every_shipped_drill_passes(self):
        # Every shipped scenario is a drill: it says what must happen.
        self.assertGreaterEqual(len(SCENARIOS), 35)
        self.assertEqual([s for s in SCENARIOS if "expect" not in load(s)], [])
        code, out, err = drill(*SCENARIOS, "--json")
        reports = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([(r["drill"], r["ok"]) for r in reports if not r["ok"]], [], out + err)
        self.assertEqual((code, len(reports)), (0, len(SCENARIOS)), err)
        for r in reports:
            self.assertEqual(r["failures"] + r["errors"], 0)
            self.assertEqual(r["time_scale_note"], "the time scale does not apply to external clients")


class Mutations(unittest.TestCase):
    """One expectation changed; the drill fails naming it, expected and actual."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def assert_fails(self, sc, check_id, expected, actual):
        path = write_json(sc, self.tmp.name, "mutated.json")
        code, out, err = drill(path)
        self.assertEqual(code, 1, out + err)
        line = next(l for l in out.splitlines() if l.startswith("FAIL %s:" % check_id))
        wanted, _, seen = line.partition("; actual ")
        self.assertIn(expected, wanted)
        self.assertIn(actual, seen)
        others = [l for l in out.splitlines() if l.startswith(("FAIL", "ERROR"))]
        self.assertEqual(others, [line], "only the mutated check fails")

    def test_close_code(self):
        sc = load("ws-1011-mid-run.json")
        check(sc, "closed-1011-at-event-3")["close_code"] = {"eq": 1006}
        self.assert_fails(sc, "closed-1011-at-event-3", "every attempt: stage \"close\", "
                          "failure \"closed\", close_code 1006", "close_code 1011")

    def test_count(self):
        sc = load("dropped-events.json")
        check(sc, "some-runs-lose-tool-completed")["failed"] = {"eq": 3}
        self.assert_fails(sc, "some-runs-lose-tool-completed", "passed 4, failed 3",
                          "passed 4, failed 4")

    def test_event_ordinal(self):
        sc = load("handler-missing.json")
        check(sc, "agent-error-at-event-1")["event_ordinal"] = {"eq": 2}
        self.assert_fails(sc, "agent-error-at-event-1", "event_ordinal 2", "event_ordinal 1")

    def test_breaker_timing(self):
        path = write_json(BREAKER_DRILL, self.tmp.name, "breaker.json")
        code, out, err = drill(path)
        self.assertEqual(code, 0, out + err)
        sc = json.loads(json.dumps(BREAKER_DRILL))
        check(sc, "opens-then-recovers")["sequence"][2]["after_prev_ms"] = {"eq": 2000}
        self.assert_fails(sc, "opens-then-recovers", "half_open (eligible, after_prev_ms 2000)",
                          "breaker chat: closed@0 -> open@")
        path = write_json(sc, self.tmp.name, "mutated.json")
        _, out, _ = drill(path)
        self.assertIn("; half_open after_prev_ms 1000", out)


class JUnit(unittest.TestCase):
    def test_junit_as_ci_reads_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = mutated(tmp, "ws-1011-mid-run.json", "rule-fired-once-per-connection", "fired",
                          {"eq": 4})
            junit = os.path.join(tmp, "junit.xml")
            code, out, err = drill(scenario_path("golden-path.json"), bad, "--junit", junit,
                                   "--seed", "5")
            self.assertEqual(code, 1, out + err)
            # python3 -m xml.etree.ElementTree reads it (no output, exit 0).
            r = subprocess.run(["python3", "-m", "xml.etree.ElementTree", junit],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            root = ET.parse(junit).getroot()
            self.assertEqual(root.tag, "testsuites")
            suites = root.findall("testsuite")
            self.assertEqual([s.get("name") for s in suites], ["golden-path", "ws-1011-mid-run"])
            for s in suites:
                for attr in ("tests", "failures", "errors", "time"):
                    self.assertIsNotNone(s.get(attr), attr)
                props = {p.get("name"): p.get("value") for p in s.find("properties")}
                self.assertEqual(props["seed"], "5")
                self.assertIn(props["time_scale"], ("10",))
                cases = s.findall("testcase")
                self.assertEqual(int(s.get("tests")), len(cases))
                names = [c.get("name") for c in cases]
                self.assertEqual(len(names), len(set(names)), "unique testcase names")
                self.assertTrue(all(c.get("classname") == s.get("name") for c in cases))
            self.assertEqual(suites[0].get("failures"), "0")
            self.assertEqual(suites[1].get("failures"), "1")
            failure = suites[1].find("testcase[@name='rule-fired-once-per-connection']/failure")
            self.assertEqual(failure.get("message"),
                             "expected rule ws-1011-after-thinking fired 4, "
                             "actual rule ws-1011-after-thinking fired 3")


class Replay(unittest.TestCase):
    """dropped-events: which tool_completed are dropped is drawn from the seed."""
    DRILL = scenario_path("dropped-events.json")

    def digest(self, *args, code=0):
        got, out, err = drill(self.DRILL, "--json", *args)
        self.assertEqual(got, code, out + err)
        return json.loads(out)["digest"]

    def test_same_seed_same_digest_other_seed_other(self):
        runs = {self.digest("--seed", "7") for _ in range(3)}
        self.assertEqual(len(runs), 1, runs)
        # Another seed drops other events: the drill's counts fail too.
        self.assertNotIn(self.digest("--seed", "8", code=1), runs)

    def test_expect_digest(self):
        with tempfile.TemporaryDirectory() as tmp:
            chain = os.path.join(tmp, "chain")
            first = self.digest("--digest-out", chain)
            with open(chain) as f:
                links = f.read().split()
            self.assertEqual(links[-1], first)
            self.assertEqual(self.digest("--expect-digest", first), first)
            self.assertEqual(self.digest("--expect-digest", chain), first)
            code, out, _ = drill(self.DRILL, "--seed", "8", "--expect-digest", chain)
            self.assertEqual(code, 1, out)
            line = next(l for l in out.splitlines() if l.startswith("FAIL expect-digest:"))
            self.assertRegex(line, r"actual canonical line \d+ differs: \{\"svc\":\"backend\"")
            code, out, _ = drill(self.DRILL, "--seed", "8", "--expect-digest", first)
            self.assertEqual(code, 1, out)
            self.assertIn("FAIL expect-digest: expected digest %s" % first, out)


class Invalid(unittest.TestCase):
    def test_invalid_drills_exit_2_with_the_loaders_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = mutated(tmp, "ws-1011-mid-run.json", "closed-1011-at-event-3", "close_code",
                           {"equals": 1011})
            code, out, err = drill(scenario_path("golden-path.json"), path)
            self.assertEqual(code, 2)
            self.assertEqual(out, "", "no drill runs when one is invalid")
            self.assertIn("%s: expect.checks[1].close_code: unknown matcher \"equals\" "
                          "(eq, in, range, regex)" % path, err)
            plain = load("golden-path.json")
            del plain["expect"]
            path = write_json(plain, tmp, "plain.json")
            code, _, err = drill(path)
            self.assertEqual(code, 2)
            self.assertIn("%s: expect: is required" % path, err)

    def test_usage_errors_exit_2(self):
        for args in ([], ["--time-scale", "0", scenario_path("golden-path.json")],
                     ["--seed", "-1", scenario_path("golden-path.json")],
                     ["--bogus", scenario_path("golden-path.json")],
                     ["--digest-out", "/dev/null", scenario_path("golden-path.json"),
                      scenario_path("golden-path.json")]):
            code, _, err = drill(*args)
            self.assertEqual(code, 2, (args, err))


if __name__ == "__main__":
    unittest.main()
