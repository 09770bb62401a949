"""Start the real stagesim binary on free ports and wait for its READY line.

Every integration test uses this: no sleeps, no fixed ports. The process is
stopped with SIGTERM (SIGKILL after a timeout) and its exit code checked.
"""
import json
import os
import select
import signal
import subprocess
import time

STAGESIM = os.environ.get("STAGESIM", "build/stagesim")
SOURCE_ROOT = os.environ.get("STAGESIM_SOURCE_ROOT", ".")


def scenario_path(name):
    return os.path.join(SOURCE_ROOT, "scenarios", name)


class Sim:
    """A running stagesim. Use as a context manager or call stop()."""

    def __init__(self, *args, env=None, timeout=20.0, wrap=None):
        cmd = [STAGESIM, "up", "--backend-port", "0", "--auth-port", "0",
               "--redis-port", "0", "--control-port", "0", *args]
        if wrap:
            cmd = list(wrap) + cmd
        full_env = dict(os.environ)
        for k in ("JWT_SECRET_STAGING", "JWT_SECRET_KEY", "E2E_OAUTH_SIMULATION_KEY"):
            full_env.pop(k, None)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env)
        self.stderr_lines = []
        line = self._read_line(self.proc.stdout, timeout)
        if not line.startswith("READY "):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=5)
            raise RuntimeError("no READY line; got %r; stderr:\n%s" % (line, err.decode(errors="replace")))
        self.ports = json.loads(line[len("READY "):])
        self.backend = self.ports["backend"]
        self.auth = self.ports["auth"]
        self.redis = self.ports["redis"]
        self.control = self.ports["control"]
        self.cert = self.ports.get("cert")   # with --tls: the certificate to trust
        self.exit_code = None

    @staticmethod
    def _read_line(stream, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = stream.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                break
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace").strip()

    @property
    def backend_url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.cert else "http", self.backend)

    @property
    def ws_url(self):
        return "%s://127.0.0.1:%d/ws" % ("wss" if self.cert else "ws", self.backend)

    @property
    def control_url(self):
        return "http://127.0.0.1:%d" % self.control

    @property
    def auth_url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.cert else "http", self.auth)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops the process; returns (exit code, stdout rest, stderr)."""
        if self.exit_code is not None:
            return self.exit_code
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        self.exit_code = self.proc.returncode
        self.stdout_rest = out.decode(errors="replace")
        self.stderr = err.decode(errors="replace")
        return self.exit_code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


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
    import httpx
    r = httpx.post(sim.control_url + "/faults", json=rule, timeout=10)
    assert r.status_code == 201, r.text
    return r


def wait_rule(sim, rule, count=1, timeout_ms=10000):
    """Long-polls until `rule` has fired `count` times (200) or timeout_ms
    passes (408); returns the response."""
    import httpx
    return httpx.get(sim.control_url + "/journal/wait",
                     params={"rule": rule, "count": count, "timeout_ms": timeout_ms},
                     timeout=timeout_ms / 1000 + 10)


def login(sim, email="alice@example.com", password="alice-password"):
    """Logs in a scenario user through the auth service; returns the token pair."""
    import httpx
    r = httpx.post(sim.auth_url + "/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    return r.json()
