"""What the integration tests share besides the stagesim package (which
starts the binary and talks to its control API: python/stagesim): where the
binary and the source tree are, and small client-side helpers.

meson test sets STAGESIM (the binary under test), STAGESIM_SOURCE_ROOT and
PYTHONPATH (this folder and python/)."""
import os
import time

import httpx

STAGESIM = os.environ.get("STAGESIM", "build/stagesim")
SOURCE_ROOT = os.environ.get("STAGESIM_SOURCE_ROOT", ".")


def scenario_path(name):
    """A scenario file of this source tree."""
    return os.path.join(SOURCE_ROOT, "scenarios", name)


def wait_for(pred, timeout=10.0, step=0.05):
    """Polls pred until it returns something true or timeout passes; returns
    its last value. For states a test cannot be told about (a reconnect)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def add_rule(sim, rule):
    """Adds a fault rule through the control API; it must be accepted."""
    return sim.control.add_fault(rule)


def wait_rule(sim, rule, count=1, timeout_ms=10000):
    """The raw long poll (tests of its 200 and 408 themselves): the httpx
    response once `rule` has fired `count` times or timeout_ms passed."""
    return httpx.get(sim.control_url + "/journal/wait",
                     params={"rule": rule, "count": count, "timeout_ms": timeout_ms},
                     timeout=timeout_ms / 1000 + 10)


def login(sim, email="alice@example.com", password="alice-password"):
    """Logs in a scenario user through the auth service; returns the token pair."""
    r = httpx.post(sim.auth_url + "/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return r.json()
