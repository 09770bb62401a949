#!/usr/bin/python3
"""Self-test of bench/ws_ref (the reference WebSocket server): the upgrade and its
Sec-WebSocket-Accept, the welcome and the five events as valid JSON in stagesim's shape,
a fragmented message with a ping between its fragments, escapes in the prompt, a 64-bit
length, the close handshake, and refusals (unmasked frame, bad path, oversized head,
half a frame then EOF) that leave the server up. A few seconds, 127.0.0.1 only.

usage: WS_REF=bench/out/bin/ws_ref /usr/bin/python3 bench/ws_ref_selftest.py
"""
import base64
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys

GOLDEN = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
EVENT_KEYS = {"type", "run_id", "user_id", "agent_name", "timestamp", "data"}


class Client:
    def __init__(self, port, path="/ws"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=3)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = self.s.recv(65536)
            if not d:
                break
            buf += d
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        self.head = head.decode()
        self.accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()

    def frame(self):
        """(opcode byte, payload), or (None, None) at EOF."""
        while True:
            b = self.buf
            if len(b) >= 2:
                n, o = b[1] & 127, 2
                if n == 126:
                    n, o = struct.unpack(">H", b[2:4])[0], 4
                elif n == 127:
                    n, o = struct.unpack(">Q", b[2:10])[0], 10
                if len(b) >= o + n:
                    self.buf = b[o + n:]
                    return b[0], b[o:o + n]
            d = self.s.recv(65536)
            if not d:
                return None, None
            self.buf += d

    def json(self):
        op, p = self.frame()
        assert op == 0x81, (op, p)
        return json.loads(p)

    def send(self, op, payload, fin=True):
        mask, n = os.urandom(4), len(payload)
        h = bytes([(0x80 if fin else 0) | op])
        if n < 126:
            h += bytes([0x80 | n])
        elif n < 65536:
            h += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            h += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.s.sendall(h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def check_run(c, prompt):
    evs = [c.json() for _ in range(5)]
    assert [e["type"] for e in evs] == GOLDEN, evs
    for e in evs:
        assert EVENT_KEYS <= set(e), e
    assert evs[2]["data"]["parameters"]["query"] == prompt, evs[2]
    assert ('"%s"' % prompt) in evs[4]["data"]["result"]["response"], evs[4]
    return evs


def main():
    binary = os.environ.get("WS_REF", "bench/out/bin/ws_ref")
    ref = subprocess.Popen([binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ok = 0
    try:
        port = json.loads(ref.stdout.readline().decode()[6:])["port"]
        c = Client(port)
        assert c.head.startswith("HTTP/1.1 101") and ("Sec-WebSocket-Accept: " + c.accept) in c.head
        w = c.json()
        assert w["type"] == "connection_established" and w["data"]["user_id"] == "demo-user-001", w
        assert w["data"]["golden_path_events"] == GOLDEN and w["data"]["connection_id"].startswith("main_")
        ok += 1
        msg = json.dumps({"type": "user_message", "message": "bench prompt 0 0",
                          "thread_id": "bench-0"}).encode()
        c.send(1, msg)
        evs = check_run(c, "bench prompt 0 0")
        assert all(e.get("thread_id") == "bench-0" for e in evs)
        ok += 1
        c.send(1, msg[:10], fin=False)               # fragments with a ping in between
        c.send(9, b"hi")
        c.send(0, msg[10:20], fin=False)
        c.send(0, msg[20:])
        assert c.frame() == (0x8A, b"hi")
        check_run(c, "bench prompt 0 0")
        ok += 1
        tricky = 'quote " backslash \\ accent \u00e9 newline \n'
        c.send(1, json.dumps({"type": "user_message", "message": tricky}).encode())
        check_run(c, tricky)
        ok += 1
        c.send(1, json.dumps({"type": "user_message", "message": "x" * 70000}).encode())
        assert len(check_run(c, "x" * 70000)[2]["data"]["parameters"]["query"]) == 70000
        ok += 1
        c.send(1, b'{"type":"ping"}')
        assert c.json()["type"] == "pong"
        c.send(1, b'{"type":"other"}')
        assert c.json()["type"] == "ack"
        ok += 1
        c.send(8, struct.pack(">H", 1000))
        assert c.frame() == (0x88, struct.pack(">H", 1000)) and c.frame() == (None, None)
        ok += 1
        c = Client(port)
        c.frame()
        c.s.sendall(b"\x81\x02hi")                   # unmasked: protocol error
        assert c.frame() == (0x88, struct.pack(">H", 1002))
        assert Client(port, "/nope").head.startswith("HTTP/1.1 400")
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(b"x" * 9000)                        # a head that never ends
        assert s.recv(100).startswith(b"HTTP/1.1 400")
        c = Client(port)
        c.frame()
        c.s.sendall(b"\x81\xfe\x10")                  # half a frame header, then EOF
        c.s.close()
        assert Client(port).json()["type"] == "connection_established"
        ok += 1
    finally:
        ref.terminate()
        try:
            ref.wait(5)
        except subprocess.TimeoutExpired:
            ref.kill()
            ref.wait()
    assert ref.returncode == 0, ref.returncode
    print("ws_ref_selftest: %d passed, 0 failed" % ok)


if __name__ == "__main__":
    sys.exit(main())
