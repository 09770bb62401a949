"""The Redis impersonation through real clients: redis-py and redis-cli
against a running stagesim (started by stagesim.Stagesim on free ports)."""
import socket
import subprocess
import threading
import time
import unittest

import redis

from stagesim import Stagesim


def raw(port, data, timeout=5.0, expect_close=False):
    """Sends bytes, returns everything read until the server closes (or a
    short quiet period when expect_close is False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    out = b""
    s.settimeout(0.5 if not expect_close else timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        if expect_close:
            raise
    s.close()
    return out


class RedisTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()
        cls.r = redis.Redis(host="127.0.0.1", port=cls.sim.redis_port, socket_timeout=5)

    @classmethod
    def tearDownClass(cls):
        cls.r.close()
        code = cls.sim.stop()
        assert code == 0, "stagesim exit code %r" % code

    def setUp(self):
        self.r.flushall()

    def test_strings_and_expiry(self):
        r = self.r
        self.assertTrue(r.ping())
        self.assertEqual(r.echo("hi"), b"hi")
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.get("k"), b"v")
        self.assertTrue(r.set("t", "x", ex=100))
        self.assertTrue(95 <= r.ttl("t") <= 100)
        self.assertTrue(r.setex("s", 1, "y"))
        self.assertTrue(0 < r.pttl("s") <= 1000)
        self.assertEqual(r.ttl("k"), -1)
        self.assertEqual(r.ttl("missing"), -2)
        self.assertEqual(r.incr("n"), 1)
        self.assertEqual(r.incr("n"), 2)
        self.assertTrue(r.expire("n", 100))
        self.assertEqual(r.exists("k", "n", "nope"), 2)
        self.assertEqual(r.delete("k", "nope"), 1)
        r.psetex("gone", 50, "z")
        time.sleep(0.15)
        self.assertIsNone(r.get("gone"))
        self.assertEqual(r.dbsize(), 3)

    def test_binary_safe(self):
        v = bytes(range(256)) * 100
        self.r.set(b"bin\x00key", v)
        self.assertEqual(self.r.get(b"bin\x00key"), v)

    def test_lists_hashes_keys(self):
        r = self.r
        self.assertEqual(r.rpush("thread:t1:messages", "a", "b"), 2)
        self.assertEqual(r.lpush("thread:t1:messages", "z"), 3)
        self.assertEqual(r.lrange("thread:t1:messages", 0, -1), [b"z", b"a", b"b"])
        self.assertEqual(r.hset("agent_state:1", mapping={"a": "1", "b": "2"}), 2)
        self.assertEqual(r.hget("agent_state:1", "a"), b"1")
        self.assertEqual(r.hgetall("agent_state:1"), {b"a": b"1", b"b": b"2"})
        for i in range(50):
            r.set("session:%d" % i, i)
        self.assertEqual(len(r.keys("session:*")), 50)
        self.assertEqual(sorted(r.scan_iter(match="session:1*", count=7)),
                         sorted(("session:%d" % i).encode() for i in [1] + list(range(10, 20))))
        with self.assertRaises(redis.ResponseError) as cm:
            r.lpush("session:1", "x")
        self.assertIn("WRONGTYPE", str(cm.exception))

    def test_select_and_dbs(self):
        r0 = redis.Redis(port=self.sim.redis_port, db=0)
        r3 = redis.Redis(port=self.sim.redis_port, db=3)
        r3.set("only3", "x")
        self.assertIsNone(r0.get("only3"))
        self.assertEqual(r3.get("only3"), b"x")
        with self.assertRaises(redis.ResponseError) as cm:
            r0.execute_command("SELECT", 16)
        self.assertEqual(str(cm.exception), "DB index is out of range")
        r3.flushdb()
        self.assertEqual(r3.dbsize(), 0)

    def test_pipeline(self):
        p = self.r.pipeline(transaction=False)
        for i in range(1000):
            p.set("p%d" % i, i)
            p.get("p%d" % i)
        res = p.execute()
        self.assertEqual(res[1::2], [str(i).encode() for i in range(1000)])

    def test_transaction_and_watch(self):
        with self.r.pipeline() as p:
            p.incr("c").incr("c")
            self.assertEqual(p.execute(), [1, 2])
        other = redis.Redis(port=self.sim.redis_port)
        with self.r.pipeline() as p:
            p.watch("c")
            other.set("c", 10)
            p.multi()
            p.incr("c")
            with self.assertRaises(redis.WatchError):
                p.execute()

    def test_pubsub_and_blocking(self):
        ps = self.r.pubsub()
        ps.subscribe("news")
        self.assertEqual(ps.get_message(timeout=2)["type"], "subscribe")
        self.assertEqual(self.r.publish("news", "hello"), 1)
        msg = ps.get_message(timeout=2)
        self.assertEqual((msg["channel"], msg["data"]), (b"news", b"hello"))
        ps.close()
        popper = redis.Redis(port=self.sim.redis_port)
        t = threading.Timer(0.2, lambda: self.r.rpush("q", "job"))
        t.start()
        self.assertEqual(popper.blpop(["q"], timeout=5), (b"q", b"job"))
        t.join()
        self.assertIsNone(popper.brpop(["empty"], timeout=0.2))

    def test_errors_on_the_wire(self):
        port = self.sim.redis_port
        self.assertEqual(raw(port, b"NOSUCH a b\r\n"),
                         b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n")
        self.assertEqual(raw(port, b"*1\r\n$3\r\nGET\r\n"),
                         b"-ERR wrong number of arguments for 'get' command\r\n")
        # malformed RESP: error, then the server closes the connection
        self.assertEqual(raw(port, b"*1\r\n:5\r\n", expect_close=True),
                         b"-ERR Protocol error: expected '$', got ':'\r\n")
        self.assertEqual(raw(port, b"*abc\r\n", expect_close=True),
                         b"-ERR Protocol error: invalid multibulk length\r\n")
        self.assertEqual(raw(port, b"PING\r\n*1\r\n$999999999999\r\n", expect_close=True),
                         b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")
        # the server is still fine for everyone else
        self.assertTrue(self.r.ping())

    def test_inline_and_quit(self):
        out = raw(self.sim.redis_port, b"SET a \"x y\"\r\nGET a\r\nQUIT\r\nPING\r\n", expect_close=True)
        self.assertEqual(out, b"+OK\r\n$3\r\nx y\r\n+OK\r\n")

    def test_client_info_config_command(self):
        r = self.r
        self.assertTrue(r.client_setname("me"))
        self.assertIn(r.client_getname(), ("me", b"me"))
        self.assertIsInstance(r.client_id(), int)
        info = r.info()
        self.assertEqual(info["redis_version"], "7.0.15")
        self.assertIn("connected_clients", info)
        self.assertEqual(r.config_get("databases"), {"databases": "16"})
        self.assertGreater(r.command_count(), 50)

    def test_redis_benchmark_runs_clean(self):
        """redis-benchmark's issue-3 test list at -P 1 and -P 16 (short runs:
        correctness, not speed): every test reports a rate, none an error."""
        tests = ("ping_inline,ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,"
                 "lrange_100,mset")
        for pipeline in ("1", "16"):
            r = subprocess.run(["redis-benchmark", "-p", str(self.sim.redis_port), "-t", tests, "-n", "2000",
                                "-c", "20", "-P", pipeline, "--csv"], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("ERR", r.stdout + r.stderr)
            rates = {}
            for line in r.stdout.splitlines()[1:]:
                name, rps = [f.strip('"') for f in line.split(",")[:2]]
                rates[name] = float(rps)
            want = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP",
                    "SADD", "HSET", "SPOP", "ZADD", "LRANGE_100 (first 100 elements)", "MSET (10 keys)"]
            for name in want:
                self.assertGreater(rates.get(name, 0), 0, "%s at -P %s: %s" % (name, pipeline, r.stdout))

    def test_redis_cli(self):
        port = str(self.sim.redis_port)
        def cli(*args):
            return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True,
                                  text=True, timeout=10).stdout
        self.assertEqual(cli("ping").strip(), "PONG")
        self.assertEqual(cli("set", "cli", "v").strip(), "OK")
        self.assertEqual(cli("get", "cli").strip(), "v")
        self.assertEqual(cli("rpush", "l", "1", "2").strip(), "2")
        self.assertEqual(cli("lrange", "l", "0", "-1").split(), ["1", "2"])
        self.assertIn("unknown command", cli("bogus"))


def closed_within(sock, seconds):
    """True once the server closes sock (recv gives b""), False if it is
    still open after `seconds`; the only wait is on the socket itself."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


class IdleTimeoutAndMemory(unittest.TestCase):
    """CONFIG SET timeout reaps idle clients as Redis does (subscribers and
    blocked clients spared); INFO used_memory follows what is stored; Redis
    listens on IPv6 and names too."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Stagesim()

    @classmethod
    def tearDownClass(cls):
        code = cls.sim.stop()
        assert code == 0, "stagesim exit code %r" % code

    def test_timeout_reaps_idle_clients_only(self):
        admin = redis.Redis(host="127.0.0.1", port=self.sim.redis_port, socket_timeout=10)
        idle = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        sub = redis.Redis(host="127.0.0.1", port=self.sim.redis_port).pubsub()
        sub.subscribe("news")
        self.assertEqual(sub.get_message(timeout=5)["type"], "subscribe")
        blocked = socket.create_connection(("127.0.0.1", self.sim.redis_port), timeout=5)
        blocked.sendall(b"*3\r\n$5\r\nBLPOP\r\n$5\r\nnever\r\n$1\r\n0\r\n")
        try:
            self.assertTrue(admin.config_set("timeout", 1))
            self.assertTrue(closed_within(idle, 10), "an idle client is closed after the timeout")
            # The idle one went (admin too, as silent meanwhile: a new one);
            # the subscriber and the blocked client were just as silent for
            # as long, and are still there.
            admin.close()
            admin = redis.Redis(host="127.0.0.1", port=self.sim.redis_port, socket_timeout=10)
            self.assertEqual(admin.publish("news", "still here"), 1)
            self.assertEqual(sub.get_message(timeout=5)["data"], b"still here")
            admin.rpush("never", "x")
            blocked.settimeout(5)
            self.assertTrue(blocked.recv(64).startswith(b"*2\r\n$5\r\nnever"))
        finally:
            admin.config_set("timeout", 0)
            for s in (idle, blocked):
                s.close()
            sub.close()
            admin.close()

    def test_used_memory_follows_the_data(self):
        r = redis.Redis(host="127.0.0.1", port=self.sim.redis_port, socket_timeout=10)
        try:
            before = r.info("memory")["used_memory"]
            with r.pipeline(transaction=False) as p:
                for i in range(2000):
                    p.set("mem:%d" % i, "x" * 1000)
                p.execute()
            grown = r.info("memory")["used_memory"]
            self.assertGreater(grown - before, 1500 * 1000, "2 MB stored shows in used_memory")
            self.assertGreaterEqual(r.info("memory")["used_memory_peak"], grown)
        finally:
            r.flushall()
            r.close()

    def test_listens_on_ipv6_and_names(self):
        for bind, host in (("::1", "::1"), ("localhost", "localhost")):
            with Stagesim(bind=bind) as sim:
                r = redis.Redis(host=host, port=sim.redis_port, socket_timeout=5)
                try:
                    self.assertTrue(r.ping(), bind)
                finally:
                    r.close()


if __name__ == "__main__":
    unittest.main()
