"""Self-test of bench/ws_load against a deliberately awkward fake server (stdlib only).

The fake server answers the upgrade, then writes every frame in 1-3 byte pieces, splits each event
into several fragments (text + continuations), interleaves pings (ws_load must answer with a masked
pong), and checks that client frames are masked. Cases: a clean run, a server close in mid-run
(must be reported, not hang), and a refused upgrade. Run: /usr/bin/python3 bench/ws_load_selftest.py
WS_LOAD=path/to/ws_load.
"""
import base64, hashlib, os, random, socket, struct, subprocess, threading, time, unittest

WS_LOAD = os.environ.get("WS_LOAD", "build-bench/ws_load")
EVENTS = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def read_frame(s):
    h = recv_exact(s, 2)
    op, ln, masked = h[0] & 15, h[1] & 127, h[1] & 128
    if ln == 126:
        ln = struct.unpack("!H", recv_exact(s, 2))[0]
    elif ln == 127:
        ln = struct.unpack("!Q", recv_exact(s, 8))[0]
    if not masked:
        raise AssertionError("client frame not masked")
    mask = recv_exact(s, 4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(recv_exact(s, ln)))
    return op, data


def frame(op, data, fin=True):
    h = bytes([(0x80 if fin else 0) | op])
    if len(data) < 126:
        h += bytes([len(data)])
    elif len(data) < 65536:
        h += bytes([126]) + struct.pack("!H", len(data))
    else:
        h += bytes([127]) + struct.pack("!Q", len(data))
    return h + data


def dribble(s, data, rnd):
    """Sends data in 1-3 byte writes so the client sees partial frames."""
    i = 0
    while i < len(data):
        n = rnd.randint(1, 3)
        s.sendall(data[i:i + n])
        i += n


class FakeServer:
    def __init__(self, mode):
        self.mode, self.pongs, self.errors = mode, 0, []
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(64)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        rnd = random.Random(7)
        try:
            req = b""
            while b"\r\n\r\n" not in req:
                req += c.recv(4096)
            if self.mode == "refuse":
                c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            key = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n")
                   if l.lower().startswith(b"sec-websocket-key:")][0]
            acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                   .digest())
            welcome = frame(1, b'{"type":"connection_established","data":{}}')
            # the welcome arrives in the same segment as the 101 header
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n" + welcome)
            runs = 0
            while True:
                op, data = read_frame(c)
                if op == 0xA:
                    self.pongs += 1
                    continue
                if op == 0x8:
                    c.sendall(frame(8, data[:2]))
                    return
                assert op == 1 and b'"user_message"' in data, data
                runs += 1
                if self.mode == "close_mid_run" and runs == 2:
                    dribble(c, frame(1, b'{"type":"agent_started","run_id":"r"}'), rnd)
                    c.sendall(frame(8, struct.pack("!H", 1011) + b"boom"))
                    return
                for ev in EVENTS:
                    msg = ('{"type":"%s","run_id":"r","data":{"pad":"%s"}}'
                           % (ev, "x" * rnd.randint(0, 300))).encode()
                    parts = [msg[:5], msg[5:20], msg[20:]]
                    out = frame(1, parts[0], fin=False) + frame(9, b"hi")  # ping between fragments
                    out += frame(0, parts[1], fin=False) + frame(0, parts[2], fin=True)
                    dribble(c, out, rnd)
        except (EOFError, OSError):
            pass
        except AssertionError as e:
            self.errors.append(str(e))
        finally:
            c.close()


def run_load(port, *args):
    p = subprocess.run([WS_LOAD, "--port", str(port), *args], capture_output=True, text=True,
                       timeout=30)
    line = [l for l in p.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, (p.stdout, p.stderr)
    return p.returncode, dict(kv.split("=", 1) for kv in line[0].split()[1:]), p.stderr


class WsLoadSelfTest(unittest.TestCase):
    def test_partial_fragmented_pings(self):
        srv = FakeServer("ok")
        rc, r, err = run_load(srv.port, "--conns", "5", "--runs", "4", "--timeout", "20")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["runs_ok"], "20")
        self.assertEqual(r["events"], "100")
        self.assertEqual(r["errors"], "0")
        self.assertEqual(r["clean_close"], "5")
        self.assertEqual(srv.pongs, 100)
        self.assertEqual(srv.errors, [])

    def test_server_close_mid_run_is_reported(self):
        srv = FakeServer("close_mid_run")
        t = time.monotonic()
        rc, r, err = run_load(srv.port, "--conns", "3", "--runs", "5", "--timeout", "20")
        self.assertLess(time.monotonic() - t, 10)  # no hang until the timeout
        self.assertEqual(rc, 1)
        self.assertEqual(r["runs_ok"], "3")
        self.assertEqual(r["unexpected_close"], "3")
        self.assertIn("server close code 1011: 3", err)
        self.assertIn("boom", err)

    def test_refused_upgrade(self):
        srv = FakeServer("refuse")
        rc, r, err = run_load(srv.port, "--conns", "2", "--runs", "1", "--timeout", "10")
        self.assertEqual(rc, 1)
        self.assertEqual(r["conn_failed"], "2")
        self.assertIn("upgrade refused: HTTP/1.1 403", err)


if __name__ == "__main__":
    unittest.main()
