/* redis_conn.c -- connection and server commands: PING, ECHO, AUTH, HELLO,
 * CLIENT, QUIT, TIME, RESET, INFO, COMMAND, CONFIG. Error texts are Redis
 * 7.0's. */
#include "redis_conn.h"

#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
/* The sanitizer runtime's count; gcc 12 ships no header that declares it
 * (clang's sanitizer/allocator_interface.h does). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#define REDIS_VERSION "7.0.15"

void redis_cmd_ping(redis_ctx *x) {
    if (x->argc > 2) {
        redis_arity_error(x, "ping");
        return;
    }
    if (x->c->flags & SIM_RC_PUBSUB) {
        sim_resp_array(x->out, 2);
        sim_resp_bulk(x->out, "pong", 4);
        if (x->argc == 2)
            sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]);
        else
            sim_resp_bulk(x->out, "", 0);
        return;
    }
    if (x->argc == 2)
        sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]);
    else
        sim_buf_append(x->out, "+PONG\r\n", 7);
}

void redis_cmd_echo(redis_ctx *x) { sim_resp_bulk(x->out, x->argv[1], x->argvlen[1]); }

/* AUTH [user] pass against requirepass (user must be "default"). */
static int check_auth(redis_ctx *x, const char *user, const char *pass, size_t plen) {
    const char *rp = x->core->cfg.requirepass;
    if (user && strcmp(user, "default") != 0)
        return 0;
    if (!rp)
        return user != NULL;  /* "default" user with nopass accepts anything */
    return sim_secret_eq(rp, strlen(rp), pass, plen);
}

void redis_cmd_auth(redis_ctx *x) {
    if (x->argc > 3) {
        redis_err(x, ERR_SYNTAX);
        return;
    }
    if (x->argc == 2 && !x->core->cfg.requirepass) {
        redis_err(x, "ERR AUTH <password> called without any password configured for the default "
                     "user. Are you sure your configuration is correct?");
        return;
    }
    const char *user = x->argc == 3 ? x->argv[1] : NULL;
    int pi = x->argc - 1;
    if (check_auth(x, user, x->argv[pi], x->argvlen[pi])) {
        x->c->authed = 1;
        redis_ok(x);
    } else {
        redis_err(x, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

static int valid_client_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~')
            return 0;
    return 1;
}

void redis_cmd_hello(redis_ctx *x) {
    long long ver = 2;
    int i = 1;
    if (x->argc >= 2) {
        if (!redis_parse_ll(x->argv[1], x->argvlen[1], &ver)) {
            redis_err(x, "ERR Protocol version is not an integer or out of range");
            return;
        }
        i = 2;
        if (ver != 2) {
            /* RESP3 is not spoken here: clients fall back to RESP2 on NOPROTO. */
            redis_err(x, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const char *setname = NULL;
    size_t setnamelen = 0;
    for (; i < x->argc; i++) {
        if (redis_arg_is(x, i, "auth") && i + 2 < x->argc) {
            if (!check_auth(x, x->argv[i + 1], x->argv[i + 2], x->argvlen[i + 2])) {
                redis_err(x, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            x->c->authed = 1;
            i += 2;
        } else if (redis_arg_is(x, i, "setname") && i + 1 < x->argc) {
            setname = x->argv[i + 1];
            setnamelen = x->argvlen[i + 1];
            if (!valid_client_name(setname, setnamelen)) {
                redis_err(x, "ERR Client names cannot contain spaces, newlines or special "
                             "characters.");
                return;
            }
            i++;
        } else {
            sim_resp_errorf(x->out, "ERR Syntax error in HELLO option '%s'", x->argv[i]);
            return;
        }
    }
    if (x->core->cfg.requirepass && !x->c->authed) {
        redis_err(x, "NOAUTH HELLO must be called with the client already authenticated, "
                     "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                     "authenticate the client and select the RESP protocol version at the same "
                     "time");
        return;
    }
    if (setname) {
        free(x->c->name);
        x->c->name = setnamelen ? sim_xstrndup(setname, setnamelen) : NULL;
    }
    sim_buf *o = x->out;
    sim_resp_array(o, 14);
    sim_resp_bulk_str(o, "server");
    sim_resp_bulk_str(o, "redis");
    sim_resp_bulk_str(o, "version");
    sim_resp_bulk_str(o, REDIS_VERSION);
    sim_resp_bulk_str(o, "proto");
    sim_resp_int(o, 2);
    sim_resp_bulk_str(o, "id");
    sim_resp_int(o, (long long)x->c->id);
    sim_resp_bulk_str(o, "mode");
    sim_resp_bulk_str(o, "standalone");
    sim_resp_bulk_str(o, "role");
    sim_resp_bulk_str(o, "master");
    sim_resp_bulk_str(o, "modules");
    sim_resp_array(o, 0);
}

static void client_info_line(sim_buf *b, sim_redis_client *c, int64_t now) {
    sim_buf_printf(b,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%d "
        "psub=%d ssub=0 multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 "
        "obl=0 oll=0 omem=%zu tot-mem=%zu events=r cmd=%s user=default redir=-1 resp=2 "
        "lib-name=%s lib-ver=%s\n",
        (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
        (long long)(now - c->ctime_ms) / 1000, (long long)(now - c->last_ms) / 1000,
        (c->flags & SIM_RC_BLOCKED) ? "b" : (c->flags & SIM_RC_MULTI) ? "x"
        : (c->flags & SIM_RC_PUBSUB) ? "P" : "N",
        c->db, c->channels ? (int)c->channels->d.count : 0, c->patterns ? (int)c->patterns->d.count : 0,
        (c->flags & SIM_RC_MULTI) ? c->mq_n : -1, c->out.cap, c->out.cap + 20000,
        c->last_cmd ? c->last_cmd : "NULL", c->lib_name ? c->lib_name : "",
        c->lib_ver ? c->lib_ver : "");
}

void redis_cmd_client(redis_ctx *x) {
    sim_redis_client *c = x->c;
    const char *sub = x->argv[1];
    if (sim_strcaseeq(sub, "setname") && x->argc == 3) {
        if (!valid_client_name(x->argv[2], x->argvlen[2])) {
            redis_err(x, "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        free(c->name);
        c->name = x->argvlen[2] ? sim_xstrndup(x->argv[2], x->argvlen[2]) : NULL;
        redis_ok(x);
    } else if (sim_strcaseeq(sub, "getname") && x->argc == 2) {
        if (c->name)
            sim_resp_bulk_str(x->out, c->name);
        else
            sim_resp_null(x->out);
    } else if (sim_strcaseeq(sub, "id") && x->argc == 2) {
        sim_resp_int(x->out, (long long)c->id);
    } else if (sim_strcaseeq(sub, "setinfo") && x->argc == 4) {
        char **slot;
        if (sim_strcaseeq(x->argv[2], "lib-name"))
            slot = &c->lib_name;
        else if (sim_strcaseeq(x->argv[2], "lib-ver"))
            slot = &c->lib_ver;
        else {
            sim_resp_errorf(x->out, "ERR Unrecognized option '%s'", x->argv[2]);
            return;
        }
        if (!valid_client_name(x->argv[3], x->argvlen[3])) {
            sim_resp_errorf(x->out, "ERR %s cannot contain spaces, newlines or special characters.",
                            x->argv[2]);
            return;
        }
        free(*slot);
        *slot = x->argvlen[3] ? sim_xstrndup(x->argv[3], x->argvlen[3]) : NULL;
        redis_ok(x);
    } else if ((sim_strcaseeq(sub, "list") && (x->argc == 2 || x->argc == 4)) ||
               (sim_strcaseeq(sub, "info") && x->argc == 2)) {
        sim_buf b = {0};
        if (sim_strcaseeq(sub, "info")) {
            client_info_line(&b, c, x->now);
        } else {
            for (sim_redis_client *o = x->core->clients; o; o = o->next)
                client_info_line(&b, o, x->now);
        }
        sim_resp_bulk(x->out, b.data ? b.data : "", b.len);
        sim_buf_free(&b);
    } else if (sim_strcaseeq(sub, "kill") && x->argc >= 3) {
        long long killed = 0;
        int old = x->argc == 3;
        for (sim_redis_client *o = x->core->clients; o; o = o->next) {
            int match = 1;
            if (old) {
                match = strcmp(o->addr, x->argv[2]) == 0;
            } else {
                for (int i = 2; i + 1 < x->argc; i += 2) {
                    if (sim_strcaseeq(x->argv[i], "id"))
                        match &= (unsigned long long)strtoull(x->argv[i + 1], NULL, 10) == o->id;
                    else if (sim_strcaseeq(x->argv[i], "addr"))
                        match &= strcmp(o->addr, x->argv[i + 1]) == 0;
                    else if (sim_strcaseeq(x->argv[i], "skipme"))
                        match &= !(o == c && sim_strcaseeq(x->argv[i + 1], "yes"));
                    else {
                        redis_err(x, ERR_SYNTAX);
                        return;
                    }
                }
                if ((x->argc - 2) % 2) {
                    redis_err(x, ERR_SYNTAX);
                    return;
                }
            }
            if (match) {
                killed++;
                if (o == c)
                    c->flags |= SIM_RC_CLOSE_AFTER_REPLY;
                else if (x->core->hooks.kill)
                    x->core->hooks.kill(o, x->core->hooks.ud);
            }
        }
        if (old) {
            if (killed)
                redis_ok(x);
            else
                redis_err(x, "ERR No such client");
        } else {
            sim_resp_int(x->out, killed);
        }
    } else if (sim_strcaseeq(sub, "no-evict") || sim_strcaseeq(sub, "no-touch")) {
        redis_ok(x);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try CLIENT HELP.", sub);
    }
}

/* ---- server ---- */

void redis_cmd_quit(redis_ctx *x) {
    x->c->flags |= SIM_RC_CLOSE_AFTER_REPLY;
    redis_ok(x);
}

void redis_cmd_time(redis_ctx *x) {
    sim_resp_array(x->out, 2);
    sim_resp_bulk_ll(x->out, x->now / 1000);
    sim_resp_bulk_ll(x->out, (x->now % 1000) * 1000);
}

void redis_cmd_reset(redis_ctx *x) {
    sim_redis_client *c = x->c;
    redis_client_reset(c);
    c->db = 0;
    free(c->name);
    c->name = NULL;
    c->authed = x->core->cfg.requirepass == NULL;
    sim_resp_status(x->out, "RESET");
}

static int info_section(const char *want, const char *name) {
    return !want || sim_strcaseeq(want, "all") || sim_strcaseeq(want, "everything") ||
           sim_strcaseeq(want, "default") || sim_strcaseeq(want, name);
}

/* What the heap really holds, as Redis reports its allocator's count.
 * Under AddressSanitizer malloc is ASan's, which glibc's mallinfo2 does
 * not see. */
static size_t heap_in_use(void) {
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

void redis_cmd_info(redis_ctx *x) {
    const char *want = x->argc >= 2 ? x->argv[1] : NULL;
    sim_redis_core *core = x->core;
    sim_buf b = {0};
    int64_t up = (x->now - core->stats.start_ms) / 1000;
    size_t mem = heap_in_use();
    if (mem > core->stats.peak_memory) core->stats.peak_memory = mem;
    if (info_section(want, "server"))
        sim_buf_printf(&b, "# Server\r\nredis_version:%s\r\nredis_git_sha1:00000000\r\n"
            "redis_git_dirty:0\r\nredis_mode:standalone\r\nos:stagesim\r\narch_bits:64\r\n"
            "multiplexing_api:libev\r\nprocess_id:0\r\nrun_id:%016llx%016llx%08x\r\ntcp_port:%d\r\n"
            "uptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\nhz:10\r\nexecutable:stagesim\r\n\r\n",
            REDIS_VERSION, (unsigned long long)sim_mix(core->seed, "runid", 1, 0),
            (unsigned long long)sim_mix(core->seed, "runid", 2, 0),
            (unsigned)sim_mix(core->seed, "runid", 3, 0), core->cfg.port, (long long)up,
            (long long)up / 86400);
    if (info_section(want, "clients"))
        sim_buf_printf(&b, "# Clients\r\nconnected_clients:%zu\r\ncluster_connections:0\r\n"
            "maxclients:%lld\r\nblocked_clients:%zu\r\ntracking_clients:0\r\n\r\n",
            core->nclients, core->cfg.maxclients, core->nblocked);
    if (info_section(want, "memory"))
        sim_buf_printf(&b, "# Memory\r\nused_memory:%zu\r\nused_memory_human:%.2fM\r\n"
            "used_memory_peak:%zu\r\nmaxmemory:%lld\r\nmaxmemory_policy:noeviction\r\n"
            "mem_allocator:libc\r\n\r\n", mem, (double)mem / 1048576.0,
            core->stats.peak_memory, core->cfg.maxmemory);
    if (info_section(want, "persistence"))
        sim_buf_printf(&b, "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\n"
            "rdb_bgsave_in_progress:0\r\naof_enabled:0\r\n\r\n");
    if (info_section(want, "stats"))
        sim_buf_printf(&b, "# Stats\r\ntotal_connections_received:%llu\r\n"
            "total_commands_processed:%llu\r\ninstantaneous_ops_per_sec:0\r\n"
            "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
            "rejected_connections:%llu\r\nexpired_keys:%llu\r\nevicted_keys:0\r\n"
            "keyspace_hits:%llu\r\nkeyspace_misses:%llu\r\npubsub_channels:%zu\r\n"
            "pubsub_patterns:%zu\r\n\r\n",
            (unsigned long long)core->stats.connections_received,
            (unsigned long long)core->stats.commands_processed,
            (unsigned long long)core->stats.net_input_bytes,
            (unsigned long long)core->stats.net_output_bytes,
            (unsigned long long)core->stats.rejected_connections,
            (unsigned long long)x->ks->expired_keys, (unsigned long long)x->ks->hits,
            (unsigned long long)x->ks->misses, core->channels.count,
            core->patterns ? core->patterns->d.count : 0);
    if (info_section(want, "replication"))
        sim_buf_printf(&b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
            "master_failover_state:no-failover\r\nmaster_replid:%016llx%016llx%08x\r\n"
            "master_repl_offset:0\r\n\r\n",
            (unsigned long long)sim_mix(core->seed, "replid", 1, 0),
            (unsigned long long)sim_mix(core->seed, "replid", 2, 0),
            (unsigned)sim_mix(core->seed, "replid", 3, 0));
    if (info_section(want, "cpu"))
        sim_buf_printf(&b, "# CPU\r\nused_cpu_sys:0.0\r\nused_cpu_user:0.0\r\n\r\n");
    if (info_section(want, "keyspace")) {
        sim_buf_printf(&b, "# Keyspace\r\n");
        for (int i = 0; i < SIM_REDIS_DBS; i++)
            if (x->ks->db[i].keys.count)
                sim_buf_printf(&b, "db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", i,
                               x->ks->db[i].keys.count, x->ks->db[i].volatile_keys);
        sim_buf_printf(&b, "\r\n");
    }
    /* Redis ends the text without the last blank line. */
    if (b.len >= 2)
        b.len -= 2;
    sim_resp_bulk(x->out, b.data ? b.data : "", b.len);
    sim_buf_free(&b);
}

/* ---- COMMAND ---- */

static void command_info(sim_buf *o, const redis_command *cmd) {
    sim_resp_array(o, 10);
    sim_resp_bulk_str(o, cmd->name);
    sim_resp_int(o, cmd->arity);
    int nf = 0;
    const char *fl[3];
    if (cmd->flags & CMD_WRITE) fl[nf++] = "write";
    else fl[nf++] = "readonly";
    if (cmd->flags & CMD_PUBSUB_OK) fl[nf++] = "pubsub";
    if (cmd->flags & CMD_NOAUTH_OK) fl[nf++] = "no_auth";
    sim_resp_array(o, nf);
    for (int i = 0; i < nf; i++)
        sim_resp_status(o, fl[i]);
    sim_resp_int(o, cmd->firstkey);
    sim_resp_int(o, cmd->lastkey);
    sim_resp_int(o, cmd->step);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
    sim_resp_array(o, 0);
}

void redis_cmd_command(redis_ctx *x) {
    const redis_command *table = x->core->commands;
    size_t total = x->core->ncommands;
    if (x->argc == 1) {
        sim_resp_array(x->out, (long long)total);
        for (const redis_command *c = table; c < table + total; c++)
            command_info(x->out, c);
    } else if (redis_arg_is(x, 1, "count") && x->argc == 2) {
        sim_resp_int(x->out, (long long)total);
    } else if (redis_arg_is(x, 1, "info")) {
        sim_resp_array(x->out, x->argc - 2);
        for (int i = 2; i < x->argc; i++) {
            const redis_command *c = redis_command_lookup(x->core, x->argv[i], x->argvlen[i]);
            if (c)
                command_info(x->out, c);
            else
                sim_resp_null_array(x->out);
        }
    } else if (redis_arg_is(x, 1, "docs")) {
        /* Minimal: no documentation (redis-cli then shows no hints). */
        sim_resp_array(x->out, 0);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                                "Try COMMAND HELP.", x->argv[1]);
    }
}

/* ---- CONFIG ---- */

/* CONFIG parameters clients probe; values rendered on demand. */
static const char *config_names[] = {
    "maxclients", "requirepass", "timeout", "maxmemory", "save", "appendonly", "databases",
    "port", "bind", "maxmemory-policy", "notify-keyspace-events", "proto-max-bulk-len",
    "client-query-buffer-limit", "client-output-buffer-limit", "tcp-keepalive", "hz",
    "lua-time-limit", "busy-reply-threshold", "cluster-enabled", "dir", "dbfilename",
    "slowlog-log-slower-than", "slowlog-max-len", NULL,
};

static void config_value(sim_redis_core *core, const char *name, sim_buf *b) {
    sim_redis_config *c = &core->cfg;
    b->len = 0;
    if (!strcmp(name, "maxclients")) sim_buf_printf(b, "%lld", c->maxclients);
    else if (!strcmp(name, "requirepass")) sim_buf_puts(b, c->requirepass ? c->requirepass : "");
    else if (!strcmp(name, "timeout")) sim_buf_printf(b, "%lld", c->timeout);
    else if (!strcmp(name, "maxmemory")) sim_buf_printf(b, "%lld", c->maxmemory);
    else if (!strcmp(name, "save")) sim_buf_puts(b, "");
    else if (!strcmp(name, "appendonly")) sim_buf_puts(b, "no");
    else if (!strcmp(name, "databases")) sim_buf_printf(b, "%d", SIM_REDIS_DBS);
    else if (!strcmp(name, "port")) sim_buf_printf(b, "%d", c->port);
    else if (!strcmp(name, "bind")) sim_buf_puts(b, "127.0.0.1");
    else if (!strcmp(name, "maxmemory-policy")) sim_buf_puts(b, "noeviction");
    else if (!strcmp(name, "notify-keyspace-events")) sim_buf_puts(b, "");
    else if (!strcmp(name, "proto-max-bulk-len")) sim_buf_printf(b, "%lld", c->proto_max_bulk_len);
    else if (!strcmp(name, "client-query-buffer-limit"))
        sim_buf_printf(b, "%lld", c->client_query_buffer_limit);
    else if (!strcmp(name, "client-output-buffer-limit"))
        sim_buf_printf(b, "normal %lld 0 0 slave 268435456 67108864 60 pubsub %lld 8388608 60",
                       c->out_limit_normal, c->out_limit_pubsub);
    else if (!strcmp(name, "tcp-keepalive")) sim_buf_puts(b, "300");
    else if (!strcmp(name, "hz")) sim_buf_puts(b, "10");
    else if (!strcmp(name, "lua-time-limit") || !strcmp(name, "busy-reply-threshold"))
        sim_buf_puts(b, "5000");
    else if (!strcmp(name, "cluster-enabled")) sim_buf_puts(b, "no");
    else if (!strcmp(name, "dir")) sim_buf_puts(b, "/tmp");
    else if (!strcmp(name, "dbfilename")) sim_buf_puts(b, "dump.rdb");
    else if (!strcmp(name, "slowlog-log-slower-than")) sim_buf_puts(b, "10000");
    else if (!strcmp(name, "slowlog-max-len")) sim_buf_puts(b, "128");
    if (!b->data)
        sim_buf_puts(b, "");
}

static int parse_mem(const char *s, long long *v) {
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno || end == s || n < 0)
        return 0;
    long long mul = 1;
    if (sim_strcaseeq(end, "k")) mul = 1000;
    else if (sim_strcaseeq(end, "kb")) mul = 1024;
    else if (sim_strcaseeq(end, "m")) mul = 1000 * 1000;
    else if (sim_strcaseeq(end, "mb")) mul = 1024 * 1024;
    else if (sim_strcaseeq(end, "g")) mul = 1000LL * 1000 * 1000;
    else if (sim_strcaseeq(end, "gb")) mul = 1024LL * 1024 * 1024;
    else if (*end) return 0;
    *v = n * mul;
    return 1;
}

static int config_set_one(sim_redis_core *core, const char *name, const char *val) {
    sim_redis_config *c = &core->cfg;
    long long v;
    if (!strcmp(name, "requirepass")) {
        free(c->requirepass);
        c->requirepass = *val ? sim_xstrdup(val) : NULL;
        return 1;
    }
    if (!strcmp(name, "save") || !strcmp(name, "appendonly") ||
        !strcmp(name, "notify-keyspace-events") || !strcmp(name, "maxmemory-policy") ||
        !strcmp(name, "tcp-keepalive") || !strcmp(name, "hz") ||
        !strcmp(name, "slowlog-log-slower-than") || !strcmp(name, "slowlog-max-len") ||
        !strcmp(name, "lua-time-limit") || !strcmp(name, "busy-reply-threshold"))
        return 1;   /* accepted, no effect here */
    if (!strcmp(name, "client-output-buffer-limit")) {
        /* "class hard soft secs" groups; hard limits are what we enforce. */
        char cls[16];
        long long hard;
        const char *p = val;
        int n;
        char hs[32], ss[32], secs[32];
        while (sscanf(p, "%15s %31s %31s %31s%n", cls, hs, ss, secs, &n) == 4) {
            if (!parse_mem(hs, &hard))
                return 0;
            if (!strcmp(cls, "normal")) c->out_limit_normal = hard;
            else if (!strcmp(cls, "pubsub")) c->out_limit_pubsub = hard;
            else if (strcmp(cls, "slave") && strcmp(cls, "replica")) return 0;
            p += n;
        }
        return 1;
    }
    if (!parse_mem(val, &v))
        return 0;
    if (!strcmp(name, "maxclients")) c->maxclients = v;
    else if (!strcmp(name, "timeout")) c->timeout = v;
    else if (!strcmp(name, "maxmemory")) c->maxmemory = v;
    else if (!strcmp(name, "proto-max-bulk-len")) c->proto_max_bulk_len = v;
    else if (!strcmp(name, "client-query-buffer-limit")) c->client_query_buffer_limit = v;
    else return -1;
    return 1;
}

void redis_cmd_config(redis_ctx *x) {
    const char *sub = x->argv[1];
    if (sim_strcaseeq(sub, "get") && x->argc >= 3) {
        sim_buf pairs = {0}, v = {0};
        long long n = 0;
        for (int k = 0; config_names[k]; k++) {
            for (int i = 2; i < x->argc; i++) {
                if (sim_glob_match(x->argv[i], x->argvlen[i], config_names[k],
                                   strlen(config_names[k]), 1)) {
                    config_value(x->core, config_names[k], &v);
                    sim_resp_bulk_str(&pairs, config_names[k]);
                    sim_resp_bulk(&pairs, v.data, v.len);
                    n++;
                    break;
                }
            }
        }
        sim_resp_array(x->out, n * 2);
        if (pairs.len)
            sim_buf_append(x->out, pairs.data, pairs.len);
        sim_buf_free(&pairs);
        sim_buf_free(&v);
    } else if (sim_strcaseeq(sub, "set") && x->argc >= 4 && x->argc % 2 == 0) {
        for (int i = 2; i < x->argc; i += 2) {
            char name[64];
            snprintf(name, sizeof(name), "%s", x->argv[i]);
            for (char *p = name; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            int known = 0;
            for (int k = 0; config_names[k]; k++)
                known |= !strcmp(config_names[k], name);
            if (!known || !strcmp(name, "databases") || !strcmp(name, "port") ||
                !strcmp(name, "bind") || !strcmp(name, "cluster-enabled")) {
                sim_resp_errorf(x->out, "ERR Unknown option or number of arguments for CONFIG SET "
                                        "- '%s'", x->argv[i]);
                return;
            }
            int rc = config_set_one(x->core, name, x->argv[i + 1]);
            if (rc <= 0) {
                sim_resp_errorf(x->out, "ERR CONFIG SET failed (possibly related to argument "
                                        "'%s') - argument couldn't be parsed into an integer",
                                x->argv[i]);
                return;
            }
        }
        redis_ok(x);
    } else if (sim_strcaseeq(sub, "resetstat") && x->argc == 2) {
        x->core->stats.commands_processed = 0;
        x->ks->hits = x->ks->misses = 0;
        redis_ok(x);
    } else if (sim_strcaseeq(sub, "rewrite") && x->argc == 2) {
        redis_err(x, "ERR The server is running without a config file");
    } else if (sim_strcaseeq(sub, "get") || sim_strcaseeq(sub, "set")) {
        char full[32];
        snprintf(full, sizeof(full), "config|%s", sim_strcaseeq(sub, "get") ? "get" : "set");
        redis_arity_error(x, full);
    } else {
        sim_resp_errorf(x->out, "ERR unknown subcommand '%.128s'. Try CONFIG HELP.", sub);
    }
}

