"""What tests/integration/test_errors.py sends with and checks against: the
scenario it runs, raw HTTP, WebSocket and RESP clients that can send what no
library would, the witness whose chat run and Redis session must go on
undisturbed, and the per-case context (docs/errors.md)."""
import asyncio
import json
import os
import socket
import struct
import subprocess
import tempfile
import threading
import time

import httpx
import jwt
import redis
import websockets

from support import STAGESIM

SECRET = "errors-suite-secret-0123456789abcdef0123"
E2E_KEY = "e2e-key-for-the-errors-suite"
CONTROL_TOKEN = "control-token-for-the-errors-suite"
EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
SCENARIO = {
    "name": "errors",
    "auth": {"jwt_secret": SECRET, "e2e_key": E2E_KEY},
    "users": [{"id": "user-alice", "email": "alice@example.com", "password": "alice-password"},
              {"id": "user-bob", "email": "bob@example.com", "password": "bob-password"},
              {"id": "user-carol", "email": "carol@example.com", "password": "carol-password"}],
    "agent": {"gap_ms": 100},
}
KEY = "dGhlIHNhbXBsZSBub25jZQ=="   # RFC 6455's sample Sec-WebSocket-Key


# ---- clients ------------------------------------------------------------------


def read_http(s):
    """One HTTP/1.1 response from socket s: (status, body as JSON, or text,
    or None). Reads to the end of Content-Length, or to the close."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if b"\r\n\r\n" not in data:
        return ("no answer", data[:80].decode(errors="replace"))
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split(" ")[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    try:
        while length is None or len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    if length is not None:
        body = body[:length]
    try:
        return (status, json.loads(body))
    except ValueError:
        return (status, body.decode(errors="replace"))


def raw_http(port, data):
    """Sends raw bytes, reads one response."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        return read_http(s)
    finally:
        s.close()


def get(path, host=b"x"):
    return b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)


def upgrade(path=b"/ws", extra=b"", key=b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\n",
            version=b"Sec-WebSocket-Version: 13\r\n", connection=b"Connection: Upgrade\r\n",
            method=b"GET"):
    return (method + b" " + path + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" + connection
            + key + version + extra + b"\r\n")


def pydantic(r):
    """A 422 of FastAPI's shape, as (status, first error's type, its field)."""
    body = r.json()
    if r.status_code != 422 or not isinstance(body.get("detail"), list):
        return (r.status_code, body)
    first = body["detail"][0]
    return (422, first["type"], first["loc"][-1])


def status_json(r):
    try:
        return (r.status_code, r.json())
    except ValueError:
        return (r.status_code, r.text)


def summary(msg):
    """A server message, as what matters of it."""
    try:
        j = json.loads(msg)
    except (TypeError, ValueError):
        return ("not JSON", msg[:40])
    if j.get("type") == "error_message":
        return ("error_message", j.get("error_code"), j.get("error_message"))
    if j.get("type") == "ack":
        return ("ack", j.get("received_type"))
    return j.get("type")


async def ws_exchange(url, sends, subprotocols=None, headers=None, until_close=False):
    """Connects, takes the welcome, sends each message, then reads: until
    the close (until_close), or until the pong of a ping sent after them,
    which shows the connection still serves (and that nothing else came
    for the bad input, when that is the answer). Returns what came."""
    got = []
    try:
        async with websockets.connect(url, open_timeout=10, subprotocols=subprotocols,
                                      extra_headers=headers, max_size=None,
                                      ping_interval=None) as ws:
            got.append(summary(await asyncio.wait_for(ws.recv(), 10)))
            for m in sends:
                if isinstance(m, list):
                    await ws.send(iter(m))     # fragments of one message
                else:
                    await ws.send(m)
            if not until_close:
                await ws.send(json.dumps({"type": "ping"}))
            while True:
                got.append(summary(await asyncio.wait_for(ws.recv(), 10)))
                if got[-1] == "pong" and not until_close:
                    return got
    except websockets.InvalidStatusCode as e:
        got.append(("http", e.status_code))
    except websockets.ConnectionClosed as e:
        got.append(("close", e.rcvd.code, e.rcvd.reason) if e.rcvd else ("close", None))
    return got


def ws_frame(opcode, payload, fin=True, mask=True, rsv=0):
    """One client frame, built by hand (what no client library sends)."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    head += bytes([m | n]) if n < 126 else bytes([m | 126]) + struct.pack("!H", n)
    if not mask:
        return head + payload
    key = b"\x11\x22\x33\x44"
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def raw_ws(port, token, frame):
    """Upgrades by hand, takes the welcome, sends frame and reads what the
    server does: ("close", code, reason) for a close frame, else what came
    before the connection ended."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(upgrade(path=b"/ws?token=" + token.encode()))
        data = b""
        while b"connection_established" not in data:
            data += s.recv(65536)
        s.sendall(frame)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if len(out) >= 2 and out[0] == 0x88 and len(out) >= 2 + (out[1] & 0x7f):
                    break
        except (socket.timeout, ConnectionResetError):
            pass
        if len(out) >= 2 and out[0] == 0x88:
            n = out[1] & 0x7f
            payload = out[2:2 + n]
            code = struct.unpack("!H", payload[:2])[0] if n >= 2 else None
            return ("close", code, payload[2:].decode(errors="replace"))
        return ("no close frame", out[:40])
    finally:
        s.close()


def raw_redis(port, data, ping=True):
    """Sends data then PING: (replies before the PONG, whether the server
    closed instead of answering the PING). Without ping, data is all that is
    sent (a line that never ends)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data + b"PING\r\n" if ping else data)
        out = b""
        while not out.endswith(b"+PONG\r\n"):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return (out.decode(errors="replace"), "closed")
            out += chunk
        return (out[:-len(b"+PONG\r\n")].decode(errors="replace"), "open")
    finally:
        s.close()


# ---- the witness ------------------------------------------------------------


class Witness:
    """Another client's run in progress: a WebSocket chat run and a Redis
    session, each started before a bad input and checked after it."""

    def __init__(self, sim, token):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        async def connect():
            # Made inside the witness's loop: the connection belongs to it.
            ws = await websockets.connect(sim.ws_url + "?token=" + token, open_timeout=10,
                                          ping_interval=None)
            await ws.recv()   # the welcome
            return ws
        self.ws = self.call(connect())
        self.redis = redis.Redis(host="127.0.0.1", port=sim.redis_port, socket_timeout=10,
                                 single_connection_client=True)
        self.redis_id = self.redis.client_id()

    def call(self, coro, timeout=20):
        return asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout),
                                                self.loop).result()

    def start(self, tag):
        self.tag = tag
        self.call(self.ws.send(json.dumps({"type": "user_message", "message": "witness " + tag,
                                           "thread_id": "witness"})))
        self.redis.set("witness:" + tag, tag, ex=600)

    def finish(self):
        """Returns what went wrong for the witness, or None."""
        events = []
        while not events or events[-1]["type"] != "agent_completed":
            events.append(json.loads(self.call(self.ws.recv())))
        if [e["type"] for e in events] != EVENTS:
            return "run went %s" % [e["type"] for e in events]
        if len({e["run_id"] for e in events}) != 1:
            return "run ids %s" % [e["run_id"] for e in events]
        if '"witness %s"' % self.tag not in events[-1]["data"]["result"]["response"]:
            return "answer %r" % events[-1]["data"]["result"]["response"]
        if self.redis.client_id() != self.redis_id:
            return "the Redis session was lost"
        if self.redis.get("witness:" + self.tag) != self.tag.encode():
            return "the Redis key was lost"
        self.redis.delete("witness:" + self.tag)
        return None

    def close(self):
        self.call(self.ws.close())
        self.redis.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# ---- the cases ------------------------------------------------------------------


class Ctx:
    """What the cases need: the simulator, tokens, and the ways to reach it."""

    def __init__(self, sim):
        self.sim = sim
        self.ctl = {"Authorization": "Bearer " + CONTROL_TOKEN}
        self.alice = self.login("alice@example.com", "alice-password")
        self.bob = self.login("bob@example.com", "bob-password")
        now = int(time.time())
        base = {"sub": "user-alice", "iat": now, "exp": now + 600, "token_type": "access",
                "type": "access", "iss": "netra-auth-service", "aud": "netra-platform",
                "jti": "errors-%d" % now, "email": "alice@example.com", "permissions": []}
        self.expired = jwt.encode(dict(base, iat=now - 1200, exp=now - 600), SECRET,
                                  algorithm="HS256")
        self.alg_none = jwt.encode(base, None, algorithm="none")
        self.other_secret = jwt.encode(base, "another-secret-of-at-least-32-bytes!!",
                                       algorithm="HS256")
        self.wrong_aud = jwt.encode(dict(base, aud="somebody-else"), SECRET, algorithm="HS256")
        carol = self.login("carol@example.com", "carol-password")
        r = httpx.post(sim.auth_url + "/auth/logout", timeout=10,
                       headers={"Authorization": "Bearer " + carol["access_token"]})
        assert r.status_code == 200, r.text
        self.revoked = carol["access_token"]
        # Bob's thread, for the cases that reach into it.
        r = httpx.post(sim.backend_url + "/api/threads/create", timeout=10,
                       headers={"Authorization": "Bearer " + self.bob["access_token"]})
        self.bob_thread = r.json()["thread_id"]

    def login(self, email, password):
        r = httpx.post(self.sim.auth_url + "/auth/login", timeout=10,
                       json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    def token(self, who="alice"):
        return getattr(self, who)["access_token"]

    def backend(self, method, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return httpx.request(method, self.sim.backend_url + path, headers=headers, timeout=10,
                             **kw)

    def auth(self, method, path, **kw):
        return httpx.request(method, self.sim.auth_url + path, timeout=20, **kw)

    def control(self, method, path, auth=True, **kw):
        headers = dict(self.ctl) if auth else {}
        headers.update(kw.pop("headers", {}))
        return httpx.request(method, self.sim.control_url + path, headers=headers, timeout=20,
                             **kw)

    def ws(self, sends=(), query="", path="/ws", **kw):
        url = "ws://127.0.0.1:%d%s%s" % (self.sim.backend_port, path, query)
        return asyncio.run(asyncio.wait_for(ws_exchange(url, list(sends), **kw), 30))

    def chat(self, sends=(), **kw):
        return self.ws(sends, query="?token=" + self.token(), **kw)

    def scenario(self, text):
        """The scenario loader, twice: `stagesim validate FILE` (exit code and
        message, the file's path shown as FILE) and POST /scenario on the
        running simulator (status and detail)."""
        with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
            f.write(text if isinstance(text, bytes) else text.encode())
        try:
            r = subprocess.run([STAGESIM, "validate", f.name], capture_output=True, timeout=30)
            # The file's own bytes are quoted as they are: shown escaped.
            err = r.stderr.decode(errors="backslashreplace").strip()
            cli = (r.returncode, err.replace(f.name, "FILE"))
        finally:
            os.unlink(f.name)
        body = text if isinstance(text, bytes) else text.encode()
        api = status_json(self.control("POST", "/scenario", content=body))
        return cli, api


def scn(**keys):
    return json.dumps(keys)


DETAIL = lambda text: {"detail": text}
BAD_REQUEST = (400, DETAIL("Bad Request"))
NOT_FOUND = (404, DETAIL("Not Found"))
BAD_FORMAT = ("error_message", "FORMAT_ERROR", 'Message must be a JSON object with a string "type"')
BAD_JSON = ("error_message", "JSON_PARSE_ERROR", "Invalid JSON in message")
WELCOME = "connection_established"
SCN_ERR = lambda path_reason: ((2, "stagesim: FILE: " + path_reason),
                               (422, DETAIL("scenario: " + path_reason)))


def tok(c, who="alice"):
    return c.token(who).encode()
