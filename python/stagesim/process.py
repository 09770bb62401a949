"""The stagesim process: started on free ports, ready once its READY line is
read, stopped with SIGTERM (SIGKILL after a timeout)."""
import json
import os
import queue
import shutil
import signal
import subprocess
import threading

from .control import Control

# Secrets stagesim reads from the environment before the scenario's own
# values; dropped unless env= sets them, so that the scenario decides.
SECRET_VARIABLES = ("JWT_SECRET_STAGING", "JWT_SECRET_KEY", "E2E_OAUTH_SIMULATION_KEY",
                    "STAGESIM_CONTROL_TOKEN")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_SOURCE_ROOT = os.path.dirname(os.path.dirname(_PACKAGE_DIR))

try:  # written by `meson install` (paths.py.in); absent in the source tree
    from . import _installed
except ImportError:  # pragma: no cover - depends on how the package was installed
    _installed = None


class StartError(RuntimeError):
    """stagesim did not print its READY line: it exited (a port in use, a
    bad scenario) or took longer than start_timeout. Carries its stderr."""

    def __init__(self, message, returncode=None, stderr=""):
        super().__init__("%s\nstagesim's stderr:\n%s" % (message, stderr.rstrip() or "(empty)"))
        self.returncode = returncode
        self.stderr = stderr


def find_binary(binary=None):
    """The stagesim executable: `binary`, else $STAGESIM, else the one
    installed beside this package, else `stagesim` on PATH, else the source
    tree's build/stagesim."""
    if binary:
        if os.path.isfile(binary) and os.access(binary, os.X_OK):
            return binary
        raise FileNotFoundError("stagesim binary %r is not an executable file" % binary)
    candidates = [os.environ.get("STAGESIM")]
    if _installed is not None:
        candidates.append(os.path.join(_installed.BINDIR, "stagesim"))
    candidates.append(shutil.which("stagesim"))
    if _installed is None:   # the source tree
        candidates.append(os.path.join(_SOURCE_ROOT, "build", "stagesim"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise FileNotFoundError("no stagesim binary: pass binary=, set STAGESIM, or put stagesim on PATH")


def scenario_path(name):
    """The file of a scenario that comes with stagesim, by NAME (as `stagesim
    up --scenario NAME` finds it): $STAGESIM_SCENARIO_PATH, the installed
    share/stagesim/scenarios, or the source tree this package is in."""
    base = name[:-5] if name.endswith(".json") else name
    dirs = [d for d in os.environ.get("STAGESIM_SCENARIO_PATH", "").split(":") if d]
    if _installed is not None:
        dirs.append(os.path.join(_installed.DATADIR, "scenarios"))
    else:
        dirs.append(os.path.join(_SOURCE_ROOT, "scenarios"))
    for d in dirs:
        p = os.path.join(d, base + ".json")
        if os.path.isfile(p):
            return p
    raise FileNotFoundError("no scenario named %r (looked in %s)" % (base, ", ".join(dirs)))


def _pump(stream, sink, first_line=None):
    """Reads stream to its end into sink (a list of str lines); the first
    line also goes to first_line (a queue) so the starter can wait on it."""
    for raw in iter(stream.readline, b""):
        line = raw.decode(errors="replace")
        if first_line is not None:
            first_line.put(line)
            first_line = None
        sink.append(line)
    if first_line is not None:
        first_line.put(None)   # the end came before any line
    stream.close()


class Stagesim:
    """A running `stagesim up` on free ports, started by the constructor.

    Use it as a context manager (stopped on exit) or call stop(). Every
    `stagesim up` option has a keyword; `args` adds raw command-line
    arguments. URLs use `bind` (127.0.0.1) and the READY line's ports."""

    def __init__(self, scenario=None, seed=None, tls=False, binary=None, *, journal=None,
                 time_scale=None, bind=None, tls_cert=None, tls_key=None, tls_dir=None,
                 control_token=None, verbose=False, args=(), env=None, wrap=None,
                 start_timeout=20.0, stop_timeout=15.0):
        self.binary = find_binary(binary)
        self.host = bind or "127.0.0.1"
        self.stop_timeout = stop_timeout
        cmd = [self.binary, "up", "--backend-port", "0", "--auth-port", "0", "--redis-port", "0",
               "--control-port", "0"]
        options = (("--scenario", scenario), ("--seed", seed), ("--journal", journal),
                   ("--time-scale", time_scale), ("--bind", bind), ("--tls-cert", tls_cert),
                   ("--tls-key", tls_key), ("--tls-dir", tls_dir),
                   ("--control-token", control_token))
        for flag, value in options:
            if value is not None:
                cmd += [flag, str(value)]
        if tls:
            cmd.append("--tls")
        if verbose:
            cmd.append("--verbose")
        cmd += [str(a) for a in args]
        if wrap:
            cmd = [str(w) for w in wrap] + cmd
        full_env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
        full_env.update(env or {})
        self.command = cmd
        self.exit_code = None
        self._stdout, self._stderr = [], []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env)
        first = queue.Queue()
        self._threads = [threading.Thread(target=_pump, args=(self.proc.stdout, self._stdout, first),
                                          daemon=True),
                         threading.Thread(target=_pump, args=(self.proc.stderr, self._stderr),
                                          daemon=True)]
        for t in self._threads:
            t.start()
        try:
            line = first.get(timeout=start_timeout)
        except queue.Empty:
            line = ""
        if not line or not line.startswith("READY "):
            if line is None:   # stdout closed: it is exiting
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                why = "exited with code %s before its READY line" % self.proc.returncode
            elif line:
                why = "printed %r instead of its READY line" % line.strip()
            else:
                why = "printed no READY line within %g s" % start_timeout
            self._kill()
            raise StartError("stagesim %s (%s)" % (why, " ".join(cmd)), self.proc.returncode,
                             self.stderr)
        self.ports = json.loads(line[len("READY "):])
        self.backend_port = self.ports["backend"]
        self.auth_port = self.ports["auth"]
        self.redis_port = self.ports["redis"]
        self.control_port = self.ports["control"]
        self.cert = self.ports.get("cert")   # with TLS: the certificate to trust
        self._control_token = control_token
        self.control = Control(self.control_url, token=control_token)

    # ---- where it listens ---------------------------------------------
    def _host(self):
        """The bind address as a URL host; a wildcard bind is reached on loopback."""
        h = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        return "[%s]" % h if ":" in h else h

    def _url(self, plain, secure, port):
        return "%s://%s:%d" % (secure if self.cert else plain, self._host(), port)

    @property
    def http_url(self):
        """The backend, http:// (https:// with TLS)."""
        return self._url("http", "https", self.backend_port)

    backend_url = http_url

    @property
    def ws_url(self):
        """The backend's WebSocket endpoint, ws://.../ws (wss:// with TLS)."""
        return self._url("ws", "wss", self.backend_port) + "/ws"

    @property
    def auth_url(self):
        return self._url("http", "https", self.auth_port)

    @property
    def redis_url(self):
        """Redis, plain with or without TLS (as Memorystore was)."""
        return "redis://%s:%d/0" % (self._host(), self.redis_port)

    @property
    def control_url(self):
        """The control API: loopback only, unless a control token let it
        listen on the bind address."""
        return "http://%s:%d" % (self._host() if self._control_token else "127.0.0.1",
                                 self.control_port)

    # ---- what it said ---------------------------------------------------
    @property
    def stderr(self):
        """Everything stagesim logged so far (all of it once stopped)."""
        return "".join(self._stderr)

    @property
    def stdout_rest(self):
        """What came on stdout after the READY line."""
        return "".join(self._stdout[1:])

    def journal(self, since=0, **match):
        """Every journal line after `since` (paged through), as dicts."""
        return self.control.journal_all(since=since, **match)

    # ---- stopping -------------------------------------------------------
    def running(self):
        return self.proc.poll() is None

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Sends sig (SIGTERM), waits up to timeout (stop_timeout) and then
        kills. Returns the exit code (0 after a clean SIGTERM)."""
        if self.exit_code is not None:
            return self.exit_code
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        self.exit_code = self.proc.returncode
        return self.exit_code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def __repr__(self):
        return "<Stagesim %s pid %d>" % (self.http_url, self.proc.pid)
