"""bench/benchutil.py -- what bench/run.py's measurements share that needs
none of its state: /proc figures of a process, key=value lines, medians,
ratios and markdown tables, the machine's description. Standard library."""
import json
import os
import re
import socket
import statistics
import subprocess
import urllib.request


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_status(pid, key):
    for line in read("/proc/%d/status" % pid).splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def rss_kib(pid):
    return proc_status(pid, "VmRSS")


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def cpu_s(pid):
    """user + system CPU seconds of a process so far"""
    f = read("/proc/%d/stat" % pid).rsplit(")", 1)[-1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK") if len(f) > 12 else 0.0


def fields(line):
    """key=value pairs of a RESULT / DELAY / CONNECTED line, numbers as floats"""
    out = {}
    for k, v in re.findall(r"(\w+)=(\S+)", line or ""):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def first_line(text, prefix):
    return next((l for l in text.splitlines() if l.startswith(prefix)), None)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return "%.*f" % (digits, v)


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read().decode()


def zero_gaps(r):
    """every run exactly its five events in order, no error of any kind"""
    return (r.get("runs", 0) > 0 and r.get("runs_ok") == r.get("runs") and r.get("seq_errors") == 0
            and r.get("event_errors") == 0 and r.get("errors") == 0)


def table(header, rows):
    """Markdown table; a header cell starting with '>' is right-aligned."""
    names = [h.lstrip(">") for h in header]
    out = ["| " + " | ".join(names) + " |",
           "|" + "|".join("---:" if h.startswith(">") else "---" for h in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine():
    model = re.search(r"^model name\s*:\s*(.*)$", read("/proc/cpuinfo"), re.M)
    mem = proc_status_file("/proc/meminfo", "MemTotal")
    return "%s CPUs (nproc), %s, %.1f GiB RAM, %s" % (
        sh(["nproc"]), model.group(1) if model else "unknown CPU", mem / 1048576.0,
        sh(["uname", "-sr"]))


def proc_status_file(path, key):
    m = re.search(r"^%s:\s+(\d+)" % key, read(path), re.M)
    return int(m.group(1)) if m else 0


def busy_processes():
    out = sh(["ps", "-eo", "pcpu=,comm=", "--sort=-pcpu"])
    busy = [l.split(None, 1) for l in out.splitlines()]
    return "; ".join("%s %s%%" % (c.strip(), p) for p, c in busy[:8] if float(p) >= 10) or "none"
