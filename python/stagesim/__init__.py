"""stagesim from Python: start the simulator, drive its control API, use it
from pytest. Standard library only.

    from stagesim import Stagesim

    with Stagesim(scenario="redis-outage", seed=7) as sim:
        sim.http_url, sim.ws_url, sim.auth_url, sim.redis_url   # free ports
        sim.control.add_fault({"id": "slow", "on": "http.request",
                               "match": {"name": "/health"},
                               "action": {"kind": "delay", "ms": 500}})
        ...
        sim.control.wait_fault("slow", count=1, timeout=10)

The pytest plugin is `stagesim.pytest` (`pytest -p stagesim.pytest`, or
`pytest_plugins = ["stagesim.pytest"]` in conftest.py).
"""
from .control import APIError, Control, FaultWaitTimeout, JournalPage, Metrics
from .process import StartError, Stagesim, find_binary, scenario_path

__all__ = ["Stagesim", "StartError", "Control", "APIError", "FaultWaitTimeout", "JournalPage",
           "Metrics", "find_binary", "scenario_path"]
