"""Every backend HTTP route of docs/contract.md §1, with httpx against the real
binary: status codes and JSON shapes, Bearer auth on the thread routes, the
JSON 404, and /health/infrastructure following Redis."""
import json
import os
import socket
import tempfile
import time
import unittest

import httpx

from stagesim import Stagesim
from support import add_rule, login, wait_for


USERS = [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"}]


class BackendHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()
        cls.http = httpx.Client(base_url=cls.sim.backend_url, timeout=10)

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        code = cls.sim.stop()
        assert code == 0, "stagesim exited %r: %s" % (code, cls.sim.stderr[-3000:])

    def get(self, path, **kw):
        return self.http.get(path, **kw)

    def test_health_family(self):
        for path in ("/health", "/health/", "/health/live", "/health/startup", "/health/backend"):
            r = self.get(path)
            self.assertEqual(r.status_code, 200, path)
            self.assertEqual(r.headers["content-type"], "application/json", path)
            self.assertEqual(r.json(), {"status": "ok"}, path)
        r = self.get("/health/ready")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"status": "ready"})

    def test_health_head(self):
        for path in ("/health", "/health/"):
            r = self.http.head(path)
            self.assertEqual(r.status_code, 200, path)
            self.assertEqual(r.content, b"", path)
            self.assertEqual(int(r.headers["content-length"]), len(b'{"status":"ok"}'))
        # The connection is still usable after a HEAD (keep-alive).
        self.assertEqual(self.get("/health").json(), {"status": "ok"})

    def test_keepalive_pipelined_and_partial_writes(self):
        # One connection: pipelined requests answered in order, a reply larger
        # than the socket takes at once (written over several POLLOUTs, and
        # kept-alive only once it is all out), then requests after it.
        big = "x" * 600000
        add_rule(self.sim, {"id": "ka-big", "on": "http.request", "match": {"name": "/ka-big"},
                            "action": {"kind": "status", "status": 200, "body": big,
                                       "content_type": "text/plain"}})
        req = lambda path: ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode()
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(("127.0.0.1", self.sim.backend_port))
            f = s.makefile("rb")

            def reply():
                status = f.readline().split()[1]
                length = 0
                while True:
                    line = f.readline().strip()
                    if not line:
                        break
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                return int(status), f.read(length)

            s.sendall(req("/health") + req("/ka-big") + req("/health/live"))
            self.assertEqual(reply(), (200, b'{"status":"ok"}'))
            self.assertEqual(reply(), (200, big.encode()))
            self.assertEqual(reply(), (200, b'{"status":"ok"}'))
            for i in range(20):
                s.sendall(req("/health"))
                self.assertEqual(reply(), (200, b'{"status":"ok"}'), "request %d after" % i)
            # Thirty in one write: lws reads them together and serves the
            # rest from its buffer, which must not wait for another event.
            # A hang guard, not a speed check: waiting, they took a second
            # each (lws's 1 s kick), 30 s against milliseconds.
            s.sendall(req("/health") * 30)
            deadline = time.monotonic() + 10
            for i in range(30):
                s.settimeout(max(0.001, deadline - time.monotonic()))
                self.assertEqual(reply(), (200, b'{"status":"ok"}'), "pipelined %d" % i)
        self.sim.control.remove_fault("ka-big")

    def test_keepalive_idle_close(self):
        # An idle keep-alive connection is closed 5 s after its last answer
        # (lws's timeout, uvicorn's timeout_keep_alive), in good order: a FIN
        # and nothing else, never earlier. Kept by the backend, not lws
        # (backend_http.c): a request in between starts the count again.
        with socket.socket() as s:
            s.settimeout(20)
            s.connect(("127.0.0.1", self.sim.backend_port))
            for i in range(2):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                got = b""
                while not got.endswith(b'{"status":"ok"}'):
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, "closed before answer %d" % i)
                    got += chunk
                last = time.monotonic()
            self.assertEqual(s.recv(4096), b"", "bytes or a reset instead of the idle close")
            idle = time.monotonic() - last
            self.assertGreaterEqual(idle, 4.9, "closed after %.2f s idle" % idle)
            self.assertLess(idle, 15, "closed after %.2f s idle" % idle)

    def test_root(self):
        r = self.get("/")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"message": "Welcome to Netra API"})

    def test_infrastructure_ok_with_redis(self):
        # The history client connects to the built-in Redis right after start.
        body = wait_for(lambda: (lambda j: j if j["status"] == "ok" else None)(
            self.get("/health/infrastructure").json()))
        self.assertIsNotNone(body, "infrastructure never became ok")
        self.assertIn(body["status"], ("ok", "degraded", "critical"))
        self.assertEqual(body["status"], "ok")
        self.assertIsInstance(body["infrastructure"], dict)
        self.assertTrue(body["infrastructure"]["redis"]["connected"])
        self.assertIsInstance(body["circuit_breakers"], dict)
        self.assertIsInstance(body["chat_functionality_impact"], bool)

    def test_circuit_breakers(self):
        r = self.get("/health/circuit-breakers")
        self.assertEqual(r.status_code, 200)
        breakers = r.json()["circuit_breakers"]
        self.assertIn("redis", breakers)
        for name, b in breakers.items():
            self.assertEqual(b["name"], name)
            self.assertIn(b["state"], ("closed", "open", "half_open"))
            self.assertIsInstance(b["failure_count"], (int, float))

    def test_discovery_points_at_the_simulator(self):
        r = self.get("/api/discovery/services")
        self.assertEqual(r.status_code, 200)
        j = r.json()
        self.assertTrue(j["available"])
        self.assertRegex(j["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        svc = j["services"]
        self.assertEqual(svc["backend"]["url"], "http://127.0.0.1:%d" % self.sim.backend_port)
        self.assertEqual(svc["backend"]["ws_url"], "ws://127.0.0.1:%d/ws" % self.sim.backend_port)
        self.assertEqual(svc["auth"]["url"], "http://127.0.0.1:%d" % self.sim.auth_port)
        self.assertIn("url", svc["frontend"])
        # The URLs work.
        self.assertEqual(httpx.get(svc["backend"]["url"] + "/health").json(), {"status": "ok"})
        self.assertEqual(httpx.get(svc["auth"]["url"] + "/health").status_code, 200)

    def test_mcp(self):
        r = self.get("/api/mcp/servers")
        self.assertEqual(r.status_code, 200)
        j = r.json()
        self.assertEqual(j["status"], "success")
        self.assertEqual(j["data"][0]["name"], "netra-mcp")
        self.assertEqual(j["data"][0]["status"], "connected")
        r = self.get("/api/mcp/config")
        self.assertEqual(r.status_code, 200)
        self.assertIsInstance(r.json(), dict)
        self.assertTrue(r.json())

    def test_beacon(self):
        r = self.get("/ws/beacon")
        self.assertEqual(r.status_code, 200)
        j = r.json()
        self.assertEqual(j["status"], "healthy")
        self.assertEqual(j["service"], "websocket_beacon")
        self.assertEqual(j["message"], "WebSocket service is available")
        self.assertRegex(j["timestamp"], r"^\d{4}-\d\d-\d\dT")

    def test_unknown_routes_404_json(self):
        for method, path in (("GET", "/api/messages"), ("POST", "/api/chat"),
                             ("GET", "/api/v1/status"), ("GET", "/nope/../x"),
                             ("DELETE", "/health/whatever"), ("GET", "/api/threads//messages")):
            r = self.http.request(method, path)
            self.assertEqual(r.status_code, 404, path)
            self.assertEqual(r.json(), {"detail": "Not Found"}, path)

    def test_long_path_404_and_bad_ws_version_426(self):
        r = self.http.get("/" + "a" * 10000)
        self.assertEqual((r.status_code, r.json()), (404, {"detail": "Not Found"}))
        r = self.http.get("/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                          "Sec-WebSocket-Version": "99",
                                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        self.assertEqual(r.status_code, 426)
        self.assertEqual(r.headers["sec-websocket-version"], "13")

    def test_wrong_method_405(self):
        r = self.http.post("/health", json={"a": 1})
        self.assertEqual(r.status_code, 405)
        self.assertEqual(r.json(), {"detail": "Method Not Allowed"})

    def test_threads_require_bearer(self):
        for method, path in (("POST", "/api/threads/create"), ("GET", "/api/threads/t1/validate"),
                             ("GET", "/api/threads/t1/messages")):
            r = self.http.request(method, path)
            self.assertEqual(r.status_code, 401, path)
            self.assertIn("detail", r.json())
            r = self.http.request(method, path, headers={"Authorization": "Bearer not.a.token"})
            self.assertEqual(r.status_code, 401, path)
            self.assertIn("detail", r.json())

    def test_threads_with_token(self):
        tok = login(self.sim)["access_token"]
        h = {"Authorization": "Bearer " + tok}
        r = self.http.post("/api/threads/create", headers=h, json={})
        self.assertEqual(r.status_code, 200, r.text)
        tid = r.json()["thread_id"]
        self.assertTrue(tid)
        self.assertEqual(r.json()["user_id"], "user-alice")
        r = self.get("/api/threads/%s/validate" % tid, headers=h)
        self.assertEqual(r.status_code, 200)
        self.assertTrue(r.json()["valid"])
        self.assertEqual(r.json()["thread_id"], tid)
        r = wait_for(lambda: (lambda x: x if x.status_code == 200 else None)(
            self.get("/api/threads/%s/messages" % tid, headers=h)))
        self.assertIsNotNone(r)
        self.assertEqual(r.json()["thread_id"], tid)
        self.assertEqual(r.json()["messages"], [])

    def test_big_body_413(self):
        tok = login(self.sim)["access_token"]
        r = self.http.post("/api/threads/create", content=b"x" * 200000,
                           headers={"Authorization": "Bearer " + tok})
        self.assertEqual(r.status_code, 413)
        self.assertIn("detail", r.json())
        self.assertEqual(self.get("/health").status_code, 200)


class Degraded(unittest.TestCase):
    def test_infrastructure_degraded_without_redis(self):
        # The backend's Redis points at a port nothing listens on.
        scen = {"name": "no-redis", "users": USERS,
                "redis": {"host": "127.0.0.1", "port": 1, "connect_timeout_ms": 200}}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                get = lambda: httpx.get(s.backend_url + "/health/infrastructure").json()
                body = wait_for(lambda: (lambda j: j if j["status"] == "degraded" else None)(get()))
                self.assertIsNotNone(body)
                self.assertFalse(body["infrastructure"]["redis"]["connected"])
                self.assertEqual(body["infrastructure"]["redis"]["error"],
                                 "Failed to create Redis client: Error 111 connecting to "
                                 "127.0.0.1:1. Connection refused.")
                # Health itself stays ok: Redis is optional.
                self.assertEqual(httpx.get(s.backend_url + "/health").json(), {"status": "ok"})
                # The history route says why it cannot answer.
                tok = login(s)["access_token"]
                r = httpx.get(s.backend_url + "/api/threads/t1/messages",
                              headers={"Authorization": "Bearer " + tok})
                self.assertEqual(r.status_code, 503)
                self.assertIn("detail", r.json())
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(f.name)

    def test_silent_redis_times_out_and_recovers(self):
        """A Redis that never answers (hang rules) must show: the history read
        answers 503 after the command timeout (2 s by default) instead of
        never, /health/infrastructure says degraded; it recovers once the
        rules are gone."""
        with Stagesim() as s:
            tok = login(s)["access_token"]
            h = {"Authorization": "Bearer " + tok}
            infra = lambda: httpx.get(s.backend_url + "/health/infrastructure", timeout=10).json()
            self.assertIsNotNone(wait_for(lambda: infra()["status"] == "ok"))
            self.assertEqual(httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h,
                                       timeout=10).status_code, 200)
            for cmd in ("lrange", "rpush"):
                r = httpx.post(s.control_url + "/faults", timeout=10,
                               json={"id": "bh-" + cmd, "on": "redis.command",
                                     "match": {"name": cmd}, "action": {"kind": "hang"}})
                self.assertEqual(r.status_code, 201, r.text)
            t0 = time.monotonic()
            r = httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h, timeout=10)
            took = time.monotonic() - t0
            self.assertEqual(r.status_code, 503, r.text)
            self.assertEqual(r.json()["detail"],
                             "Thread history unavailable: Timeout reading from socket")
            self.assertGreaterEqual(took, 1.9)
            self.assertLess(took, 5.0)
            body = infra()   # before the reconnect (back-off 1 s)
            self.assertEqual(body["status"], "degraded", body)
            redis = body["infrastructure"]["redis"]
            self.assertFalse(redis["connected"])
            self.assertEqual(redis["error"], "Failed to create Redis client: Timeout reading from socket")
            self.assertEqual(redis["status"], "failed")
            self.assertEqual(httpx.get(s.backend_url + "/health", timeout=10).json(),
                             {"status": "ok"}, "Redis is optional")
            httpx.delete(s.control_url + "/faults", timeout=10)
            self.assertIsNotNone(wait_for(lambda: infra()["status"] == "ok", timeout=15),
                                 "recovers after the back-off")
            r = httpx.get(s.backend_url + "/api/threads/t1/messages", headers=h, timeout=10)
            self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual(s.stop(), 0)


class Legacy(unittest.TestCase):
    def test_legacy_health_shapes(self):
        scen = {"name": "legacy", "profile": "legacy"}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(scen, f)
        try:
            with Stagesim(scenario=f.name) as s:
                for path in ("/health", "/api/health"):
                    j = httpx.get(s.backend_url + path).json()
                    self.assertEqual(j["status"], "healthy", path)
                    self.assertEqual(j["service"], "netra-ai-platform")
                    self.assertEqual(j["version"], "1.0.0")
                    self.assertIsInstance(j["timestamp"], float)
                j = httpx.get(s.backend_url + "/health/ready").json()
                self.assertEqual(j["status"], "ready")
                for k in ("core_db", "clickhouse_db", "redis_db"):
                    self.assertIn(j[k], ("connected", "skipped_optional", "optional_unavailable",
                                         "failed"))
                self.assertEqual(s.stop(), 0)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
