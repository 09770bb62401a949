"""docs/errors.md as tests: every bad input it lists, sent to the simulator
with a real client, gets the answer the catalogue gives it, and does not
disturb anyone else: before each one a witness starts a chat run on its own
WebSocket and writes a key on its own Redis connection; after it, that run
completes in order (agent_started ... agent_completed, one run id, the
prompt's answer) and the same Redis session reads its key back.

The table below and the catalogue hold the same ids: a case missing from
either side fails. ERRORS_DUMP=1 prints what each case observed."""
import json
import os
import re
import socket
import struct
import tempfile
import unittest

import httpx

from stagesim import Stagesim
from support import SOURCE_ROOT
from errors_clients import (BAD_FORMAT, BAD_JSON, BAD_REQUEST, CONTROL_TOKEN, Ctx, DETAIL,
                           NOT_FOUND, SCENARIO, SCN_ERR, WELCOME, Witness, get, pydantic, raw_http,
                           raw_redis, raw_ws, read_http, scn, status_json, tok, upgrade, ws_frame)


# id : (what is sent, the answer). Ids are those of docs/errors.md.
CASES = {
    # ---- backend HTTP ---------------------------------------------------------
    "H1": (lambda c: status_json(c.backend("GET", "/no/such/route")), NOT_FOUND),
    "H2": (lambda c: status_json(c.backend("DELETE", "/health")),
           (405, DETAIL("Method Not Allowed"))),
    "H3": (lambda c: raw_http(c.sim.backend_port, b"GARBAGE\r\n\r\n"), BAD_REQUEST),
    "H4": (lambda c: raw_http(c.sim.backend_port, b"GET /health\r\nHost: x\r\n\r\n"), BAD_REQUEST),
    "H5": (lambda c: raw_http(c.sim.backend_port, b"GET /health HTTP/1.1\r\n\r\n"), BAD_REQUEST),
    "H6": (lambda c: raw_http(c.sim.backend_port, b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n"),
           (505, DETAIL("HTTP Version Not Supported"))),
    "H7": (lambda c: raw_http(c.sim.backend_port, b"GET /health HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n"),
           BAD_REQUEST),
    "H8": (lambda c: raw_http(c.sim.backend_port, b"GET /health HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n"),
           BAD_REQUEST),
    "H9": (lambda c: raw_http(c.sim.backend_port, b"GET /health HTTP/1.1\r\nHost: x\r\nX: "
                              + b"a" * 17000 + b"\r\n\r\n"),
           (431, DETAIL("Request Header Fields Too Large"))),
    "H10": (lambda c: raw_http(c.sim.backend_port, b"POST /api/threads/create HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            BAD_REQUEST),
    "H11": (lambda c: keepalive_second(c, b"POST /api/threads/create HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Length: 3\r\nContent-Length: 5\r\n\r\nabc"),
            BAD_REQUEST),
    "H12": (lambda c: raw_http(c.sim.backend_port, b"POST /api/threads/create HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: abc\r\n\r\n"), BAD_REQUEST),
    "H13": (lambda c: raw_http(c.sim.backend_port, b"POST /api/threads/create HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: gzip\r\n\r\n"),
            (501, DETAIL("Not Implemented"))),
    "H14": (lambda c: raw_http(c.sim.backend_port, b"FOO /health HTTP/1.1\r\nHost: x\r\n\r\n"),
            (405, DETAIL("Method Not Allowed"))),
    "H15": (lambda c: raw_http(c.sim.backend_port, get(b"/%zz")), NOT_FOUND),
    "H16": (lambda c: status_json(c.backend("POST", "/api/threads/create",
                                            content=b"x" * (70 * 1024))),
            (413, DETAIL("Request body too large"))),
    "H17": (lambda c: status_json(c.backend("POST", "/api/threads/create")),
            (401, DETAIL("Not authenticated"))),
    "H18": (lambda c: status_json(c.backend("POST", "/api/threads/create", token="garbage")),
            (401, DETAIL("Invalid authentication credentials"))),
    "H19": (lambda c: status_json(c.backend("POST", "/api/threads/create", token=c.expired)),
            (401, DETAIL("Token has expired"))),
    "H20": (lambda c: status_json(c.backend("POST", "/api/threads/create", token=c.revoked)),
            (401, DETAIL("Token has been revoked"))),
    "H21": (lambda c: status_json(c.backend("POST", "/api/threads/create", token=c.alg_none)),
            (401, DETAIL("Invalid authentication credentials"))),
    "H22": (lambda c: status_json(c.backend("POST", "/api/threads/create",
                                            token=c.other_secret)),
            (401, DETAIL("Invalid authentication credentials"))),
    "H23": (lambda c: status_json(c.backend("POST", "/api/threads/create",
                                            token=c.alice["refresh_token"])),
            (401, DETAIL("Invalid authentication credentials"))),
    "H24": (lambda c: status_json(c.backend("GET", "/api/threads/a$b/validate", token=c.token())),
            NOT_FOUND),
    "H25": (lambda c: status_json(c.backend("GET", "/api/threads/%s/messages" % ("t" * 200),
                                            token=c.token())), NOT_FOUND),
    "H26": (lambda c: status_json(c.backend("GET", "/api/threads/%s/messages" % c.bob_thread,
                                            token=c.token())),
            (404, DETAIL("Thread not found"))),
    "H27": (lambda c: status_json(c.backend("GET", "/health/nope")), NOT_FOUND),
    "H28": (lambda c: body_then_next(c, 20000), ((200, "thread_"), (200, {"status": "ok"}))),

    # ---- backend WebSocket -------------------------------------------------------
    "W1": (lambda c: c.chat(["hello"]), [WELCOME, BAD_JSON, "pong"]),
    "W2": (lambda c: c.chat(['{"type":"ping"} trailing']), [WELCOME, BAD_JSON, "pong"]),
    "W3": (lambda c: c.chat([""]), [WELCOME, BAD_JSON, "pong"]),
    "W4": (lambda c: c.chat(["[" * 5000]), [WELCOME, BAD_JSON, "pong"]),
    "W5": (lambda c: c.chat(["[1,2]"]), [WELCOME, BAD_FORMAT, "pong"]),
    "W6": (lambda c: c.chat(['{"message":"hi"}']), [WELCOME, BAD_FORMAT, "pong"]),
    "W7": (lambda c: c.chat(['{"type":5}']), [WELCOME, BAD_FORMAT, "pong"]),
    "W8": (lambda c: c.chat(["null"]), [WELCOME, BAD_FORMAT, "pong"]),
    "W9": (lambda c: c.chat(['{"type":"frobnicate"}']), [WELCOME, ("ack", "frobnicate"), "pong"]),
    "W10": (lambda c: c.chat([b'{"type":"t\xff"}']), [WELCOME, ("ack", "t\u00ff"), "pong"]),
    "W11": (lambda c: c.chat(['{"type":"user_message"}']), [WELCOME, "pong"]),
    "W12": (lambda c: c.chat(['{"type":"start_agent","payload":{}}']), [WELCOME, "pong"]),
    "W13": (lambda c: c.chat(['{"type":"user_message","message":5}']), [WELCOME, "pong"]),
    "W14": (lambda c: c.chat(["x" * 8193], until_close=True),
            [WELCOME, ("close", 1009, "Message too big")]),
    "W15": (lambda c: c.chat([["x" * 3000] * 4], until_close=True),
            [WELCOME, ("close", 1009, "Message too big")]),
    "W16": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(1, b'{"type":"\xff"}')),
            ("close", 1007, "bad utf8")),
    "W17": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(3, b"x")),
            ("close", 1002, "bad opc")),
    "W18": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(1, b"{}", rsv=0x40)),
            ("close", 1002, "rsv bits")),
    "W19": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(9, b"x", fin=False)),
            ("close", 1002, "frag ctl")),
    "W20": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(0, b"x")),
            ("close", 1002, "bad cont")),
    "W21": (lambda c: raw_ws(c.sim.backend_port, c.token(), ws_frame(8, struct.pack("!H", 999))),
            ("close", 1002, "")),
    "W22": (lambda c: c.ws(query="?token=garbage", until_close=True),
            [("error_message", "AUTH_FAILED", "Authentication failed: Invalid token"),
             ("close", 1008, "Authentication failed")]),
    "W23": (lambda c: c.ws(query="?token=" + c.expired, until_close=True),
            [("error_message", "AUTH_FAILED", "Authentication failed: Token has expired"),
             ("close", 1008, "Authentication failed")]),
    "W24": (lambda c: c.ws(query="?token=" + c.revoked, until_close=True),
            [("error_message", "AUTH_FAILED", "Authentication failed: Token has been revoked"),
             ("close", 1008, "Authentication failed")]),
    "W25": (lambda c: c.ws(headers={"Authorization": "Bearer " + c.alg_none}, until_close=True),
            [("error_message", "AUTH_FAILED", "Authentication failed: Invalid token"),
             ("close", 1008, "Authentication failed")]),
    "W26": (lambda c: c.ws(subprotocols=["chat"], until_close=True),
            [("close", 1003, "No supported subprotocols")]),
    "W27": (lambda c: c.ws(path="/wsx"), [("http", 404)]),
    "W28": (lambda c: raw_http(c.sim.backend_port, upgrade(version=b"Sec-WebSocket-Version: 8\r\n")),
            (426, DETAIL("Unsupported WebSocket version"))),
    "W29": (lambda c: raw_http(c.sim.backend_port, upgrade(key=b"")),
            (400, DETAIL("Missing or invalid Sec-WebSocket-Key header"))),
    "W30": (lambda c: raw_http(c.sim.backend_port, upgrade(key=b"Sec-WebSocket-Key: abc\r\n")),
            (400, DETAIL("Missing or invalid Sec-WebSocket-Key header"))),
    "W31": (lambda c: raw_http(c.sim.backend_port, upgrade(connection=b"")),
            (400, DETAIL("Missing Connection: Upgrade header"))),
    "W32": (lambda c: raw_http(c.sim.backend_port, upgrade(method=b"POST")), NOT_FOUND),
    "W33": (lambda c: c.chat([json.dumps({"type": "user_message", "message": "mine",
                                          "thread_id": c.bob_thread})]),
            [WELCOME, ("error_message", "AUTH_FAILED",
                       "Thread %s belongs to another user" % "{bob_thread}"), "pong"]),
    "W34": (lambda c: c.chat([json.dumps({"type": "user_message", "message": "m%d" % i})
                              for i in range(150)], until_close=True)[-1],
            ("close", 1013, "Too many pending messages")),

    # ---- auth service --------------------------------------------------------
    "A1": (lambda c: pydantic(c.auth("POST", "/auth/login", content=b"{nope",
                                     headers={"content-type": "application/json"})),
           (422, "json_invalid", 2)),
    "A2": (lambda c: pydantic(c.auth("POST", "/auth/login", json={})),
           (422, "missing", "email")),
    "A3": (lambda c: pydantic(c.auth("POST", "/auth/login",
                                     json={"email": "alice@example.com"})),
           (422, "missing", "password")),
    "A4": (lambda c: pydantic(c.auth("POST", "/auth/login", json={"email": 1, "password": "x"})),
           (422, "string_type", "email")),
    "A5": (lambda c: pydantic(c.auth("POST", "/auth/login", json=[1, 2])),
           (422, "model_attributes_type", "body")),
    "A6": (lambda c: status_json(c.auth("POST", "/auth/login",
                                        json={"email": "alice@example.com", "password": "no"})),
           (401, DETAIL("Invalid credentials"))),
    "A7": (lambda c: status_json(c.auth("POST", "/auth/login",
                                        content=b"{" + b" " * (2 << 20) + b"}")),
           (413, DETAIL("Request body too large"))),
    "A8": (lambda c: status_json(c.auth("POST", "/auth/register",
                                        json={"email": "alice@example.com", "password": "pw"})),
           (409, DETAIL("User already exists"))),
    "A9": (lambda c: pydantic(c.auth("POST", "/auth/register",
                                     json={"email": "not-an-email", "password": "pw"})),
           (422, "value_error", "email")),
    "A10": (lambda c: pydantic(c.auth("POST", "/auth/refresh")), (422, "missing", "body")),
    "A11": (lambda c: status_json(c.auth("POST", "/auth/refresh",
                                         json={"refresh_token": c.token()})),
            (401, DETAIL("Invalid refresh token"))),
    "A12": (lambda c: status_json(c.auth("POST", "/auth/refresh",
                                         json={"refresh_token": "garbage"})),
            (401, DETAIL("Invalid refresh token"))),
    "A13": (lambda c: verdict(c.auth("POST", "/auth/validate", json={"token": "garbage"})),
            (200, False, "invalid_token")),
    "A14": (lambda c: verdict(c.auth("POST", "/auth/validate")), (200, False, "missing_token")),
    "A15": (lambda c: verdict(c.auth("POST", "/auth/validate", json={"token": c.alg_none})),
            (200, False, "invalid_token")),
    "A16": (lambda c: verdict(c.auth("POST", "/auth/validate", json={"token": c.expired})),
            (200, False, "token_expired")),
    "A17": (lambda c: verdict(c.auth("POST", "/auth/validate", json={"token": c.wrong_aud})),
            (200, False, "invalid_token")),
    "A18": (lambda c: status_json(c.auth("GET", "/auth/me")), (401, DETAIL("Not authenticated"))),
    "A19": (lambda c: status_json(c.auth("GET", "/auth/me",
                                         headers={"Authorization": "Bearer " + c.revoked})),
            (401, DETAIL("Token has been revoked"))),
    "A20": (lambda c: status_json(c.auth("POST", "/auth/e2e/test-auth")),
            (401, DETAIL("E2E bypass key required"))),
    "A21": (lambda c: status_json(c.auth("POST", "/auth/e2e/test-auth",
                                         headers={"X-E2E-Bypass-Key": "wrong"})),
            (401, DETAIL("Invalid E2E bypass key"))),
    "A22": (lambda c: status_json(c.auth("GET", "/auth/login")),
            (405, DETAIL("Method Not Allowed"))),
    "A23": (lambda c: status_json(c.auth("GET", "/nope")), NOT_FOUND),
    "A24": (lambda c: raw_http(c.sim.auth_port, b"GARBAGE\r\n\r\n"), BAD_REQUEST),
    "A25": (lambda c: raw_http(c.sim.auth_port, b"GET /health HTTP/1.1\r\n\r\n"), BAD_REQUEST),
    "A26": (lambda c: raw_http(c.sim.auth_port, b"POST /auth/login HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: -1\r\n\r\n"), BAD_REQUEST),
    "A27": (lambda c: raw_http(c.sim.auth_port, b"GET /health HTTP/1.1\r\nHost: x\r\nX: "
                               + b"a" * 17000 + b"\r\n\r\n"),
            (431, DETAIL("Request Header Fields Too Large"))),
    "A28": (lambda c: raw_http(c.sim.auth_port, b"GET /health HTTP/3.0\r\nHost: x\r\n\r\n"),
            (505, DETAIL("HTTP Version Not Supported"))),
    "A29": (lambda c: raw_http(c.sim.auth_port, b"POST /auth/login HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"0\r\n\r\n"), BAD_REQUEST),

    # ---- Redis --------------------------------------------------------------------
    "R1": (lambda c: raw_redis(c.sim.redis_port, b"FOO bar\r\n"),
           ("-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n", "open")),
    "R2": (lambda c: raw_redis(c.sim.redis_port, b"GET\r\n"),
           ("-ERR wrong number of arguments for 'get' command\r\n", "open")),
    "R3": (lambda c: raw_redis(c.sim.redis_port, b"SET errors:s v\r\nLPUSH errors:s x\r\nDEL errors:s\r\n"),
           ("+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:1\r\n",
            "open")),
    "R4": (lambda c: raw_redis(c.sim.redis_port, b"SET errors:n abc\r\nINCR errors:n\r\nDEL errors:n\r\n"),
           ("+OK\r\n-ERR value is not an integer or out of range\r\n:1\r\n", "open")),
    "R5": (lambda c: raw_redis(c.sim.redis_port, b"*abc\r\n"),
           ("-ERR Protocol error: invalid multibulk length\r\n", "closed")),
    "R6": (lambda c: raw_redis(c.sim.redis_port, b"*1\r\n$-5\r\n"),
           ("-ERR Protocol error: invalid bulk length\r\n", "closed")),
    "R7": (lambda c: raw_redis(c.sim.redis_port, b"*1\r\n$600000000\r\n"),
           ("-ERR Protocol error: invalid bulk length\r\n", "closed")),
    "R8": (lambda c: raw_redis(c.sim.redis_port, b"*1\r\nx\r\n"),
           ("-ERR Protocol error: expected '$', got 'x'\r\n", "closed")),
    "R9": (lambda c: raw_redis(c.sim.redis_port, b'SET "k v\r\n'),
           ("-ERR Protocol error: unbalanced quotes in request\r\n", "closed")),
    "R10": (lambda c: raw_redis(c.sim.redis_port, b"x" * 70000, ping=False),
            ("-ERR Protocol error: too big inline request\r\n", "closed")),
    "R11": (lambda c: raw_redis(c.sim.redis_port, b"AUTH pw\r\n"),
            ("-ERR AUTH <password> called without any password configured for the default "
             "user. Are you sure your configuration is correct?\r\n", "open")),
    "R12": (lambda c: raw_redis(c.sim.redis_port, b"SET k v XX NX\r\n"), ("-ERR syntax error\r\n", "open")),
    "R13": (lambda c: raw_redis(c.sim.redis_port, b"SELECT 99\r\n"),
            ("-ERR DB index is out of range\r\n", "open")),
    "R14": (lambda c: raw_redis(c.sim.redis_port, b"EXEC\r\n"), ("-ERR EXEC without MULTI\r\n", "open")),
    "R15": (lambda c: raw_redis(c.sim.redis_port, b"MULTI\r\nMULTI\r\nDISCARD\r\n"),
            ("+OK\r\n-ERR MULTI calls can not be nested\r\n+OK\r\n", "open")),
    "R16": (lambda c: raw_redis(c.sim.redis_port, b"MULTI\r\nFOO\r\nEXEC\r\n"),
            ("+OK\r\n-ERR unknown command 'FOO', with args beginning with: \r\n"
             "-EXECABORT Transaction discarded because of previous errors.\r\n", "open")),
    "R17": (lambda c: raw_redis(c.sim.redis_port, b"SUBSCRIBE errors:c\r\nGET k\r\nUNSUBSCRIBE\r\n"),
            ("*3\r\n$9\r\nsubscribe\r\n$8\r\nerrors:c\r\n:1\r\n-ERR Can't execute 'get': only "
             "(P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
             "context\r\n*3\r\n$11\r\nunsubscribe\r\n$8\r\nerrors:c\r\n:0\r\n", "open")),
    "R18": (lambda c: raw_redis(c.sim.redis_port, b"CONFIG SET foo 1\r\n"),
            ("-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n", "open")),
    "R19": (lambda c: raw_redis(c.sim.redis_port, b"BLPOP errors:l -1\r\n"),
            ("-ERR timeout is negative\r\n", "open")),
    "R20": (lambda c: raw_redis(c.sim.redis_port, b"ZADD errors:z x m\r\n"),
            ("-ERR value is not a valid float\r\n", "open")),
    "R21": (lambda c: raw_redis(c.sim.redis_port, b"HELLO 3\r\n"),
            ("-NOPROTO unsupported protocol version\r\n", "open")),
    "R22": (lambda c: raw_redis(c.sim.redis_port, b"SETEX k -5 v\r\n"),
            ("-ERR invalid expire time in 'setex' command\r\n", "open")),
    "R23": (lambda c: raw_redis(c.sim.redis_port, b"SCAN x\r\n"), ("-ERR invalid cursor\r\n", "open")),
    "R24": (lambda c: raw_redis(c.sim.redis_port, b"RENAME errors:none x\r\n"),
            ("-ERR no such key\r\n", "open")),
    "R25": (lambda c: raw_redis(c.sim.redis_port, b"CLIENT KILL 1.2.3.4:5\r\n"),
            ("-ERR No such client\r\n", "open")),
    "R26": (lambda c: raw_redis(c.sim.redis_port, b"*1\r\n$3\r\nG\x00T\r\n"),
            ("-ERR unknown command 'G', with args beginning with: \r\n", "open")),

    # ---- control API -----------------------------------------------------------
    "C1": (lambda c: status_json(c.control("GET", "/status", auth=False)),
           (401, DETAIL("control API token required"))),
    "C2": (lambda c: status_json(c.control("GET", "/status", auth=False,
                                           headers={"Authorization": "Bearer wrong"})),
           (401, DETAIL("control API token required"))),
    "C3": (lambda c: status_json(c.control("POST", "/faults", content=b"{")),
           (400, DETAIL("body must be a JSON rule object or an array of rules"))),
    "C4": (lambda c: status_json(c.control("POST", "/faults", content=b'{"id":"g","on":"ws.send",'
                                           b'"action":{"kind":"drop"}} x')),
           (400, DETAIL("body must be a JSON rule object or an array of rules"))),
    "C5": (lambda c: status_json(c.control("POST", "/faults",
                                           json={"id": "a", "action": {"kind": "drop"}})),
           (422, DETAIL("rule.on: is required"))),
    "C6": (lambda c: status_json(c.control("POST", "/faults", json={
               "id": "a", "on": "ws.send", "action": {"kind": "explode"}})),
           (422, DETAIL('rule.action.kind: unknown action "explode"'))),
    "C7": (lambda c: status_json(c.control("POST", "/faults", json={
               "id": "a", "on": "ws.send", "action": {"kind": "close", "code": 1006}})),
           (422, DETAIL("rule.action.code: 1006 is not sendable (reserved for reporting a "
                        "missing or abnormal close)"))),
    "C8": (lambda c: status_json(c.control("POST", "/faults", json=[
               {"id": "errors-c8", "on": "ws.send", "match": {"name": "nothing"},
                "action": {"kind": "drop"}},
               {"id": "errors-c8b", "on": "ws.sendx", "action": {"kind": "drop"}}]))
           + (c.control("GET", "/faults/errors-c8").status_code,),
           (422, DETAIL('rule[1].on: unknown place "ws.sendx" (http.request, ws.accept, '
                        'ws.message, ws.send, auth.request, auth.token, redis.accept, '
                        'redis.command, redis.message, dep.connect)'), 404)),
    "C9": (lambda c: status_json(c.control("POST", "/faults", json={
               "id": "errors-dup", "on": "ws.send", "match": {"name": "nothing"},
               "action": {"kind": "drop"}})) and status_json(c.control("POST", "/faults", json={
               "id": "errors-dup", "on": "ws.send", "action": {"kind": "drop"}})),
           (422, DETAIL('rule.id: duplicate rule id "errors-dup"'))),
    "C10": (lambda c: status_json(c.control("DELETE", "/faults/nope")),
            (404, DETAIL("no such rule"))),
    "C11": (lambda c: status_json(c.control("GET", "/faults/nope")),
            (404, DETAIL("no such rule"))),
    "C12": (lambda c: status_json(c.control("GET", "/journal?since=abc")),
            (422, DETAIL("query parameter since must be a non-negative integer"))),
    "C13": (lambda c: status_json(c.control("GET", "/journal?limit=-1")),
            (422, DETAIL("query parameter limit must be a non-negative integer"))),
    "C14": (lambda c: status_json(c.control("GET", "/journal/wait")),
            (422, DETAIL("query parameter rule is required"))),
    "C15": (lambda c: status_json(c.control("GET", "/journal/wait?rule=x&count=abc")),
            (422, DETAIL("query parameter count must be a non-negative integer"))),
    "C16": (lambda c: status_json(c.control("GET", "/nope")), NOT_FOUND),
    "C17": (lambda c: status_json(c.control("PUT", "/faults")), (405, DETAIL("Method Not Allowed"))),
    "C18": (lambda c: status_json(c.control("POST", "/faults",
                                            content=b"[" + b" " * (2 << 20) + b"]")),
            (413, DETAIL("Request body too large"))),
    "C19": (lambda c: raw_http(c.sim.control_port, b"GARBAGE\r\n\r\n"), BAD_REQUEST),
    "C20": (lambda c: status_json(c.control("POST", "/faults",
                                            content=b'{"id":"\xff","on":"ws.send",'
                                                    b'"action":{"kind":"drop"}}')),
            (422, DETAIL("rule.id: must be 1-64 characters of A-Z a-z 0-9 - _ ."))),

    # ---- the scenario loader (stagesim validate, POST /scenario) -----------------
    "S1": (lambda c: c.scenario(b""), ((2, "stagesim: FILE: file is empty"),
                                       (422, DETAIL("scenario: invalid JSON at line 1, column 1")))),
    "S2": (lambda c: c.scenario(b'{"name": "x",\n "seed": }'),
           SCN_ERR("invalid JSON at line 2, column 10")),
    "S3": (lambda c: c.scenario(b"[1]"), SCN_ERR("must be an object, not an array")),
    "S4": (lambda c: c.scenario(scn(faultz=[])), SCN_ERR("faultz: unknown key")),
    "S5": (lambda c: c.scenario(scn(seed=-1)), SCN_ERR("seed: must be >= 0")),
    "S6": (lambda c: c.scenario(scn(profile="old")),
           SCN_ERR('profile: must be "current" or "legacy", not "old"')),
    "S7": (lambda c: c.scenario(scn(name=5)), SCN_ERR("name: must be a string, not a number")),
    "S8": (lambda c: c.scenario(scn(users=[{"id": "a", "email": "a@x", "password": "p"},
                                           {"id": "b", "email": "a@x", "password": "p"}])),
           SCN_ERR('users[1]: duplicate email "a@x"')),
    "S9": (lambda c: c.scenario(scn(users=[{"id": "u" * 128, "email": "a@x", "password": "p"}])),
           SCN_ERR("users[0].id: longer than 127 bytes")),
    "S10": (lambda c: c.scenario(scn(agent={"gap_ms": -1})), SCN_ERR("agent.gap_ms: must be >= 0")),
    "S11": (lambda c: c.scenario(scn(agent={"tools": []})), SCN_ERR("agent.tools: must not be empty")),
    "S12": (lambda c: c.scenario(scn(faults=[{"id": "f", "on": "websocket.send",
                                             "action": {"kind": "drop"}}])),
            SCN_ERR('faults[0].on: unknown place "websocket.send" (http.request, ws.accept, '
                    'ws.message, ws.send, auth.request, auth.token, redis.accept, '
                    'redis.command, redis.message, dep.connect)')),
    "S13": (lambda c: c.scenario(scn(faults=[{"id": "f", "on": "ws.send",
                                             "action": {"kind": "drop"}},
                                            {"id": "f", "on": "ws.send",
                                             "action": {"kind": "drop"}}])),
            SCN_ERR('faults[1].id: duplicate rule id "f"')),
    "S14": (lambda c: c.scenario(scn(faults=[{"id": "f", "on": "redis.command",
                                             "action": {"kind": "close"}}])),
            SCN_ERR('faults[0].action.kind: "close" does not apply on redis.command')),
    "S15": (lambda c: c.scenario(scn(network={"http_latency_ms": {"min": 5, "max": 1}})),
            SCN_ERR("network.http_latency_ms.min: must not be greater than max")),
    "S16": (lambda c: c.scenario(scn(redis={"port": 70000})),
            SCN_ERR("redis.port: must be <= 65535")),
    "S17": (lambda c: c.scenario(scn(websocket={"heartbeat_s": 10, "heartbeat_timeout_s": 5})),
            SCN_ERR("websocket.heartbeat_timeout_s: must be greater than heartbeat_s")),
    "S18": (lambda c: c.scenario(scn(expect={"checks": [{"id": "c", "step": "s",
                                                        "close_code": {"equals": 1000}}],
                                            "steps": [{"id": "s", "probe": "health"}]})),
            SCN_ERR('expect.checks[0].close_code: unknown matcher "equals" (eq, in, range, regex)')),
    "S19": (lambda c: c.scenario(b'{"nam\xe9": 1}'),
            ((2, "stagesim: FILE: nam\\xe9: unknown key"),
             (422, DETAIL("scenario: nam\u00e9: unknown key")))),
    "S20": (lambda c: c.scenario(scn(startup={"complete_ms": 100, "app_state_ms": 200})),
            SCN_ERR("startup.app_state_ms: must be less than complete_ms")),
}


def keepalive_second(c, second):
    """A later request of a keep-alive connection: the first is answered,
    then the answer to `second`, sent on the same connection."""
    s = socket.create_connection(("127.0.0.1", c.sim.backend_port), timeout=10)
    try:
        s.sendall(get(b"/health"))
        first = read_http(s)
        assert first[0] == 200, first
        s.sendall(second)
        return read_http(s)
    finally:
        s.close()


def body_then_next(c, size):
    """A POST with a body of `size` bytes, then a second request on the same
    connection: both answers (the first as its status and id's prefix)."""
    s = socket.create_connection(("127.0.0.1", c.sim.backend_port), timeout=10)
    try:
        s.sendall(b"POST /api/threads/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                  b"Content-Length: %d\r\n\r\n" % (tok(c), size) + b"x" * size)
        first = read_http(s)
        if isinstance(first[1], dict):
            first = (first[0], first[1].get("thread_id", "")[:7])
        s.sendall(get(b"/health"))
        return first, read_http(s)
    finally:
        s.close()


def verdict(r):
    body = r.json()
    return (r.status_code, body.get("valid"), body.get("error"))


def catalogue_ids():
    """The ids of docs/errors.md's tables, in order."""
    with open(os.path.join(SOURCE_ROOT, "docs", "errors.md")) as f:
        return re.findall(r"^\| ([HWARCS]\d+) \|", f.read(), re.M)


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        path = os.path.join(cls.dir.name, "errors.json")
        with open(path, "w") as f:
            json.dump(SCENARIO, f)
        cls.sim = Stagesim(scenario=path, control_token=CONTROL_TOKEN)
        cls.ctx = Ctx(cls.sim)
        cls.witness = Witness(cls.sim, cls.ctx.token())

    @classmethod
    def tearDownClass(cls):
        cls.witness.close()
        code = cls.sim.stop()
        cls.dir.cleanup()
        assert code == 0, cls.sim.stderr[-3000:]

    def test_catalogue_and_table_agree(self):
        ids = catalogue_ids()
        self.assertEqual(len(ids), len(set(ids)), "an id twice in docs/errors.md")
        self.assertEqual(sorted(ids), sorted(CASES), "docs/errors.md and CASES differ")
        self.assertGreaterEqual(len(ids), 60)
        for prefix in "HWARCS":
            self.assertTrue(any(i.startswith(prefix) for i in ids), prefix)

    def test_each_bad_input(self):
        dump = os.environ.get("ERRORS_DUMP")
        for case_id, (send, want) in CASES.items():
            with self.subTest(case=case_id):
                self.witness.start(case_id)
                try:
                    got = send(self.ctx)
                finally:
                    # Whatever the case did, the witness's run is read to
                    # its end, so that the next case starts afresh.
                    witness = self.witness.finish()
                if isinstance(want, list):
                    want = [tuple(w.replace("{bob_thread}", self.ctx.bob_thread)
                                  if isinstance(w, str) else w for w in x)
                            if isinstance(x, tuple) else x for x in want]
                if dump:
                    print("%s: %r" % (case_id, got))
                self.assertEqual(got, want)
                self.assertIsNone(witness, "the witness, after " + case_id)
        # And the services still answer as usual.
        self.assertEqual(httpx.get(self.sim.backend_url + "/health", timeout=10).json(),
                         {"status": "ok"})
        self.assertEqual(self.ctx.control("GET", "/status").status_code, 200)


if __name__ == "__main__":
    unittest.main()
