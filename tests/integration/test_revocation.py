"""Tokens revoked mid-session (issue 8 item 6): a logout, or every token of
a user through the control API, closes the WebSockets that rode on them
with AUTH_FAILED and 1008, and nobody else's."""
import asyncio
import json
import unittest

import httpx
import websockets

from stagesim import Stagesim
from support import login

REVOKED = "Authentication failed: Token has been revoked"


async def welcomed(s, token):
    ws = await websockets.connect(s.ws_url + "?token=" + token, open_timeout=10)
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_established"
    return ws


async def closed_with(ws):
    """Frames until the close; returns them and the close frame."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    except websockets.ConnectionClosed as e:
        return frames, e.rcvd


async def chat(ws):
    await ws.send(json.dumps({"type": "user_message", "message": "still there?"}))
    types = []
    while not types or types[-1] != "agent_completed":
        types.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
    return types


class Revocation(unittest.TestCase):
    def check_closed(self, frames, close):
        self.assertIsNotNone(close, "a close frame, not a cut")
        self.assertEqual((close.code, close.reason), (1008, "Authentication failed"))
        errors = [f for f in frames if f["type"] == "error_message"]
        self.assertEqual(len(errors), 1, frames)
        self.assertEqual(errors[0]["error_code"], "AUTH_FAILED")
        self.assertEqual(errors[0]["error_message"], REVOKED)

    def test_logout_closes_that_tokens_websocket(self):
        with Stagesim() as s:
            mine, other = login(s)["access_token"], login(s)["access_token"]

            async def go():
                a, b = await welcomed(s, mine), await welcomed(s, other)
                r = httpx.post(s.auth_url + "/auth/logout",
                               headers={"Authorization": "Bearer " + mine}, timeout=10)
                self.assertEqual(r.status_code, 200, r.text)
                self.check_closed(*await closed_with(a))
                # The same user's other token, on its own connection, goes on.
                self.assertEqual((await chat(b))[-1], "agent_completed")
                await b.close()
            asyncio.run(go())
            self.assertEqual(s.stop(), 0)

    def test_user_revoked_mid_run(self):
        with Stagesim() as s:
            alice1, alice2 = login(s)["access_token"], login(s)["access_token"]
            bob = login(s, "bob@example.com", "bob-password")["access_token"]
            # Alice's first run waits a minute before its second event, so the revocation
            # lands mid-run however slow the machine (left to its 4 short gaps, the run
            # completed before the revoke on a machine busy with 2 CPU hogs). The rest of the
            # run is queued behind that delay: the close must go ahead of it, and the rest
            # never come.
            s.control.add_fault({"id": "hold-alice", "on": "ws.send", "times": 1,
                                 "match": {"user": "user-alice", "name": "agent_thinking"},
                                 "action": {"kind": "delay", "ms": 60000}})

            async def go():
                a1, a2, b = [await welcomed(s, t) for t in (alice1, alice2, bob)]
                await a1.send(json.dumps({"type": "user_message", "message": "long one"}))
                self.assertEqual(json.loads(await asyncio.wait_for(a1.recv(), 10))["type"],
                                 "agent_started")
                s.control.wait_fault("hold-alice")
                r = httpx.post(s.control_url + "/revoke", json={"user_id": "user-alice"},
                               timeout=10)
                self.assertEqual((r.status_code, r.json()), (200, {"revoked": "user-alice"}))
                for ws in (a1, a2):
                    frames, close = await closed_with(ws)
                    self.check_closed(frames, close)
                    self.assertNotIn("agent_completed", [f["type"] for f in frames],
                                     "the run stops")
                self.assertEqual((await chat(b))[-1], "agent_completed", "bob is not affected")
                await b.close()
            asyncio.run(go())
            for tok in (alice1, alice2):
                r = httpx.get(s.auth_url + "/auth/me", headers={"Authorization": "Bearer " + tok})
                self.assertEqual(r.status_code, 401, "revoked everywhere, not only on the socket")
            fresh = login(s)["access_token"]
            async def again():
                ws = await welcomed(s, fresh)
                self.assertEqual((await chat(ws))[-1], "agent_completed", "a new login works")
                await ws.close()
            asyncio.run(again())
            r = httpx.post(s.control_url + "/revoke", json={"user": "x"}, timeout=10)
            self.assertEqual(r.status_code, 400)
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
