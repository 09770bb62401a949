"""bench/soak_wire.py -- the soak's clients below the protocol libraries
(bench/soak.py): HTTP/1.1 with one connection a request, and a small RESP
client, both on asyncio, raising Unexpected for what no known fault explains."""
import asyncio
import json

HOST = "127.0.0.1"


class Unexpected(Exception):
    pass


# ---- wire helpers: HTTP/1.1 with one connection per request, and RESP --------------------------

async def http(port, method, path, body=None, token=None):
    """Returns (status, parsed JSON body or raw text). Connection: close, body read to EOF."""
    r, w = await asyncio.open_connection(HOST, port)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        head = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (HOST, port),
                "Connection: close", "Content-Length: %d" % len(data)]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append("Authorization: Bearer " + token)
        w.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        raw = await r.read()
    finally:
        w.close()
    if not raw:
        raise Unexpected("%s %s: connection closed without a reply" % (method, path))
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    if any(l.lower().startswith("transfer-encoding:") and "chunked" in l.lower() for l in lines):
        payload = dechunk(payload)
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode("utf-8", "replace")


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


class RespError(Exception):
    pass


def resp_encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class Resp:
    def __init__(self, r, w):
        self.r, self.w = r, w

    @classmethod
    async def open(cls, port):
        return cls(*await asyncio.open_connection(HOST, port))

    async def cmd(self, *args):
        self.w.write(resp_encode(*args))
        return await self.read()

    async def read(self):
        line = await self.r.readline()
        if not line.endswith(b"\r\n"):
            raise EOFError("connection closed")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            return RespError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            return None if n < 0 else (await self.r.readexactly(n + 2))[:-2]
        if kind == b"*":
            n = int(body)
            return None if n < 0 else [await self.read() for _ in range(n)]
        raise Unexpected("RESP: unknown reply type %r" % line[:20])

    def close(self):
        self.w.close()


def expect(cond, what):
    if not cond:
        raise Unexpected(what)


# ---- the churners -------------------------------------------------------------------------------
