"""A client for stagesim's control API (docs/control-api.md), on urllib.

Every call returns parsed JSON (dicts and lists) or raises APIError with the
status and the API's `detail`."""
import json
import re
import urllib.error
import urllib.parse
import urllib.request


class APIError(Exception):
    """The control API refused a request: `status` and its `detail`."""

    def __init__(self, status, detail, body=None):
        super().__init__("control API %d: %s" % (status, detail))
        self.status = status
        self.detail = detail
        self.body = body


class FaultWaitTimeout(APIError):
    """wait_fault's timeout passed before the rule fired often enough (408);
    `fired` says how often it did."""

    def __init__(self, status, detail, body):
        super().__init__(status, detail, body)
        self.fired = body.get("fired")


class JournalPage(list):
    """Journal lines (dicts) with the page's numbers: `first` and `last` (the
    line numbers returned; page on with since=last) and `total` (lines
    written so far). `first > since + 1` means lines fell out of memory."""

    def __init__(self, lines, first, last, total):
        super().__init__(lines)
        self.first, self.last, self.total = first, last, total


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """/metrics as a dict: each sample as Prometheus writes it
    ('stagesim_faults_fired_total{rule="x"}') to its value, a float.
    value(name, **labels) reads one sample, 0.0 when it is absent."""

    @classmethod
    def parse(cls, text):
        m = cls()
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            s = _SAMPLE.match(line)
            if not s:
                raise ValueError("not a Prometheus sample: %r" % line)
            name, labels, value = s.groups()
            m[cls._key(name, dict(_LABEL.findall(labels or "")))] = float(value)
        return m

    @staticmethod
    def _key(name, labels):
        if not labels:
            return name
        return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels.items()))

    def value(self, name, **labels):
        want = {k: str(v) for k, v in labels.items()}
        for key, v in self.items():
            s = _SAMPLE.match("%s 0" % key)
            if s.group(1) == name and dict(_LABEL.findall(s.group(2) or "")) == want:
                return v
        return 0.0


def _matches(line, match):
    return all(line.get(k) == v for k, v in match.items())


class Control:
    """The control API at `url` (http://127.0.0.1:PORT); `token` when
    stagesim was started with --control-token."""

    def __init__(self, url, token=None, timeout=10.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _request(self, method, path, body=None, params=None, timeout=None, raw=False):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", "Bearer " + self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                text = r.read().decode()
                return (text, r.headers) if raw else json.loads(text)
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                payload = json.loads(text)
            except ValueError:
                payload = {"detail": text}
            detail = payload.get("detail", text) if isinstance(payload, dict) else text
            cls = FaultWaitTimeout if e.code == 408 else APIError
            raise cls(e.code, detail, payload) from None

    # ---- status, metrics ---------------------------------------------
    def status(self):
        """GET /status: scenario, ports, uptime, services, breakers."""
        return self._request("GET", "/status")

    def metrics(self):
        """GET /metrics as a Metrics dict."""
        text, _ = self._request("GET", "/metrics", raw=True)
        return Metrics.parse(text)

    # ---- fault rules ---------------------------------------------------
    def faults(self):
        """Every rule with its counters (fired, matched, runtime, ...)."""
        return self._request("GET", "/faults")["faults"]

    def fault(self, rule_id):
        return self._request("GET", "/faults/" + urllib.parse.quote(rule_id, safe=""))

    def add_fault(self, rule):
        """Adds one rule (a dict) or several (a list), all or nothing;
        returns the ids added."""
        return self._request("POST", "/faults", body=rule)["added"]

    def remove_fault(self, rule_id):
        return self._request("DELETE", "/faults/" + urllib.parse.quote(rule_id, safe=""))["removed"]

    def clear_faults(self):
        """Removes every rule; returns how many there were."""
        return self._request("DELETE", "/faults")["removed"]

    def reset(self):
        """Run-time rules removed, the scenario's rules' counters zeroed."""
        return self._request("POST", "/reset")

    def wait_fault(self, rule_id, count=1, timeout=10.0):
        """Waits (a long poll, no sleeping) until the rule has fired `count`
        times; returns {"rule","fired","count","waited_ms"}. Raises
        FaultWaitTimeout when `timeout` seconds pass first."""
        return self._request("GET", "/journal/wait",
                             params={"rule": rule_id, "count": count,
                                     "timeout_ms": int(timeout * 1000)},
                             timeout=timeout + self.timeout)

    def lifecycle_state(self):
        """GET /lifecycle: {"services": {name: {"state", "since_ms"}}}."""
        return self._request("GET", "/lifecycle")

    # ---- scenario, lifecycle -------------------------------------------
    def set_scenario(self, scenario):
        """Replaces the fault rules with a scenario's (a dict, or the path of
        a JSON file); validated like a file (APIError 422 with the path)."""
        if isinstance(scenario, str):
            with open(scenario) as f:
                scenario = json.load(f)
        return self._request("POST", "/scenario", body=scenario)

    def lifecycle(self, service, action, **params):
        """POST /lifecycle {"service", "action", ...}: crash, restart, drain,
        redeploy, cannot_start or start a service (docs/lifecycle.md), e.g.
        lifecycle("redis", "restart", ms=1500, keep_state=False). Returns
        every service's state; a refused step raises APIError (409, 422)."""
        return self._request("POST", "/lifecycle", body=dict(service=service, action=action, **params))

    def revoke_user(self, user_id):
        """POST /revoke: every token of the user revoked; their open
        WebSockets get AUTH_FAILED and close 1008."""
        return self._request("POST", "/revoke", body={"user_id": user_id})["revoked"]

    # ---- the journal ---------------------------------------------------
    def journal(self, since=0, limit=None, wait=None, **match):
        """One page of journal lines after line `since` (at most `limit`),
        those equal to every `match` field (svc="backend", point="send");
        a JournalPage. With `wait` (seconds) it waits for a line newer than
        `since` if there is none yet."""
        params = {"since": since, "limit": limit,
                  "wait_ms": None if wait is None else int(wait * 1000)}
        text, headers = self._request("GET", "/journal", params=params, raw=True,
                                      timeout=(wait or 0) + self.timeout)
        lines = [json.loads(line) for line in text.splitlines() if line]
        return JournalPage([ln for ln in lines if _matches(ln, match)],
                           int(headers["X-Journal-First"]), int(headers["X-Journal-Last"]),
                           int(headers["X-Journal-Total"]))

    def journal_all(self, since=0, **match):
        """Every line after `since`, paged through; a list of dicts."""
        out = []
        while True:
            page = self.journal(since=since, **match)
            out += page
            if page.last <= since or page.last >= page.total:
                return out
            since = page.last
