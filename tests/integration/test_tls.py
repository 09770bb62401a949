"""--tls with real clients that trust only the certificate the READY line
names: python-websockets over wss and httpx over https through
SSL_CERT_FILE, curl --cacert; the certificate's names and validity; a pair
given with --tls-cert/--tls-key; --tls-dir; redis-py unaffected (Redis stays
plain); usage errors."""
import asyncio
import json
import os
import socket
import ssl
import subprocess
import tempfile
import unittest

import httpx
import redis
import websockets

from stagesim import Stagesim
from support import SOURCE_ROOT, STAGESIM

EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]


def trusting(cert):
    """An SSL context that trusts exactly `cert` (what SSL_CERT_FILE does)."""
    ctx = ssl.create_default_context(cafile=cert)
    return ctx


def golden_path(sim, host="127.0.0.1"):
    """Logs in over https and runs one chat over wss; returns the event types."""
    ctx = trusting(sim.cert)
    r = httpx.post("https://%s:%d/auth/login" % (host, sim.auth_port), verify=ctx, timeout=10,
                   json={"email": "alice@example.com", "password": "alice-password"})
    assert r.status_code == 200, r.text
    tok = r.json()["access_token"]

    async def chat():
        url = "wss://%s:%d/ws?token=%s" % (host, sim.backend_port, tok)
        async with websockets.connect(url, ssl=ctx, open_timeout=10) as ws:
            types = [json.loads(await asyncio.wait_for(ws.recv(), 10))["type"]]
            await ws.send(json.dumps({"type": "user_message", "message": "over tls", "thread_id": "tls-1"}))
            for _ in EVENTS:
                types.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
            return types

    return asyncio.run(asyncio.wait_for(chat(), 30))


class GeneratedCertificate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(tls=True)

    @classmethod
    def tearDownClass(cls):
        cert = cls.sim.cert
        code = cls.sim.stop()
        assert code == 0, "stagesim exited %r: %s" % (code, cls.sim.stderr[-3000:])
        assert not os.path.exists(cert), "the made certificate is removed at exit"

    def test_ready_names_a_private_certificate(self):
        self.assertTrue(self.sim.cert and os.path.isfile(self.sim.cert), self.sim.ports)
        d = os.path.dirname(self.sim.cert)
        self.assertEqual(os.stat(d).st_mode & 0o777, 0o700, "a fresh private directory")
        self.assertEqual(os.stat(os.path.join(d, "key.pem")).st_mode & 0o777, 0o600)

    def test_certificate_names_and_validity(self):
        out = subprocess.run(["openssl", "x509", "-in", self.sim.cert, "-noout", "-text"],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("ASN1 OID: prime256v1", out)   # EC P-256
        self.assertIn("DNS:localhost", out)
        self.assertIn("IP Address:127.0.0.1", out)
        self.assertIn("IP Address:0:0:0:0:0:0:0:1", out)
        dates = subprocess.run(["openssl", "x509", "-in", self.sim.cert, "-noout", "-checkend", "86400"],
                               capture_output=True, text=True)
        self.assertEqual(dates.returncode, 0, "valid for at least another day")
        gone = subprocess.run(["openssl", "x509", "-in", self.sim.cert, "-noout", "-checkend",
                               str(8 * 86400)], capture_output=True, text=True)
        self.assertNotEqual(gone.returncode, 0, "valid a few days, not for ever")

    def test_wss_and_https_trusting_only_that_file(self):
        for host in ("127.0.0.1", "localhost"):
            self.assertEqual(golden_path(self.sim, host), ["connection_established"] + EVENTS, host)

    def test_ssl_cert_file_for_clients_that_read_it(self):
        # What a staging test suite does: no code change, the trust store
        # comes from the environment.
        script = (
            "import asyncio, json, httpx, websockets\n"
            "r = httpx.get('https://localhost:%d/health', timeout=10)\n"
            "assert r.status_code == 200 and r.json() == {'status': 'ok'}, r.text\n"
            "a = httpx.get('https://localhost:%d/health', timeout=10).json()\n"
            "assert a['service'] == 'auth-service', a\n"
            "async def main():\n"
            "    async with websockets.connect('wss://localhost:%d/ws', open_timeout=10) as ws:\n"
            "        print(json.loads(await ws.recv())['type'])\n"
            "asyncio.run(main())\n" % (self.sim.backend_port, self.sim.auth_port, self.sim.backend_port))
        env = dict(os.environ, SSL_CERT_FILE=self.sim.cert)
        env.pop("SSL_CERT_DIR", None)
        p = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "connection_established")

    def test_curl_cacert(self):
        for port in (self.sim.backend_port, self.sim.auth_port):
            p = subprocess.run(["curl", "-sS", "--cacert", self.sim.cert,
                                "https://localhost:%d/health" % port],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn('"status"', p.stdout)

    def test_untrusted_client_is_refused(self):
        p = subprocess.run(["curl", "-sS", "https://localhost:%d/health" % self.sim.backend_port],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, SSL_CERT_FILE="/dev/null", CURL_CA_BUNDLE="/dev/null"))
        self.assertNotEqual(p.returncode, 0, "a client that does not trust the file fails")

    def test_plain_http_on_the_tls_port_gets_no_answer(self):
        with self.assertRaises(httpx.HTTPError):
            httpx.get("http://127.0.0.1:%d/health" % self.sim.backend_port, timeout=5)

    def test_redis_stays_plain(self):
        r = redis.Redis(host="127.0.0.1", port=self.sim.redis_port, decode_responses=True)
        try:
            self.assertTrue(r.ping())
            r.set("tls:plain", "yes")
            self.assertEqual(r.get("tls:plain"), "yes")
        finally:
            r.close()


class GivenPairAndDirectory(unittest.TestCase):
    def test_tls_dir_keeps_the_files(self):
        with tempfile.TemporaryDirectory() as d:
            with Stagesim(tls=True, tls_dir=d) as sim:
                self.assertEqual(sim.cert, os.path.join(d, "cert.pem"))
                self.assertEqual(golden_path(sim)[-1], "agent_completed")
            self.assertTrue(os.path.isfile(os.path.join(d, "cert.pem")), "a given directory is kept")
            self.assertTrue(os.path.isfile(os.path.join(d, "key.pem")))

    def test_given_pair_is_served(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=given",
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                           capture_output=True, check=True)
            with Stagesim(tls_cert=cert, tls_key=key) as sim:
                self.assertEqual(sim.cert, cert)
                self.assertEqual(golden_path(sim)[-1], "agent_completed")
            self.assertTrue(os.path.isfile(cert), "the user's files are left alone")

    def test_scenario_network_tls(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"name": "tls-from-scenario", "network": {"tls": True}}, f)
        try:
            with Stagesim(scenario=f.name) as sim:
                self.assertTrue(sim.cert)
                self.assertEqual(httpx.get(sim.backend_url + "/health", verify=trusting(sim.cert),
                                           timeout=10).json(), {"status": "ok"})
        finally:
            os.unlink(f.name)


class EveryScenario(unittest.TestCase):
    """Every shipped scenario runs over TLS (--tls): both TLS ports complete
    a handshake that verifies against the READY certificate alone, whatever
    the scenario does to the requests behind it."""

    def test_each_serves_tls(self):
        names = sorted(f[:-5] for f in os.listdir(os.path.join(SOURCE_ROOT, "scenarios"))
                       if f.endswith(".json"))
        self.assertGreaterEqual(len(names), 35)
        for name in names:
            with self.subTest(scenario=name), \
                    Stagesim(scenario=os.path.join(SOURCE_ROOT, "scenarios", name + ".json"),
                             tls=True) as s:
                self.assertTrue(s.cert, "READY names the certificate")
                ctx = trusting(s.cert)
                for port in (s.backend_port, s.auth_port):
                    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                        self.assertTrue(tls.version().startswith("TLS"), (name, port))
                self.assertEqual(s.stop(), 0)


class UsageErrors(unittest.TestCase):
    def run_up(self, *args):
        return subprocess.run([STAGESIM, "up", "--backend-port", "0", "--auth-port", "0",
                               "--redis-port", "0", "--control-port", "0", *args],
                              capture_output=True, text=True, timeout=30)

    def test_cert_without_key(self):
        p = self.run_up("--tls-cert", "/nonexistent.pem")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--tls-cert and --tls-key go together", p.stderr)

    def test_missing_files(self):
        p = self.run_up("--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem")
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open /nonexistent/c.pem", p.stderr)

    def test_mismatched_pair(self):
        with tempfile.TemporaryDirectory() as d:
            for n in ("a", "b"):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(d, n + ".key"),
                                "-out", os.path.join(d, n + ".pem"), "-days", "1", "-subj", "/CN=" + n],
                               capture_output=True, check=True)
            p = self.run_up("--tls-cert", os.path.join(d, "a.pem"), "--tls-key", os.path.join(d, "b.key"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("key does not match", p.stderr)

    def test_bad_network_tls_value(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"network": {"tls": "yes"}}, f)
        try:
            p = subprocess.run([STAGESIM, "validate", f.name], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2)
            self.assertIn("network.tls: must be true or false, not a string", p.stderr)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
