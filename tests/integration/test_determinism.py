"""Determinism: the same scenario, seed and client script over 50 concurrent
WebSocket connections give the same journal (once t_ms is removed and lines
are grouped per service and connection ordinal), run after run; another seed
gives other decisions; an unrelated rule leaves a rule's decisions alone."""
import asyncio
import json
import os
import tempfile
import unittest

import websockets

from stagesim import Stagesim
from support import scenario_path

CONNECTIONS = 50
MESSAGES = 4

RULES = [
    {"id": "p-drop", "on": "ws.send", "match": {"name": "tool_completed"}, "p": 0.3,
     "action": {"kind": "drop"}},
    {"id": "jitter", "on": "ws.send", "match": {"name": "agent_thinking"},
     "action": {"kind": "delay", "ms": 2, "jitter_ms": 30}},
]
UNRELATED = {"id": "unrelated", "on": "ws.send", "match": {"name": "agent_started"}, "p": 0.5,
             "action": {"kind": "delay", "ms": 1, "jitter_ms": 5}}


def scenario(rules):
    with open(scenario_path("golden-path.json")) as f:
        sc = json.load(f)
    sc["agent"]["gap_ms"] = 2
    sc["faults"] = rules
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(sc, f)
    return path


async def client_script(sim):
    # Connections open one after another, so their ordinals are fixed...
    conns = []
    for _ in range(CONNECTIONS):
        ws = await websockets.connect(sim.ws_url, open_timeout=10)
        json.loads(await asyncio.wait_for(ws.recv(), 10))
        conns.append(ws)

    # ...then all of them chat at once.
    async def chat(i, ws):
        for m in range(MESSAGES):
            await ws.send(json.dumps({"type": "user_message", "message": "c%d m%d" % (i, m),
                                      "thread_id": "det-%d" % i}))
            while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "agent_completed":
                pass
        await ws.close()
    await asyncio.gather(*(chat(i, ws) for i, ws in enumerate(conns)))


def run(rules, seed):
    path = scenario(rules)
    fd, journal = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        with Stagesim(scenario=path, seed=seed, journal=journal) as s:
            asyncio.run(client_script(s))
        assert s.exit_code == 0, s.stderr
        groups = {}
        with open(journal) as f:
            for line in f:
                rec = json.loads(line)
                del rec["t_ms"]
                groups.setdefault((rec["svc"], rec["conn"]), []).append(rec)
        return groups
    finally:
        os.unlink(path)
        os.unlink(journal)


def firings(groups, rule):
    return sorted((k, r.get("msg"), r.get("delay_ms")) for k, recs in groups.items()
                  for r in recs if r.get("rule") == rule)


class Determinism(unittest.TestCase):
    def test_same_seed_same_journal(self):
        first = run(RULES, 11)
        ws_conns = [k for k in first if k[0] == "backend"]
        self.assertEqual(len(ws_conns), CONNECTIONS)
        drops = firings(first, "p-drop")
        self.assertGreater(len(drops), 0)
        self.assertLess(len(drops), CONNECTIONS * MESSAGES)
        self.assertEqual(len(firings(first, "jitter")), CONNECTIONS * MESSAGES)
        for i in range(4):
            again = run(RULES, 11)
            self.assertEqual(again.keys(), first.keys())
            for k in first:
                self.assertEqual(again[k], first[k], "run %d differs on %s" % (i + 2, k))

        other = run(RULES, 12)
        self.assertNotEqual(firings(other, "p-drop"), drops, "another seed, other decisions")

        with_unrelated = run(RULES + [UNRELATED], 11)
        self.assertGreater(len(firings(with_unrelated, "unrelated")), 0)
        self.assertEqual(firings(with_unrelated, "p-drop"), drops,
                         "an added rule leaves the existing rule's decisions unchanged")
        self.assertEqual(firings(with_unrelated, "jitter"), firings(first, "jitter"))


if __name__ == "__main__":
    unittest.main()
