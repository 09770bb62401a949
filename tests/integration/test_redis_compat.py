"""Wire compatibility with Redis 7: one script of commands (error cases
included) sent to a real redis-server started here on a free port and to
stagesim; raw replies compared byte for byte. Replies whose order Redis does
not define (sets, KEYS) are compared sorted; random or clock-dependent ones
by type only. Known differences: docs/redis.md."""
import shutil
import socket
import subprocess
import time
import unittest

from stagesim import Stagesim

EXACT, SORTED, TYPE = "exact", "sorted", "type"

# (mode, command words)
SCRIPT = [
    (EXACT, "PING"), (EXACT, "PING hi"), (EXACT, "ECHO x"), (EXACT, "ECHO"),
    (EXACT, "NOSUCH a b"), (EXACT, "GET"), (EXACT, "SET k v"), (EXACT, "GET k"),
    (EXACT, "SET k v NX"), (EXACT, "SET k w XX GET"), (EXACT, "SET k v XX NX"),
    (EXACT, "SET k v EX 0"), (EXACT, "SET k v EX abc"), (EXACT, "SET k v KEEPTTL EX 5"),
    (EXACT, "SET e v EX 100"), (EXACT, "TTL e"), (EXACT, "PERSIST e"), (EXACT, "TTL e"),
    (EXACT, "SETEX s 100 v"), (EXACT, "SETEX s 0 v"), (EXACT, "PSETEX s 100000 v"),
    (EXACT, "SETNX k z"), (EXACT, "GETSET k g"), (EXACT, "GETDEL k"), (EXACT, "GETDEL k"),
    (EXACT, "SET k hello"), (EXACT, "GETEX k PERSIST"), (EXACT, "GETEX k EX 100"),
    (EXACT, "MSET a 1 b 2"), (EXACT, "MSET a"), (EXACT, "MGET a b nope"),
    (EXACT, "MSETNX a 1 c 3"), (EXACT, "MSETNX c 3 d 4"), (EXACT, "APPEND a xyz"),
    (EXACT, "STRLEN a"), (EXACT, "INCR n"), (EXACT, "INCRBY n 10"), (EXACT, "DECR n"),
    (EXACT, "DECRBY n 3"), (EXACT, "INCR a"), (EXACT, "INCRBY n x"),
    (EXACT, "INCRBYFLOAT f 1.5"), (EXACT, "INCRBYFLOAT f 0.1"), (EXACT, "INCRBYFLOAT f x"),
    (EXACT, "SET big 9223372036854775807"), (EXACT, "INCR big"),
    (EXACT, "GETRANGE k 0 2"), (EXACT, "GETRANGE k -3 -1"), (EXACT, "SETRANGE k 2 ZZ"),
    (EXACT, "GET k"), (EXACT, "SETRANGE new 3 x"), (EXACT, "GET new"),
    (EXACT, "DEL a b zz"), (EXACT, "UNLINK c"), (EXACT, "EXISTS k d nope"),
    (EXACT, "EXPIRE k 100"), (EXACT, "EXPIRE k 100 NX"), (EXACT, "EXPIRE k 200 GT"),
    (EXACT, "TTL k"), (EXACT, "PEXPIRE k 100000"), (EXACT, "EXPIRE nope 10"),
    (EXACT, "EXPIRE k x"), (EXACT, "EXPIREAT k 4102444800"), (EXACT, "TTL nope"),
    (EXACT, "PTTL nope"), (EXACT, "TYPE k"), (EXACT, "TYPE nope"),
    (EXACT, "RENAME k k2"), (EXACT, "RENAME nope x"), (EXACT, "RENAMENX k2 d"),
    (EXACT, "RENAMENX k2 k3"), (SORTED, "KEYS *"), (SORTED, "KEYS k*"),
    (EXACT, "DBSIZE"), (EXACT, "SELECT 16"), (EXACT, "SELECT x"), (EXACT, "SELECT 2"),
    (EXACT, "DBSIZE"), (EXACT, "SET only2 x"), (EXACT, "SELECT 0"), (EXACT, "GET only2"),
    (EXACT, "LPUSH k3 x"), (EXACT, "GET"),
    # lists
    (EXACT, "RPUSH l a b c d e"), (EXACT, "LPUSH l z"), (EXACT, "LPUSHX nol a"),
    (EXACT, "RPUSHX l f"), (EXACT, "LLEN l"), (EXACT, "LRANGE l 0 -1"),
    (EXACT, "LRANGE l -2 100"), (EXACT, "LRANGE l 5 1"), (EXACT, "LINDEX l 1"),
    (EXACT, "LINDEX l 99"), (EXACT, "LSET l 0 Z"), (EXACT, "LSET l 99 x"),
    (EXACT, "LSET nol 0 x"), (EXACT, "LPOP l"), (EXACT, "RPOP l 2"), (EXACT, "LPOP l -1"),
    (EXACT, "LPOP nol 2"), (EXACT, "RPUSH r a b a c a"), (EXACT, "LREM r 2 a"),
    (EXACT, "LRANGE r 0 -1"), (EXACT, "LREM r -1 a"), (EXACT, "LTRIM l 1 -1"),
    (EXACT, "LRANGE l 0 -1"), (EXACT, "BLPOP l 0.1"), (EXACT, "BRPOP nol 0.05"),
    (EXACT, "BLPOP l x"), (EXACT, "BLPOP l -1"),
    # BLPOP timeouts: Redis reads a long double, ceil(v * 1000) ms, and a value
    # past the long long range comes out negative
    (EXACT, "BLPOP nol 1e300"), (EXACT, "BLPOP nol inf"), (EXACT, "BLPOP nol -inf"),
    (EXACT, "BLPOP nol nan"), (EXACT, "BLPOP nol abc"), (EXACT, "BRPOP nol 1e16"),
    (EXACT, "BLPOP nol 9223372036854775.808"), (EXACT, "BLPOP nol 1e5000"),
    (EXACT, "BLPOP nol 1e-5000"), (EXACT, "BLPOP nol \"\""), (EXACT, "BLPOP nol \" 1\""),
    (EXACT, "BLPOP nol 0.0001"), (EXACT, "BLPOP nol 1e-300"), (EXACT, "BLPOP nol -0.5"),
    # hashes
    (EXACT, "HSET h f1 v1 f2 v2"), (EXACT, "HSET h f3"), (EXACT, "HGET h f1"),
    (EXACT, "HGET h nope"), (EXACT, "HMSET h f3 v3"), (EXACT, "HMGET h f1 nope f3"),
    (EXACT, "HGETALL h"), (EXACT, "HKEYS h"), (EXACT, "HVALS h"), (EXACT, "HLEN h"),
    (EXACT, "HEXISTS h f2"), (EXACT, "HDEL h f2 nope"), (EXACT, "HINCRBY h n 5"),
    (EXACT, "HINCRBY h f1 1"), (EXACT, "HINCRBYFLOAT h fl 2.5"), (EXACT, "HSETNX h f1 x"),
    (EXACT, "HSETNX h f9 x"), (EXACT, "HSCAN h 0"), (EXACT, "HSCAN h 0 MATCH f*"),
    (EXACT, "HGET l x"), (EXACT, "HDEL nohash f"), (EXACT, "HDEL l f"),
    (EXACT, "HSET h2 a 1 b 2"), (EXACT, "HDEL h2 a a zz"), (EXACT, "HDEL h2 b"),
    (EXACT, "EXISTS h2"),
    # sets
    (EXACT, "SADD s1 a b c"), (EXACT, "SADD s1 a"), (EXACT, "SADD s2 b c d"),
    (EXACT, "SREM s1 a zz"), (SORTED, "SMEMBERS s1"), (EXACT, "SISMEMBER s1 b"),
    (EXACT, "SCARD s1"), (SORTED, "SINTER s1 s2"), (SORTED, "SUNION s1 s2"),
    (SORTED, "SDIFF s2 s1"), (TYPE, "SPOP s2"), (EXACT, "SPOP nos"), (EXACT, "SPOP nos 2"),
    (EXACT, "SPOP nos -1"), (EXACT, "SPOP nos abc"), (EXACT, "SPOP nos 1 2"), (EXACT, "LPOP nol abc"),
    (EXACT, "RPOP nol -3"), (EXACT, "LPOP nol 1 2"),
    (TYPE, "SRANDMEMBER s1"), (EXACT, "SRANDMEMBER nos"), (EXACT, "SADD h x"),
    (EXACT, "SREM nos a"), (EXACT, "SREM h f1"), (EXACT, "SADD s3 a b"),
    (EXACT, "SREM s3 a a zz"), (EXACT, "SREM s3 b"), (EXACT, "EXISTS s3"), (EXACT, "SREM s3"),
    # sorted sets
    (EXACT, "ZADD z 1 a 2 b 3 c"), (EXACT, "ZADD z NX 5 a 4 d"), (EXACT, "ZADD z XX CH 9 a"),
    (EXACT, "ZADD z GT 1 b"), (EXACT, "ZADD z LT 1 b"), (EXACT, "ZADD z INCR 2 c"),
    (EXACT, "ZADD z NX XX 1 a"), (EXACT, "ZADD z GT LT 1 a"), (EXACT, "ZADD z 1"),
    (EXACT, "ZADD z x a"), (EXACT, "ZSCORE z a"), (EXACT, "ZSCORE z nope"),
    (EXACT, "ZINCRBY z 0.5 b"), (EXACT, "ZCARD z"), (EXACT, "ZRANK z c"),
    (EXACT, "ZCOUNT z 1 5"), (EXACT, "ZCOUNT z (1 +inf"), (EXACT, "ZCOUNT z x 1"),
    (EXACT, "ZRANGE z 0 -1"), (EXACT, "ZRANGE z 0 -1 WITHSCORES"),
    (EXACT, "ZRANGE z 0 1 REV"), (EXACT, "ZRANGE z 1 5 BYSCORE"),
    (EXACT, "ZRANGE z +inf -inf BYSCORE REV LIMIT 0 2 WITHSCORES"),
    (EXACT, "ZRANGE z 0 1 LIMIT 0 1"), (EXACT, "ZRANGEBYSCORE z -inf (5 WITHSCORES"),
    (EXACT, "ZREM z d nope"), (EXACT, "ZREMRANGEBYSCORE z 0 1.5"), (EXACT, "ZRANGE z 0 -1"),
    # transactions
    (EXACT, "MULTI"), (EXACT, "INCR tx"), (EXACT, "INCR tx"), (EXACT, "EXEC"),
    (EXACT, "EXEC"), (EXACT, "DISCARD"), (EXACT, "MULTI"), (EXACT, "MULTI"),
    (EXACT, "GET"), (EXACT, "EXEC"), (EXACT, "WATCH tx"), (EXACT, "UNWATCH"),
    # pub/sub without subscribers
    (EXACT, "PUBLISH ch x"), (EXACT, "PUBSUB NUMSUB ch"), (EXACT, "PUBSUB CHANNELS"),
    # server
    (EXACT, "AUTH x"), (EXACT, "CLIENT SETNAME my-conn"), (EXACT, "CLIENT GETNAME"),
    (EXACT, "CLIENT SETNAME \"a b\""), (TYPE, "CLIENT ID"), (TYPE, "TIME"),
    (EXACT, "CONFIG GET maxmemory"), (EXACT, "CONFIG GET databases"),
    (EXACT, "CONFIG SET nosuchparam 1"), (TYPE, "COMMAND COUNT"),
    (EXACT, "SCAN 0 COUNT 0"), (EXACT, "SCAN x"), (TYPE, "RANDOMKEY"),
    (EXACT, "FLUSHDB"), (EXACT, "DBSIZE"), (EXACT, "RANDOMKEY"), (EXACT, "FLUSHALL"),
]


def encode(words):
    out = b"*%d\r\n" % len(words)
    for w in words:
        w = w.encode()
        out += b"$%d\r\n%s\r\n" % (len(w), w)
    return out


def split(cmd):
    words, cur, q = [], "", False
    for ch in cmd:
        if ch == '"':
            q = not q
        elif ch == " " and not q:
            words.append(cur)
            cur = ""
        else:
            cur += ch
    words.append(cur)
    return words


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        """Returns (raw bytes, parsed) of one RESP2 reply."""
        line = self._line()
        raw = line + b"\r\n"
        t = line[:1]
        if t in (b"+", b"-", b":"):
            return raw, line
        n = int(line[1:])
        if t == b"$":
            if n < 0:
                return raw, None
            data = self._exact(n + 2)
            return raw + data, data[:-2]
        items = []
        for _ in range(max(n, 0)):
            r, p = self.reply()
            raw += r
            items.append((r, p))
        return raw, items if n >= 0 else None

    def call(self, words):
        self.s.sendall(encode(words))
        return self.reply()


# Blocking pops with several clients: each a list of (client, command).
# "!CMD" sends a command that blocks (its reply is read later with "?");
# the next step waits until the server counts the client as blocked.
# Redis serves blocked clients only after the pushing command, or after the
# whole EXEC, from the keys in the order they became ready.
BLOCKING = {
    "exec then del": [(0, "!BLPOP k1 k2 k1 0"), (1, "MULTI"), (1, "RPUSH k1 x"),
                      (1, "RPUSH k2 y"), (1, "DEL k1"), (1, "EXEC"), (0, "?"),
                      (1, "EXISTS k1 k2")],
    "exec two pushes": [(0, "!BLPOP k1 0"), (1, "MULTI"), (1, "RPUSH k1 x"),
                        (1, "RPUSH k1 y"), (1, "EXEC"), (0, "?"), (1, "LRANGE k1 0 -1")],
    "lpush several values": [(0, "!BLPOP k 0"), (2, "!BRPOP k 0"), (1, "LPUSH k a b c"),
                             (0, "?"), (2, "?"), (1, "LRANGE k 0 -1")],
    "several keys, ready order": [(0, "!BRPOP k1 k2 0"), (2, "!BLPOP k2 0"), (1, "MULTI"),
                                  (1, "RPUSH k2 a b"), (1, "RPUSH k1 c"), (1, "EXEC"),
                                  (0, "?"), (2, "?"), (1, "LRANGE k1 0 -1"),
                                  (1, "LRANGE k2 0 -1")],
    "rename onto a waited key": [(0, "!BLPOP dst 0"), (1, "RPUSH src a b"),
                                 (1, "RENAME src dst"), (0, "?"), (1, "LRANGE dst 0 -1")],
    "one value, two waiters": [(0, "!BLPOP k 0"), (2, "!BLPOP k 0"), (1, "RPUSH k x"),
                               (0, "?"), (1, "LLEN k"), (1, "RPUSH k y"), (2, "?")],
    "wrong type at exec end": [(0, "!BLPOP k 0"), (1, "MULTI"), (1, "RPUSH k x"),
                               (1, "DEL k"), (1, "SET k s"), (1, "EXEC"), (1, "DEL k"),
                               (1, "RPUSH k z"), (0, "?")],
    # timeouts that block for ever: -0.0001 rounds up to 0; huge ones never come
    "timeout -0.0001": [(0, "!BLPOP q -0.0001"), (1, "RPUSH q x"), (0, "?")],
    "timeout 1e10": [(0, "!BRPOP q 1e10"), (1, "RPUSH q x"), (0, "?")],
    "timeout near LLONG_MAX ms": [(0, "!BLPOP q 9223372036854775.807"), (1, "RPUSH q x"),
                                  (0, "?")],
    "blpop inside exec": [(1, "RPUSH k a"), (1, "MULTI"), (1, "BLPOP k 0"), (1, "BLPOP k 0"),
                          (1, "EXEC")],
}


def blocked_clients(conn):
    _, info = conn.call(["INFO", "clients"])
    for line in info.split(b"\r\n"):
        if line.startswith(b"blocked_clients:"):
            return int(line.split(b":")[1])
    raise AssertionError("no blocked_clients in INFO")


def run_blocking(port, steps):
    """Runs steps on fresh connections; returns every reply's raw bytes."""
    conns = {}
    ctl = Conn(port)
    ctl.call(["FLUSHALL"])
    out, nblocked = [], 0
    for who, cmd in steps:
        c = conns.setdefault(who, Conn(port))
        if cmd == "?":
            c.s.settimeout(2)
            try:
                out.append((who, cmd, c.reply()[0]))
            except TimeoutError:
                out.append((who, cmd, b"(still blocked)"))
                break
            nblocked -= 1
        elif cmd.startswith("!"):
            c.s.sendall(encode(split(cmd[1:])))
            nblocked += 1
            deadline = time.monotonic() + 5
            while blocked_clients(ctl) != nblocked:
                if time.monotonic() > deadline:
                    raise AssertionError("%s did not block" % cmd)
                time.sleep(0.005)
        else:
            out.append((who, cmd, c.call(split(cmd))[0]))
    for c in list(conns.values()) + [ctl]:
        c.s.close()
    return out


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@unittest.skipUnless(shutil.which("redis-server"), "redis-server not installed")
class CompatTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.redis = subprocess.Popen(["redis-server", "--port", str(cls.port), "--save", "",
                                      "--appendonly", "no", "--bind", "127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", cls.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        cls.sim = Stagesim()

    @classmethod
    def tearDownClass(cls):
        cls.redis.terminate()
        cls.redis.wait(10)
        assert cls.sim.stop() == 0

    def test_script(self):
        real, ours = Conn(self.port), Conn(self.sim.redis_port)
        real.call(["FLUSHALL"])
        diffs = []
        for mode, cmd in SCRIPT:
            words = split(cmd)
            r_raw, r_p = real.call(words)
            o_raw, o_p = ours.call(words)
            if mode == EXACT:
                same = r_raw == o_raw
            elif mode == SORTED:
                same = (isinstance(r_p, list) and isinstance(o_p, list) and
                        sorted(x for x, _ in r_p) == sorted(x for x, _ in o_p))
            else:
                same = r_raw[:1] == o_raw[:1]
            if not same:
                diffs.append("%s\n   redis:    %r\n   stagesim: %r" % (cmd, r_raw, o_raw))
        real.s.close()
        ours.s.close()
        self.assertEqual(diffs, [], "replies differ:\n" + "\n".join(diffs))

    def test_blocking_pops(self):
        diffs = []
        for name, steps in BLOCKING.items():
            real, ours = run_blocking(self.port, steps), run_blocking(self.sim.redis_port, steps)
            if len(real) != len(ours):
                diffs.append("%s: %d replies from redis, %d from stagesim" % (name, len(real), len(ours)))
            for r, o in zip(real, ours):
                if r != o:
                    diffs.append("%s: client %d %s\n   redis:    %r\n   stagesim: %r"
                                 % (name, r[0], r[1], r[2], o[2]))
        self.assertEqual(diffs, [], "replies differ:\n" + "\n".join(diffs))

    def test_many_elements(self):
        # Redis 7 takes up to INT_MAX elements per command (2**31 is refused)
        n = 1024 * 1024 + 1
        cmd = b"*%d\r\n$5\r\nRPUSH\r\n$3\r\nbig\r\n" % n + b"$1\r\nx\r\n" * (n - 2)
        outs = []
        for port in (self.port, self.sim.redis_port):
            c = Conn(port)
            c.call(["DEL", "big"])
            c.s.sendall(cmd)
            outs.append((c.reply()[0], c.call(["DEL", "big"])[0]))
            c.s.close()
        self.assertEqual(outs[1], outs[0])
        self.assertEqual(outs[1], (b":1048575\r\n", b":1\r\n"))

    def test_protocol_errors(self):
        for data in [b"*1\r\n:1\r\n", b"*abc\r\n", b"*1\r\n$-5\r\n", b"*1\r\n$x\r\n",
                     b"set a \"b\r\n", b"*1\r\n$4000000000\r\n", b"*1\r\nx\r\n",
                     b"*2147483648\r\n"]:
            outs = []
            for port in (self.port, self.sim.redis_port):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(data)
                out = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    out += chunk
                s.close()
                outs.append(out)
            self.assertEqual(outs[1], outs[0], "for %r" % data)


if __name__ == "__main__":
    unittest.main()
