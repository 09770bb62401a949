"""The pytest plugin: `pytest -p stagesim.pytest`, or in conftest.py
`pytest_plugins = ["stagesim.pytest"]`.

    import pytest

    @pytest.mark.stagesim(scenario="redis-outage", seed=7)
    def test_chat_survives(stagesim):
        ...stagesim.ws_url, stagesim.control.wait_fault(...)...

The `stagesim` fixture is a running Stagesim. The marker's keywords are
Stagesim's (scenario, seed, tls, time_scale, env, args, ...), plus
`scope`: "function" (the default: a simulator of its own for the test) or
"session" (one simulator for every test with the same keywords, its rules
reset before each test). `--stagesim-binary PATH` picks the binary and
`--stagesim-scope` the default scope. When a test fails, its report gets a
"stagesim journal" section: the journal lines written during the test.
"""
import json

import pytest

from .process import StartError, Stagesim

_RESULT = pytest.StashKey()
_SHARED = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("stagesim")
    group.addoption("--stagesim-binary", default=None,
                    help="the stagesim executable (default: $STAGESIM, then the installed one)")
    group.addoption("--stagesim-scope", default="function", choices=("function", "session"),
                    help="one simulator per test (function) or per set of marker keywords "
                         "for the whole run (session)")


def pytest_configure(config):
    config.addinivalue_line("markers", "stagesim(scenario=None, seed=None, tls=False, scope=None, "
                            "**options): how the stagesim fixture starts its simulator")
    config.stash[_SHARED] = {}


def pytest_unconfigure(config):
    for sim in config.stash.get(_SHARED, {}).values():
        sim.stop()


def _options(request):
    kw = {}
    for mark in reversed(list(request.node.iter_markers("stagesim"))):
        kw.update(mark.kwargs)   # the closest marker wins
    scope = kw.pop("scope", None) or request.config.getoption("stagesim_scope")
    if scope not in ("function", "session"):
        raise pytest.UsageError("stagesim marker: scope must be 'function' or 'session', not %r"
                                % scope)
    kw.setdefault("binary", request.config.getoption("stagesim_binary"))
    return scope, kw


@pytest.fixture
def stagesim(request):
    """A running stagesim, as the test's `stagesim` marker says."""
    scope, kw = _options(request)
    if scope == "session":
        shared = request.config.stash[_SHARED]
        key = json.dumps(kw, sort_keys=True, default=str)
        sim = shared.get(key)
        if sim is None or not sim.running():
            sim = shared[key] = Stagesim(**kw)
        else:
            sim.control.reset()
        owned = False
    else:
        sim = Stagesim(**kw)
        owned = True
    since = sim.control.status()["journal_lines"]
    request.node.stash[_RESULT] = (sim, since)
    try:
        yield sim
    finally:
        if owned:
            sim.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    if call.excinfo is not None and isinstance(call.excinfo.value, StartError):
        return   # its message carries stagesim's stderr already
    entry = item.stash.get(_RESULT, None)
    if entry is None or rep.when == "teardown":
        return
    sim, since = entry
    try:
        lines = sim.control.journal_all(since=since)
        text = "\n".join(json.dumps(ln, separators=(",", ":")) for ln in lines)
        rep.sections.append(("stagesim journal (%d lines since the test began)" % len(lines), text))
    except Exception as e:  # the simulator died with the test: say so, keep its stderr
        rep.sections.append(("stagesim journal", "unavailable (%s); stagesim's stderr:\n%s"
                             % (e, sim.stderr)))
