/* redis_core.c -- dispatch (arity, auth, pub/sub context, MULTI queueing:
 * all checked here, once, against the table the core was created with),
 * the command lookup, helpers shared by the command files, and the core's
 * and clients' lifecycle. */
#include "redis_core.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers shared by the command files ---- */

void redis_err(redis_ctx *x, const char *msg) { sim_resp_error_reply(x->out, msg); }

int redis_parse_ll(const char *s, size_t n, long long *v) {
    if (n == 0 || n > 20)
        return 0;
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!(isdigit((unsigned char)buf[0]) || (buf[0] == '-' && n > 1)))
        return 0;
    if (buf[0] == '0' && n > 1)
        return 0;
    if (buf[0] == '-' && buf[1] == '0')
        return 0;
    errno = 0;
    char *end;
    long long r = strtoll(buf, &end, 10);
    if (errno || *end)
        return 0;
    *v = r;
    return 1;
}

int redis_parse_double(const char *s, size_t n, double *v) {
    if (n == 0 || n > 300 || isspace((unsigned char)s[0]))
        return 0;
    char buf[320];
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end || (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL || d == 0)) || isnan(d))
        return 0;
    *v = d;
    return 1;
}

int redis_ll_msg(redis_ctx *x, int i, long long *v, const char *msg) {
    if (redis_parse_ll(x->argv[i], x->argvlen[i], v))
        return 1;
    redis_err(x, msg);
    return 0;
}

int redis_ll(redis_ctx *x, int i, long long *v) { return redis_ll_msg(x, i, v, ERR_NOTINT); }

int redis_pop_count(redis_ctx *x, int i, long long *count) {
    static const char msg[] = "ERR value is out of range, must be positive";
    *count = -1;
    if (x->argc <= i)
        return 1;
    if (!redis_ll_msg(x, i, count, msg))
        return 0;
    if (*count < 0) {
        redis_err(x, msg);
        return 0;
    }
    return 1;
}

int redis_double(redis_ctx *x, int i, double *v, const char *msg) {
    if (redis_parse_double(x->argv[i], x->argvlen[i], v))
        return 1;
    redis_err(x, msg);
    return 0;
}

int redis_arg_is(redis_ctx *x, int i, const char *word) { return sim_strcaseeq(x->argv[i], word); }

/* Per connection: the client's ordinal (ids follow accept order) and its own
 * count of choices, so what one client draws never depends on how other
 * connections' commands interleave with its own. */
uint64_t redis_rand(redis_ctx *x) {
    return sim_mix(x->core->seed, "redis-rand", x->c->id, x->c->rng_n++);
}

sim_rkey *redis_lookup(redis_ctx *x, int i) {
    sim_rkey *e = sim_db_lookup(x->ks, x->c->db, x->argv[i], x->argvlen[i], x->now);
    return e;
}

sim_rkey *redis_lookup_type(redis_ctx *x, int i, int type, int *wrong) {
    sim_rkey *e = redis_lookup(x, i);
    *wrong = 0;
    if (e && e->type != type) {
        *wrong = 1;
        redis_err(x, ERR_WRONGTYPE);
        return NULL;
    }
    return e;
}

sim_rkey *redis_add(redis_ctx *x, int i, int type, void *val) {
    return sim_db_add(x->ks, x->c->db, x->argv[i], x->argvlen[i], type, val);
}

void redis_delete(redis_ctx *x, sim_rkey *e) { sim_db_delete(x->ks, x->c->db, e); }

void redis_arity_error(redis_ctx *x, const char *name) {
    sim_resp_errorf(x->out, "ERR wrong number of arguments for '%s' command", name);
}

/* ---- helpers shared by several command families ---- */

/* TYPE's names, by SIM_RT_* value. */
static const char *const type_names[] = {"string", "list", "hash", "set", "zset"};
#define NTYPES ((int)(sizeof(type_names) / sizeof(type_names[0])))

const char *redis_type_name(int type) { return type_names[type]; }

/* Parses "MATCH p COUNT n [TYPE t]" from argv[first]; replies on error. */
int redis_scan_opts(redis_ctx *x, int first, int allow_type, const char **pat, size_t *plen,
                    long long *count, int *type) {
    *pat = NULL;
    *count = 10;
    *type = -1;
    for (int i = first; i < x->argc; i++) {
        if (redis_arg_is(x, i, "match") && i + 1 < x->argc) {
            *pat = x->argv[i + 1];
            *plen = x->argvlen[i + 1];
            i++;
        } else if (redis_arg_is(x, i, "count") && i + 1 < x->argc) {
            if (!redis_ll(x, i + 1, count))
                return 0;
            if (*count < 1) {
                redis_err(x, ERR_SYNTAX);
                return 0;
            }
            i++;
        } else if (allow_type && redis_arg_is(x, i, "type") && i + 1 < x->argc) {
            *type = 100;   /* unknown type: matches no key */
            for (int t = 0; t < NTYPES; t++)
                if (sim_strcaseeq(x->argv[i + 1], type_names[t]))
                    *type = t;
            i++;
        } else {
            redis_err(x, ERR_SYNTAX);
            return 0;
        }
    }
    return 1;
}

int redis_scan_cursor(redis_ctx *x, int i, uint64_t *cur) {
    char *end;
    errno = 0;
    if (x->argvlen[i] == 0 || !isdigit((unsigned char)x->argv[i][0])) {
        redis_err(x, "ERR invalid cursor");
        return 0;
    }
    *cur = strtoull(x->argv[i], &end, 10);
    if (errno || *end) {
        redis_err(x, "ERR invalid cursor");
        return 0;
    }
    return 1;
}

/* Formats a long double as Redis's INCRBYFLOAT does (%.17Lf, trailing
 * zeros trimmed). */
int redis_ld2str(char *buf, size_t len, long double v) {
    int n = snprintf(buf, len, "%.17Lf", v);
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
        buf[n] = '\0';
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = '\0';
        n = 1;
    }
    return n;
}

/* Normalises [start, end] against len; returns 0 when the range is empty. */
int redis_norm_range(long long *start, long long *end, long long len) {
    if (*start < 0) *start += len;
    if (*end < 0) *end += len;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len)
        return 0;
    if (*end >= len) *end = len - 1;
    return 1;
}

/* HDEL / SREM: removes argv[2..] from the hash or set at argv[1] (type),
 * deletes the key once empty, replies how many were there. */
void redis_coll_del(redis_ctx *x, int type) {
    int wrong;
    sim_rkey *e = redis_lookup_type(x, 1, type, &wrong);
    if (wrong)
        return;
    sim_rhash *h = e ? e->val : NULL;
    long long n = 0;
    for (int i = 2; h && i < x->argc; i++)
        n += sim_rhash_del(h, x->argv[i], x->argvlen[i]);
    if (h && h->d.count == 0)
        redis_delete(x, e);
    sim_resp_int(x->out, n);
}

/* HSCAN/SSCAN: small collections answer everything at cursor 0, as Redis
 * does for its compact encodings; larger ones page through the dict. */
struct coll_scan {
    const char *pat;
    size_t plen;
    int with_vals;
    sim_buf items;
    long long n;
};

static void coll_scan_one(sim_dent *d, void *ctx) {
    struct coll_scan *s = ctx;
    sim_hent *f = (sim_hent *)d;
    if (s->pat && !sim_glob_match(s->pat, s->plen, f->key, f->h.klen, 0))
        return;
    sim_resp_bulk(&s->items, f->key, f->h.klen);
    s->n++;
    if (s->with_vals) {
        sim_resp_bulk(&s->items, f->val->data, f->val->len);
        s->n++;
    }
}

void redis_coll_scan(redis_ctx *x, int type) {
    uint64_t cur;
    if (!redis_scan_cursor(x, 2, &cur))
        return;
    struct coll_scan s = {.with_vals = type == SIM_RT_HASH};
    long long count;
    int t;
    if (!redis_scan_opts(x, 3, 0, &s.pat, &s.plen, &count, &t))
        return;
    int wrong;
    sim_rkey *e = redis_lookup_type(x, 1, type, &wrong);
    if (wrong)
        return;
    uint64_t next = 0;
    if (e) {
        sim_rhash *h = e->val;
        if (h->d.count <= 128) {
            for (sim_hent *f = h->first; f; f = f->next)
                coll_scan_one(&f->h, &s);
        } else {
            next = sim_dict_scan(&h->d, cur, (size_t)count, coll_scan_one, &s);
        }
    }
    sim_resp_array(x->out, 2);
    sim_resp_bulk_ll(x->out, (long long)next);
    sim_resp_array(x->out, s.n);
    if (s.items.len)
        sim_buf_append(x->out, s.items.data, s.items.len);
    sim_buf_free(&s.items);
}

/* ---- client lists (pub/sub channels, WATCHed keys) ---- */

redis_clist *redis_clist_get(sim_dict *d, const char *k, size_t n, int create) {
    redis_clist *l = (redis_clist *)sim_dict_find(d, k, n);
    if (l || !create)
        return l;
    l = sim_xcalloc(1, sizeof(*l) + n + 1);
    l->h.hash = sim_dict_hash(k, n);
    l->h.klen = (uint32_t)n;
    memcpy(l->key, k, n);
    sim_dict_add(d, &l->h);
    return l;
}

void redis_clist_add(redis_clist *l, sim_redis_client *c) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sim_xrealloc(l->v, (size_t)l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = c;
}

void redis_clist_remove(sim_dict *d, redis_clist *l, sim_redis_client *c) {
    for (int i = 0; i < l->n; i++)
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(*l->v));
            l->n--;
            break;
        }
    if (l->n == 0) {
        sim_dict_unlink(d, &l->h);
        free(l->v);
        free(l);
    }
}

/* ---- command lookup ---- */

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)(s[i] | 0x20)) * 16777619u;
    return h;
}

/* The lookup index over the table: open addressing, at most 1/4 full. */
static void build_index(sim_redis_core *core) {
    size_t cap = 64;
    while (cap < core->ncommands * 4)
        cap *= 2;
    core->cmdtab = sim_xcalloc(cap, sizeof(*core->cmdtab));
    core->cmdmask = cap - 1;
    for (const redis_command *c = core->commands; c < core->commands + core->ncommands; c++) {
        size_t i = name_hash(c->name, strlen(c->name)) & core->cmdmask;
        while (core->cmdtab[i])
            i = (i + 1) & core->cmdmask;
        core->cmdtab[i] = c;
    }
}

/* lower: a table name (lowercase, NUL-terminated); s[0..n) any case and
 * binary (a NUL in s must not walk past the end of lower). */
static int name_eq(const char *lower, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!lower[i])
            return 0;
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (lower[i] != c)
            return 0;
    }
    return lower[n] == '\0';
}

const redis_command *redis_command_lookup(sim_redis_core *core, const char *name, size_t n) {
    if (n > 32)
        return NULL;
    size_t i = name_hash(name, n) & core->cmdmask;
    for (const redis_command *c; (c = core->cmdtab[i]) != NULL; i = (i + 1) & core->cmdmask)
        if (name_eq(c->name, name, n))
            return c;
    return NULL;
}

const sim_redis_command *sim_redis_lookup(sim_redis_core *core, const char *name, size_t n) {
    return redis_command_lookup(core, name, n);
}

const char *sim_redis_command_info(const sim_redis_command *cmd, int argc, char **argv,
                                   const char **key) {
    *key = NULL;
    if (!cmd)
        return NULL;
    if (cmd->firstkey > 0 && cmd->firstkey < argc)
        *key = argv[cmd->firstkey];
    return cmd->name;
}

/* ---- dispatch ---- */

static void unknown_command(redis_ctx *x) {
    sim_buf args = {0};
    for (int i = 1; i < x->argc && args.len < 128; i++)
        sim_buf_printf(&args, "'%.*s' ", (int)(128 - args.len), x->argv[i]);
    sim_resp_errorf(x->out, "ERR unknown command '%.128s', with args beginning with: %s",
                    x->argv[0], args.data ? args.data : "");
    sim_buf_free(&args);
}

static int arity_ok(const redis_command *cmd, int argc) {
    return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

/* Touches the keys a write command names, for WATCH. */
static void touch_keys(redis_ctx *x, const redis_command *cmd) {
    if (!x->core->watched.count || cmd->firstkey <= 0)
        return;
    int last = cmd->lastkey < 0 ? x->argc + cmd->lastkey : cmd->lastkey;
    for (int i = cmd->firstkey; i <= last && i < x->argc; i += cmd->step)
        x->core->fam.touch(x->core, x->c->db, x->argv[i], x->argvlen[i]);
}

void redis_call(redis_ctx *x, const redis_command *cmd) {
    x->c->last_cmd = cmd->name;
    cmd->fn(x);
    if (cmd->flags & CMD_WRITE)
        touch_keys(x, cmd);
    x->core->stats.commands_processed++;
}

void sim_redis_dispatch(sim_redis_client *c, int argc, char **argv, size_t *argvlen,
                        int64_t now_ms) {
    sim_redis_dispatch_cmd(c, redis_command_lookup(c->core, argv[0], argvlen[0]), argc, argv,
                           argvlen, now_ms);
}

void sim_redis_dispatch_cmd(sim_redis_client *c, const sim_redis_command *cmd, int argc,
                            char **argv, size_t *argvlen, int64_t now_ms) {
    sim_redis_core *core = c->core;
    redis_ctx x = {.c = c, .core = core, .ks = &core->ks, .argc = argc, .argv = argv,
                   .argvlen = argvlen, .now = now_ms, .out = &c->out};
    c->last_ms = now_ms;
    if (!cmd) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        unknown_command(&x);
        return;
    }
    if (!arity_ok(cmd, argc)) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        redis_arity_error(&x, cmd->name);
        return;
    }
    if (!c->authed && !(cmd->flags & CMD_NOAUTH_OK)) {
        if (c->flags & SIM_RC_MULTI)
            c->flags |= SIM_RC_DIRTY_EXEC;
        redis_err(&x, "NOAUTH Authentication required.");
        return;
    }
    if ((c->flags & SIM_RC_PUBSUB) && !(cmd->flags & CMD_PUBSUB_OK)) {
        sim_resp_errorf(&c->out,
                        "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                        "QUIT / RESET are allowed in this context", cmd->name);
        return;
    }
    if ((c->flags & SIM_RC_MULTI) && !(cmd->flags & CMD_NO_MULTI)) {
        core->fam.queue(c, argc, argv, argvlen);
        sim_buf_append(&c->out, "+QUEUED\r\n", 9);
        return;
    }
    redis_call(&x, cmd);
    /* Here, not inside EXEC's redis_call: clients blocked on lists that the
     * command (or the whole EXEC) made ready see the state it left, as in
     * Redis (MULTI; RPUSH k x; DEL k; EXEC serves no one from k). */
    if (core->nready)
        core->fam.serve_ready(core, now_ms);
}

/* ---- core lifecycle ---- */

sim_redis_core *redis_core_create(uint64_t seed, const sim_redis_hooks *hooks, int64_t now_ms,
                                  const redis_command *commands, size_t n) {
    sim_redis_core *core = sim_xcalloc(1, sizeof(*core));
    sim_keyspace_init(&core->ks);
    if (hooks)
        core->hooks = *hooks;
    core->seed = seed;
    core->next_id = 1;
    core->stats.start_ms = now_ms;
    core->cfg.maxclients = 10000;
    core->cfg.proto_max_bulk_len = 512LL * 1024 * 1024;
    core->cfg.client_query_buffer_limit = 1LL << 30;
    core->cfg.out_limit_normal = 0;
    core->cfg.out_limit_pubsub = 32LL * 1024 * 1024;
    core->commands = commands;
    core->ncommands = n;
    build_index(core);
    sim_dict_init(&core->channels, offsetof(redis_clist, key));
    sim_dict_init(&core->watched, offsetof(redis_clist, key));
    return core;
}

void sim_redis_core_free(sim_redis_core *core) {
    if (!core)
        return;
    sim_keyspace_free(&core->ks);
    free(core->cmdtab);
    for (int i = 0; i < core->nready; i++)
        free(core->ready[i].k);
    free(core->ready);
    free(core->cfg.requirepass);
    sim_dict_clear(&core->channels, NULL, NULL);
    sim_dict_clear(&core->watched, NULL, NULL);
    if (core->patterns)
        sim_value_free(SIM_RT_SET, core->patterns);
    free(core);
}

sim_keyspace *sim_redis_core_keyspace(sim_redis_core *core) { return &core->ks; }
sim_redis_config *sim_redis_core_config(sim_redis_core *core) { return &core->cfg; }
sim_redis_stats *sim_redis_core_stats(sim_redis_core *core) { return &core->stats; }
size_t sim_redis_client_count(const sim_redis_core *core) { return core->nclients; }
sim_redis_client *sim_redis_core_first_client(sim_redis_core *core) { return core->clients; }

void sim_redis_client_init(sim_redis_core *core, sim_redis_client *c, int64_t now_ms) {
    memset(c, 0, sizeof(*c));
    c->core = core;
    c->id = core->next_id++;
    c->authed = core->cfg.requirepass == NULL;
    c->ctime_ms = c->last_ms = now_ms;
    c->fd = -1;
    c->next = core->clients;
    if (core->clients)
        core->clients->prev = c;
    core->clients = c;
    core->nclients++;
}

void redis_client_reset(sim_redis_client *c) {
    sim_redis_core *core = c->core;
    core->fam.unblock(c);
    core->fam.multi_reset(c);
    core->fam.pubsub_reset(c);
}

void sim_redis_client_fini(sim_redis_client *c) {
    sim_redis_core *core = c->core;
    redis_client_reset(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        core->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    core->nclients--;
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    sim_buf_free(&c->out);
}

/* CONFIG SET timeout N: a client silent for more than N seconds is closed,
 * as Redis's clientsCronHandleTimeout does; blocked clients (their own
 * timeout applies) and subscribers are spared. */
static void reap_idle(sim_redis_core *core, int64_t now_ms) {
    int64_t limit_ms = core->cfg.timeout * 1000;
    for (sim_redis_client *c = core->clients; c; c = c->next)
        if (!(c->flags & (SIM_RC_BLOCKED | SIM_RC_PUBSUB)) && now_ms - c->last_ms > limit_ms &&
            core->hooks.kill)
            core->hooks.kill(c, core->hooks.ud);
}

void sim_redis_core_cron(sim_redis_core *core, int64_t now_ms) {
    sim_db_active_expire(&core->ks, now_ms, 200);
    if (core->nblocked)
        core->fam.timeouts(core, now_ms);
    if (core->cfg.timeout > 0)
        reap_idle(core, now_ms);
}
