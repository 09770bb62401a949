"""stagesim under valgrind through a golden path (login, WebSocket run, thread
history in Redis, a Redis client, the control API) and a SIGTERM: no leaks,
no memory errors, exit 0."""
import asyncio
import json
import re
import shutil
import socket
import subprocess
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import STAGESIM, login

VALGRIND = ["valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
            "--track-fds=no"]


def sanitized(binary):
    """An ASan build cannot run under valgrind: such a build skips this test."""
    libs = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return "libasan" in libs


@unittest.skipUnless(shutil.which("valgrind"), "valgrind not installed")
class Valgrind(unittest.TestCase):
    def setUp(self):
        if sanitized(STAGESIM):
            self.skipTest("an ASan/UBSan build: valgrind cannot run it")

    def test_golden_path_and_sigterm(self):
        s = Stagesim(wrap=VALGRIND, start_timeout=120)
        try:
            token = login(s)["access_token"]

            async def chat():
                async with websockets.connect(s.ws_url + "?token=" + token, open_timeout=30) as ws:
                    welcome = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    self.assertEqual(welcome["type"], "connection_established")
                    await ws.send(json.dumps({"type": "user_message", "message": "leak check",
                                              "thread_id": "vg"}))
                    types = []
                    while not types or types[-1] != "agent_completed":
                        types.append(json.loads(await asyncio.wait_for(ws.recv(), 30))["type"])
                    self.assertEqual(types, ["agent_started", "agent_thinking", "tool_executing",
                                             "tool_completed", "agent_completed"])
                    # A second connection left open: shutdown must close it (1001).
                    async with websockets.connect(s.ws_url + "?token=" + token, open_timeout=30) as ws2:
                        await asyncio.wait_for(ws2.recv(), 30)
                        r = httpx.get(s.backend_url + "/api/threads/vg/messages",
                                      headers={"Authorization": "Bearer " + token}, timeout=30)
                        self.assertEqual(r.status_code, 200, r.text)
                        with socket.create_connection(("127.0.0.1", s.redis_port), timeout=30) as c:
                            c.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\n")
                            data = b""
                            while data.count(b"\r\n") < 3:
                                data += c.recv(100)
                            self.assertEqual(data, b"+OK\r\n$1\r\nv\r\n")
                        r = httpx.get(s.control_url + "/status", timeout=30)
                        self.assertEqual(r.status_code, 200)
                        code = await asyncio.to_thread(s.stop)
                        self.assertEqual(code, 0, s.stderr[-3000:])

            asyncio.run(chat())
        finally:
            s.stop()
        summary = re.search(r"ERROR SUMMARY: (\d+) errors", s.stderr)
        self.assertIsNotNone(summary, s.stderr[-3000:])
        self.assertEqual(summary.group(1), "0", s.stderr[-6000:])
        self.assertNotIn("definitely lost: 1", s.stderr)
        self.assertRegex(s.stderr, r"(definitely lost: 0 bytes|All heap blocks were freed|no leaks are possible)")


if __name__ == "__main__":
    unittest.main()
