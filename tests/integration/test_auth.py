"""The auth service (docs/contract.md §3) through the real binary, with httpx
and PyJWT: every route, token claims checked by PyJWT, refresh rotation,
logout revocation, the E2E bypass cases, bad bodies and bad tokens."""
import json
import os
import re
import socket
import tempfile
import time
import unittest
from datetime import datetime

import httpx
import jwt

from stagesim import Stagesim

SECRET = "integration-secret-0123456789abcdef-xyz"
E2E_KEY = "e2e-bypass-key-for-tests"
ISS = "netra-auth-service"
AUD = "netra-platform"


def decode(token, secret=SECRET, token_type="access"):
    """PyJWT verification as a staging client would do it."""
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUD, issuer=ISS,
                        options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]})
    assert claims["token_type"] == token_type, claims
    return claims


def claims_for(sub="user-alice", token_type="access", exp_in=600, **extra):
    now = int(time.time())
    c = {"sub": sub, "iat": now, "exp": now + exp_in, "token_type": token_type,
         "type": token_type, "iss": ISS, "aud": AUD, "jti": "forged-%d" % now,
         "env": "staging", "email": "alice@example.com", "permissions": []}
    c.update(extra)
    return c


class AuthService(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim(env={"JWT_SECRET_STAGING": SECRET, "JWT_SECRET_KEY": "not-this-one-" * 3,
                           "E2E_OAUTH_SIMULATION_KEY": E2E_KEY})
        cls.http = httpx.Client(base_url=cls.sim.auth_url, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        code = cls.sim.stop()
        assert code == 0, "stagesim exit %s\n%s" % (code, cls.sim.stderr)

    def login(self, email="alice@example.com", password="alice-password"):
        r = self.http.post("/auth/login", json={"email": email, "password": password})
        self.assertEqual(r.status_code, 200, r.text)
        return r.json()

    def register(self, email, password="pw-123456"):
        return self.http.post("/auth/register", json={"email": email, "password": password})

    def assert_detail(self, r, status, detail=None):
        self.assertEqual(r.status_code, status, r.text)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        body = r.json()
        self.assertIn("detail", body)
        if detail is not None:
            self.assertEqual(body["detail"], detail)
        return body

    def assert_422(self, r, type_=None, field=None):
        body = self.assert_detail(r, 422)
        self.assertIsInstance(body["detail"], list)
        self.assertGreater(len(body["detail"]), 0)
        item = body["detail"][0]
        self.assertEqual(item["loc"][0], "body")
        if type_:
            self.assertEqual(item["type"], type_)
        if field:
            self.assertIn(field, [d["loc"][-1] for d in body["detail"]])
        return body

    # ---- health and config ----------------------------------------------

    def test_health(self):
        r = self.http.get("/health")
        self.assertEqual(r.status_code, 200)
        h = r.json()
        self.assertEqual(h["status"], "healthy")
        self.assertEqual(h["service"], "auth-service")
        self.assertEqual(h["version"], "1.0.0")
        self.assertEqual(h["database_status"], "connected")
        self.assertEqual(h["environment"], "staging")
        ts = datetime.fromisoformat(h["timestamp"])
        self.assertLess(abs(ts.timestamp() - time.time()), 60)
        r = self.http.get("/health/ready")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["status"], "ready")

    def test_config(self):
        r = self.http.get("/auth/config")
        self.assertEqual(r.status_code, 200)
        c = r.json()
        self.assertIsInstance(c["oauth_enabled"], bool)
        self.assertIsInstance(c["development_mode"], bool)
        for k in ("login", "logout", "callback", "token", "user"):
            self.assertIn(k, c["endpoints"])
        self.assertTrue(c["endpoints"]["login"].endswith("/auth/login"))

    def test_unknown_route_and_method(self):
        self.assert_detail(self.http.get("/nope"), 404, "Not Found")
        self.assert_detail(self.http.post("/auth/nothing", json={}), 404, "Not Found")
        r = self.http.get("/auth/login")
        self.assert_detail(r, 405, "Method Not Allowed")
        self.assertEqual(r.headers.get("allow"), "POST")
        self.assert_detail(self.http.post("/health"), 405, "Method Not Allowed")
        self.assert_detail(self.http.delete("/auth/me"), 405, "Method Not Allowed")

    # ---- login and tokens -------------------------------------------------

    def test_login_tokens_verify_with_pyjwt(self):
        before = int(time.time())
        t = self.login()
        self.assertEqual(t["token_type"], "Bearer")
        self.assertEqual(t["expires_in"], 900)
        self.assertEqual(t["user"], {"id": "user-alice", "email": "alice@example.com"})
        c = decode(t["access_token"])
        self.assertEqual(c["sub"], "user-alice")
        self.assertEqual(c["type"], "access")
        self.assertEqual(c["env"], "staging")
        self.assertEqual(c["svc_id"], "netra_auth_service_staging")
        self.assertEqual(c["email"], "alice@example.com")
        self.assertEqual(c["permissions"], ["chat"])
        self.assertEqual(c["exp"] - c["iat"], 1800)   # 30 min, though expires_in says 900
        self.assertGreaterEqual(c["iat"], before - 1)
        self.assertTrue(re.fullmatch(r"[0-9a-f]{16}", c["jti"]), c["jti"])
        self.assertEqual(jwt.get_unverified_header(t["access_token"])["alg"], "HS256")
        rc = decode(t["refresh_token"], token_type="refresh")
        self.assertEqual(rc["sub"], "user-alice")
        self.assertEqual(rc["exp"] - rc["iat"], 14 * 86400)
        self.assertNotEqual(rc["jti"], c["jti"])
        # The token is not signed with the lower-precedence JWT_SECRET_KEY.
        with self.assertRaises(jwt.InvalidSignatureError):
            decode(t["access_token"], secret="not-this-one-" * 3)

    def test_login_errors(self):
        r = self.http.post("/auth/login", json={"email": "alice@example.com", "password": "x"})
        self.assert_detail(r, 401, "Invalid credentials")
        r = self.http.post("/auth/login", json={"email": "nobody@example.com", "password": "x"})
        self.assert_detail(r, 401, "Invalid credentials")
        self.assert_422(self.http.post("/auth/login", json={"email": "alice@example.com"}),
                        "missing", "password")
        body = self.assert_422(self.http.post("/auth/login", json={}), "missing")
        self.assertEqual(sorted(d["loc"][-1] for d in body["detail"]), ["email", "password"])
        self.assert_422(self.http.post("/auth/login", json={"email": 1, "password": "x"}),
                        "string_type", "email")
        self.assert_422(self.http.post("/auth/login", json=[1, 2]), "model_attributes_type")
        self.assert_422(self.http.post("/auth/login"), "missing")

    def test_malformed_json_bodies(self):
        headers = {"content-type": "application/json"}
        for route in ("/auth/login", "/auth/register", "/auth/refresh", "/auth/validate"):
            for bad in (b"{", b"{\"email\":", b"not json", b"{\"a\":1} trailing", b"\xff\xfe"):
                r = self.http.post(route, content=bad, headers=headers)
                self.assert_422(r, "json_invalid")
        # The service is unharmed.
        self.login()

    def test_keep_alive_many_requests(self):
        for _ in range(50):
            self.assertEqual(self.http.get("/health").status_code, 200)

    # ---- register ------------------------------------------------------------

    def test_register(self):
        email = "carol-%d@example.com" % os.getpid()
        r = self.register(email, "carol-pw")
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        self.assertEqual(t["user"]["email"], email)
        c = decode(t["access_token"])
        self.assertEqual(c["sub"], t["user"]["id"])
        self.assertEqual(c["email"], email)
        self.assertEqual(self.login(email, "carol-pw")["user"]["id"], t["user"]["id"])
        self.assert_detail(self.register(email, "other"), 409, "User already exists")
        self.assert_detail(self.register("alice@example.com"), 409, "User already exists")
        self.assert_422(self.register("not-an-email"), "value_error", "email")
        self.assert_422(self.http.post("/auth/register", json={"email": "d@example.com"}),
                        "missing", "password")

    # ---- refresh ---------------------------------------------------------------

    def test_refresh_rotation(self):
        t = self.login("bob@example.com", "bob-password")
        r = self.http.post("/auth/refresh", json={"refresh_token": t["refresh_token"]})
        self.assertEqual(r.status_code, 200, r.text)
        n = r.json()
        self.assertEqual(n["token_type"], "Bearer")
        self.assertEqual(n["expires_in"], 900)
        self.assertEqual(decode(n["access_token"])["sub"], "user-bob")
        self.assertEqual(decode(n["refresh_token"], token_type="refresh")["sub"], "user-bob")
        self.assertNotEqual(n["refresh_token"], t["refresh_token"])
        # Rotation: the old refresh token is spent.
        r = self.http.post("/auth/refresh", json={"refresh_token": t["refresh_token"]})
        self.assert_detail(r, 401, "Invalid refresh token")
        # The new one works exactly once.
        r = self.http.post("/auth/refresh", json={"refresh_token": n["refresh_token"]})
        self.assertEqual(r.status_code, 200)
        r = self.http.post("/auth/refresh", json={"refresh_token": n["refresh_token"]})
        self.assert_detail(r, 401, "Invalid refresh token")

    def test_refresh_errors(self):
        t = self.login()
        self.assert_422(self.http.post("/auth/refresh"), "missing")
        self.assert_422(self.http.post("/auth/refresh", json={}), "missing", "refresh_token")
        for bad in (t["access_token"], "garbage", "a.b.c",
                    jwt.encode(claims_for(token_type="refresh"), "wrong-secret", algorithm="HS256")):
            r = self.http.post("/auth/refresh", json={"refresh_token": bad})
            self.assert_detail(r, 401, "Invalid refresh token")
        expired = jwt.encode(claims_for(token_type="refresh", exp_in=-10), SECRET, algorithm="HS256")
        self.assert_detail(self.http.post("/auth/refresh", json={"refresh_token": expired}), 401,
                           "Invalid refresh token")

    # ---- logout, me, validate -----------------------------------------------------

    def test_logout_revokes(self):
        t = self.login()
        auth = {"Authorization": "Bearer " + t["access_token"]}
        r = self.http.get("/auth/me", headers=auth)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"user_id": "user-alice", "email": "alice@example.com",
                                    "permissions": ["chat"]})
        r = self.http.post("/auth/logout", headers=auth)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"message": "Successfully logged out", "status": "success"})
        self.assert_detail(self.http.get("/auth/me", headers=auth), 401)
        v = self.http.post("/auth/validate", json={"token": t["access_token"]}).json()
        self.assertEqual(v["valid"], False)
        self.assertEqual(v["error"], "token_revoked")
        self.assert_detail(self.http.post("/auth/logout", headers=auth), 401)
        self.assert_detail(self.http.post("/auth/logout"), 401)
        # Another session of the same user is untouched.
        t2 = self.login()
        r = self.http.get("/auth/me", headers={"Authorization": "Bearer " + t2["access_token"]})
        self.assertEqual(r.status_code, 200)

    def test_logout_can_revoke_refresh_token(self):
        t = self.login()
        r = self.http.post("/auth/logout", json={"refresh_token": t["refresh_token"]},
                           headers={"Authorization": "Bearer " + t["access_token"]})
        self.assertEqual(r.status_code, 200)
        r = self.http.post("/auth/refresh", json={"refresh_token": t["refresh_token"]})
        self.assert_detail(r, 401, "Invalid refresh token")

    def test_me_bad_tokens(self):
        self.assert_detail(self.http.get("/auth/me"), 401)
        self.assert_detail(self.http.get("/auth/me", headers={"Authorization": "Basic eDp5"}), 401)
        for tok in ("garbage", "a.b.c",
                    jwt.encode(claims_for(), "wrong-secret", algorithm="HS256"),
                    jwt.encode(claims_for(), SECRET, algorithm="HS512"),
                    jwt.encode(claims_for(), None, algorithm="none"),
                    jwt.encode(claims_for(exp_in=-5), SECRET, algorithm="HS256"),
                    jwt.encode(claims_for(iss="evil"), SECRET, algorithm="HS256"),
                    jwt.encode(claims_for(token_type="refresh"), SECRET, algorithm="HS256")):
            r = self.http.get("/auth/me", headers={"Authorization": "Bearer " + tok})
            self.assert_detail(r, 401)
        good = jwt.encode(claims_for(), SECRET, algorithm="HS256")
        r = self.http.get("/auth/me", headers={"Authorization": "Bearer " + good})
        self.assertEqual(r.status_code, 200, "a PyJWT-made token with the secret is accepted")

    def test_validate(self):
        t = self.login()
        r = self.http.post("/auth/validate", json={"token": t["access_token"]})
        self.assertEqual(r.status_code, 200)
        v = r.json()
        self.assertEqual(v["valid"], True)
        self.assertEqual(v["user_id"], "user-alice")
        self.assertEqual(v["email"], "alice@example.com")
        self.assertEqual(v["permissions"], ["chat"])
        exp = decode(t["access_token"])["exp"]
        self.assertEqual(int(datetime.fromisoformat(v["expires_at"]).timestamp()), exp)

        def verdict(body):
            r = self.http.post("/auth/validate", json=body)
            self.assertEqual(r.status_code, 200, r.text)
            v = r.json()
            self.assertEqual(v["valid"], False)
            self.assertIn("message", v)
            return v["error"]

        self.assertEqual(verdict({}), "missing_token")
        self.assertEqual(verdict({"token": ""}), "missing_token")
        self.assertEqual(verdict({"token": "garbage"}), "invalid_token")
        tampered = t["access_token"].rsplit(".", 1)[0] + ".AAAA"
        self.assertEqual(verdict({"token": tampered}), "invalid_token")
        head, payload, sig = t["access_token"].split(".")
        forged = jwt.encode(dict(decode(t["access_token"]), sub="user-bob"), "x", algorithm="HS256")
        self.assertEqual(verdict({"token": head + "." + forged.split(".")[1] + "." + sig}),
                         "invalid_token")
        self.assertEqual(verdict({"token": jwt.encode(claims_for(), None, algorithm="none")}),
                         "invalid_token")
        self.assertEqual(verdict({"token": jwt.encode(claims_for(), SECRET, algorithm="HS512")}),
                         "invalid_token")
        self.assertEqual(verdict({"token": jwt.encode(claims_for(exp_in=-1), SECRET,
                                                      algorithm="HS256")}), "token_expired")
        self.assertEqual(verdict({"token": t["refresh_token"]}), "invalid_token")
        # An empty body is a missing token (200), unparsable JSON is 422.
        r = self.http.post("/auth/validate")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json()["error"], "missing_token")

    # ---- E2E bypass -------------------------------------------------------------------

    def test_e2e(self):
        r = self.http.post("/auth/e2e/test-auth")
        self.assert_detail(r, 401, "E2E bypass key required")
        r = self.http.post("/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": "wrong"})
        self.assert_detail(r, 401, "Invalid E2E bypass key")
        r = self.http.post("/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": E2E_KEY + "x"})
        self.assert_detail(r, 401, "Invalid E2E bypass key")
        r = self.http.post("/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": E2E_KEY})
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        self.assertEqual(t["user"]["id"], "e2e-e2e-test")
        self.assertEqual(t["user"]["email"], "e2e-test@staging.netrasystems.ai")
        self.assertIs(t["user"]["oauth_simulated"], True)
        self.assertEqual(t["token_type"], "Bearer")
        c = decode(t["access_token"])
        self.assertEqual(c["sub"], "e2e-e2e-test")
        r = self.http.get("/auth/me", headers={"Authorization": "Bearer " + t["access_token"]})
        self.assertEqual(r.status_code, 200)
        r = self.http.post("/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": E2E_KEY},
                           json={"email": "qa.bot@example.com", "name": "QA",
                                 "permissions": ["admin"]})
        self.assertEqual(r.status_code, 200, r.text)
        t = r.json()
        self.assertEqual(t["user"]["id"], "e2e-qa.bot")
        self.assertEqual(decode(t["access_token"])["permissions"], ["admin"])
        r = self.http.post("/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": E2E_KEY,
                                                           "content-type": "application/json"},
                           content=b"{nope")
        self.assert_422(r, "json_invalid")

    # ---- limits and misbehaving clients ----------------------------------------------

    def test_oversized_body(self):
        big = b"{\"email\":\"" + b"a" * 200000 + b"\",\"password\":\"x\"}"
        r = self.http.post("/auth/login", content=big, headers={"content-type": "application/json"})
        self.assert_detail(r, 413)

        def chunks():
            for _ in range(20):
                yield b"x" * 10000
        with httpx.Client(base_url=self.sim.auth_url, timeout=10) as c:
            r = c.post("/auth/login", content=chunks())   # chunked, no Content-Length
            self.assert_detail(r, 413)
        self.login()

    def test_stalled_client_does_not_block_others(self):
        s = socket.create_connection(("127.0.0.1", self.sim.auth_port))
        try:
            s.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"em")
            g = socket.create_connection(("127.0.0.1", self.sim.auth_port))
            g.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
            junk = socket.create_connection(("127.0.0.1", self.sim.auth_port))
            junk.sendall(b"GARBAGE\r\n\r\n\x00\xff")
            t0 = time.monotonic()
            self.login()
            self.assertEqual(self.http.get("/health").status_code, 200)
            self.assertLess(time.monotonic() - t0, 2.0)
            g.settimeout(5)
            self.assertTrue(g.recv(100).startswith(b"HTTP/1.1 400"))
            g.close()
            junk.settimeout(5)
            self.assertFalse(junk.recv(100).startswith(b"HTTP/1.1 2"))
            junk.close()
        finally:
            s.close()


class SecretsAndKeys(unittest.TestCase):
    """Secret and E2E key sources other than the environment."""

    def test_e2e_not_configured(self):
        with Stagesim() as s:
            r = httpx.post(s.auth_url + "/auth/e2e/test-auth", headers={"X-E2E-Bypass-Key": "k"})
            self.assertEqual(r.status_code, 503)
            self.assertEqual(r.json()["detail"], "E2E authentication not configured")
            r = httpx.post(s.auth_url + "/auth/e2e/test-auth")
            self.assertEqual(r.status_code, 401)
            t = httpx.post(s.auth_url + "/auth/login",
                           json={"email": "alice@example.com", "password": "alice-password"}).json()
        self.assertEqual(s.exit_code, 0)
        # No secret anywhere: one is generated from the seed and logged.
        m = re.search(r"generated from the seed: ([0-9a-f]{64})", s.stderr)
        self.assertIsNotNone(m, s.stderr)
        self.assertEqual(decode(t["access_token"], secret=m.group(1))["sub"], "user-alice")

    def test_jwt_secret_key_fallback(self):
        key = "fallback-key-0123456789-0123456789-abc"
        with Stagesim(env={"JWT_SECRET_KEY": key}) as s:
            t = httpx.post(s.auth_url + "/auth/login",
                           json={"email": "bob@example.com", "password": "bob-password"}).json()
            self.assertEqual(decode(t["access_token"], secret=key)["sub"], "user-bob")

    def test_scenario_secret_and_e2e_key(self):
        with open(os.path.join(os.environ.get("STAGESIM_SOURCE_ROOT", "."), "scenarios",
                               "golden-path.json")) as f:
            sc = json.load(f)
        sc["auth"] = {"jwt_secret": "scenario-secret-0123456789-0123456789",
                      "e2e_key": "scenario-e2e", "access_ttl_s": 60}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(sc, f)
            path = f.name
        try:
            with Stagesim(scenario=path, env={"E2E_OAUTH_SIMULATION_KEY": ""}) as s:
                r = httpx.post(s.auth_url + "/auth/e2e/test-auth",
                               headers={"X-E2E-Bypass-Key": "scenario-e2e"})
                self.assertEqual(r.status_code, 200, r.text)
                c = decode(r.json()["access_token"], secret="scenario-secret-0123456789-0123456789")
                self.assertEqual(c["exp"] - c["iat"], 60)
                self.assertEqual(r.json()["expires_in"], 900)
        finally:
            os.unlink(path)


class FaultsOnAuth(unittest.TestCase):
    """auth.request fault rules from a scenario, carried out by sim/net/mhd.c."""

    RULES = [
        {"id": "slow-config", "on": "auth.request", "match": {"name": "/auth/config"},
         "action": {"kind": "delay", "ms": 300}},
        {"id": "ready-503", "on": "auth.request", "match": {"name": "/health/ready"},
         "action": {"kind": "status", "status": 503,
                    "body": "{\"status\":\"not_ready\",\"reason\":\"database\"}"}},
        {"id": "reset-me", "on": "auth.request", "match": {"name": "/auth/me"},
         "action": {"kind": "reset"}},
        {"id": "empty-register", "on": "auth.request", "match": {"name": "/auth/register"},
         "action": {"kind": "empty"}},
        {"id": "hang-validate", "on": "auth.request", "match": {"name": "/auth/validate"},
         "action": {"kind": "hang"}},
        {"id": "trickle-health", "on": "auth.request", "match": {"name": "/health"},
         "action": {"kind": "slow", "bytes_per_s": 400}},
    ]

    def test_faults(self):
        with open(os.path.join(os.environ.get("STAGESIM_SOURCE_ROOT", "."), "scenarios",
                               "golden-path.json")) as f:
            sc = json.load(f)
        sc["faults"] = self.RULES
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(sc, f)
            path = f.name
        try:
            with Stagesim(scenario=path) as s, httpx.Client(base_url=s.auth_url, timeout=10) as c:
                t0 = time.monotonic()
                self.assertEqual(c.get("/auth/config").status_code, 200)
                self.assertGreaterEqual(time.monotonic() - t0, 0.29)
                r = c.get("/health/ready")
                self.assertEqual(r.status_code, 503)
                self.assertEqual(r.json(), {"status": "not_ready", "reason": "database"})
                with self.assertRaises(httpx.TransportError):
                    httpx.get(s.auth_url + "/auth/me", headers={"Authorization": "Bearer x"})
                raw = socket.create_connection(("127.0.0.1", s.auth_port))
                raw.sendall(b"GET /auth/me HTTP/1.1\r\nHost: x\r\n\r\n")
                raw.settimeout(5)
                with self.assertRaises(ConnectionResetError):
                    raw.recv(100)
                raw.close()
                with self.assertRaises(httpx.TransportError):
                    httpx.post(s.auth_url + "/auth/register", json={"email": "a@b.c", "password": "x"})
                with self.assertRaises(httpx.ReadTimeout):
                    httpx.post(s.auth_url + "/auth/validate", json={"token": "x"}, timeout=0.5)
                hung = socket.create_connection(("127.0.0.1", s.auth_port))   # hung at shutdown too
                hung.sendall(b"POST /auth/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
                t0 = time.monotonic()
                r = c.get("/health")
                self.assertEqual(r.status_code, 200)
                self.assertEqual(r.json()["status"], "healthy")
                self.assertGreater(time.monotonic() - t0, 0.2)   # ~160 bytes at 400 B/s
                # Routes without a rule are untouched meanwhile.
                self.assertEqual(c.post("/auth/login", json={"email": "alice@example.com",
                                                             "password": "alice-password"}).status_code, 200)
            self.assertEqual(s.exit_code, 0, s.stderr)
            hung.close()
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
