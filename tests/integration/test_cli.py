"""The command line: help, version, validate, option errors, exit codes, the
READY line, a port clash, and a clean SIGTERM/SIGINT exit."""
import os
import signal
import socket
import subprocess
import tempfile
import unittest

from stagesim import Stagesim
from support import SOURCE_ROOT, STAGESIM, scenario_path


def run(*args, timeout=20):
    return subprocess.run([STAGESIM, *args], capture_output=True, text=True, timeout=timeout)


class Cli(unittest.TestCase):
    def test_help_and_version(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--backend-port", "--auth-port", "--redis-port", "--bind", "--scenario", "--seed"):
            self.assertIn(opt, r.stdout)
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^stagesim \d+\.\d+\.\d+\n$")

    def test_usage_errors_exit_2(self):
        self.assertEqual(run().returncode, 2)
        r = run("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = run("up", "--backend-port", "70000")
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid value '70000' for --backend-port", r.stderr)
        r = run("up", "--no-such-option")
        self.assertEqual(r.returncode, 2)
        r = run("up", "--seed", "-3")
        self.assertEqual(r.returncode, 2)

    def test_validate(self):
        r = run("validate", scenario_path("golden-path.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{"agent": {"gap_ms": -1}}')
        try:
            r = run("validate", f.name)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr.strip(), "stagesim: %s: agent.gap_ms: must be >= 0" % f.name)
            r = run("up", "--scenario", f.name, "--backend-port", "0", "--auth-port", "0",
                    "--redis-port", "0", "--control-port", "0")
            self.assertEqual(r.returncode, 2)
            self.assertIn("agent.gap_ms: must be >= 0", r.stderr)
            self.assertEqual(r.stdout, "", "no READY line for a bad scenario")
        finally:
            os.unlink(f.name)

    def test_bad_scenario_files(self):
        """Each file in tests/scenarios/bad gives its precise message and exit 2,
        from `validate` and from `up` alike."""
        bad = os.path.join(SOURCE_ROOT, "tests", "scenarios", "bad")
        with open(os.path.join(bad, "expected.tsv")) as f:
            expected = dict(line.rstrip("\n").split("\t", 1) for line in f if line.strip())
        files = sorted(n for n in os.listdir(bad) if n.endswith(".json"))
        self.assertEqual(sorted(expected), files, "every bad file has its expected message")
        self.assertGreaterEqual(len(files), 20)
        for name in files:
            path = os.path.join(bad, name)
            want = "stagesim: %s: %s" % (path, expected[name])
            r = run("validate", path)
            self.assertEqual((r.returncode, r.stderr.strip()), (2, want), name)
            r = run("up", "--scenario", path, "--backend-port", "0", "--auth-port", "0",
                    "--redis-port", "0", "--control-port", "0")
            self.assertEqual((r.returncode, r.stderr.strip()), (2, want), name)
            self.assertEqual(r.stdout, "")

    def test_every_shipped_scenario_is_valid(self):
        root = os.path.join(SOURCE_ROOT, "scenarios")
        names = [n for n in os.listdir(root) if n.endswith(".json")]
        self.assertIn("golden-path.json", names)
        for name in names:
            r = run("validate", os.path.join(root, name))
            self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr))

    def test_scenarios_by_name(self):
        root = os.path.join(SOURCE_ROOT, "scenarios")
        names = sorted(n[:-5] for n in os.listdir(root) if n.endswith(".json"))
        r = run("scenarios")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = [line.split()[0] for line in r.stdout.splitlines()]
        self.assertEqual(listed, names, "one line per shipped scenario, sorted")
        r = run("scenarios", "upgrade-503")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("upgrade-503 ("), r.stdout)
        self.assertIn("HTTP 503", r.stdout)
        self.assertEqual(run("validate", "golden-path").returncode, 0)
        with Stagesim(scenario="ws-1011-mid-run") as sim:
            self.assertTrue(sim.backend_port)
        r = run("up", "--scenario", "no-such-scenario")
        self.assertEqual(r.returncode, 2)
        self.assertIn('no scenario named "no-such-scenario" (looked in ', r.stderr)
        r = run("scenarios", "a", "b")
        self.assertEqual(r.returncode, 2)

    def test_scenario_path_comes_first(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "golden-path.json"), "w") as f:
                f.write('{"name": "mine", "summary": "a local copy"}')
            env = dict(os.environ, STAGESIM_SCENARIO_PATH=d)
            r = subprocess.run([STAGESIM, "scenarios", "golden-path"], capture_output=True, text=True,
                               timeout=20, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("mine (%s/golden-path.json)" % d), r.stdout)
            r = subprocess.run([STAGESIM, "scenarios"], capture_output=True, text=True, timeout=20, env=env)
            self.assertEqual(r.stdout.split(), ["golden-path", "a", "local", "copy"])

    def test_ready_line_and_sigterm(self):
        s = Stagesim(scenario=scenario_path("golden-path.json"), seed=7)
        self.assertEqual(set(s.ports), {"backend", "auth", "redis", "control"})
        self.assertEqual(len(set(s.ports.values())), 4)
        with socket.create_connection(("127.0.0.1", s.redis_port), timeout=5) as c:
            c.sendall(b"PING\r\n")
            self.assertEqual(c.recv(100), b"+PONG\r\n")
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertEqual(s.stdout_rest, "", "exactly one line on stdout")

    def test_sigint(self):
        s = Stagesim()
        self.assertEqual(s.stop(signal.SIGINT), 0)

    def test_port_in_use_exit_1(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            r = run("up", "--backend-port", "0", "--auth-port", "0", "--control-port", "0",
                    "--redis-port", str(port))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertIn(str(port), r.stderr)


if __name__ == "__main__":
    unittest.main()
