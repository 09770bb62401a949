/* probe_golden.c -- the golden-path probe: log in at the auth service
 * (password or E2E bypass), open the backend's WebSocket with the token in
 * the chosen place (docs/contract.md §2.2), send one user_message on the
 * welcome, and let golden_check.c judge every frame until agent_completed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_check.h"
#include "probe_login.h"
#include "probe_ws.h"
#include "util.h"

typedef enum { PHASE_LOGIN, PHASE_UPGRADE, PHASE_STREAM } golden_phase;

typedef enum { SOURCE_QUERY, SOURCE_HEADER, SOURCE_SUBPROTOCOL } token_source;

static const char *const source_names[] = {"query", "header", "subprotocol"};

typedef struct golden_state {
    probe_attempt *a;
    golden_phase phase;
    probe_http *http;         /* the login; NULL once answered */
    probe_ws *ws;             /* NULL until the login passed */
    probe_tokens tokens;
    sim_golden_check check;
    char path[1100];
    char body[600];
} golden_state;

static int source_of(const char *name) {
    for (size_t i = 0; i < sizeof(source_names) / sizeof(*source_names); i++)
        if (strcmp(name, source_names[i]) == 0) return (int)i;
    return -1;
}

static int prepare(const sim_probe_options *o, probe_target *t, char *err, size_t errlen) {
    if (sim_probe_url_option("--backend", o->backend, &t->backend, err, errlen) < 0 ||
        sim_probe_url_option("--auth", o->auth, &t->auth, err, errlen) < 0)
        return -1;
    if (o->password && o->e2e_key) {
        snprintf(err, errlen, "--password and --e2e-key: one way to log in, not both");
        return -1;
    }
    if (source_of(o->token_source ? o->token_source : "") < 0) {
        snprintf(err, errlen, "--token-source: '%s' is not query, header or subprotocol",
                 o->token_source ? o->token_source : "");
        return -1;
    }
    if (!o->ws_path || o->ws_path[0] != '/') {
        snprintf(err, errlen, "--ws-path: must start with '/'");
        return -1;
    }
    return 0;
}

static void on_opened(void *ctx) {
    golden_state *st = ctx;
    st->phase = PHASE_STREAM;
}

static void on_frame(void *ctx, const char *text, size_t len) {
    golden_state *st = ctx;
    probe_attempt *a = st->a;
    if (a->finished) return;   /* frames between the verdict and the release */
    switch (sim_golden_check_frame(&st->check, text, len, &a->res)) {
    case SIM_GOLDEN_WELCOMED: {
        char msg[128];
        snprintf(msg, sizeof(msg), "{\"type\":\"user_message\",\"message\":\"stagesim probe, "
                                   "attempt %d\"}", a->res.attempt);
        probe_ws_send(st->ws, msg);
        return;
    }
    case SIM_GOLDEN_PASS:
        a->res.ok = 1;
        probe_attempt_finish(a);
        return;
    case SIM_GOLDEN_FAIL:
        probe_attempt_finish(a);
        return;
    case SIM_GOLDEN_MORE:
        return;
    }
}

static void on_refused(void *ctx, int http_status, const char *error) {
    golden_state *st = ctx;
    sim_probe_result *r = &st->a->res;
    if (st->a->finished) return;   /* the timeout came first */
    if (http_status) {
        r->http_status = http_status;
        sim_probe_fail(r, "upgrade", "status", "HTTP %d", http_status);
        SIM_PROBE_SET(r->expected, "101");
        snprintf(r->got, sizeof(r->got), "%d", http_status);
    } else {
        sim_probe_fail(r, "upgrade", "connect", "%s", error);
    }
    probe_attempt_finish(st->a);
}

static void on_closed(void *ctx, int code, const char *reason) {
    golden_state *st = ctx;
    if (st->a->finished) return;
    sim_golden_check_closed(&st->check, code, reason, &st->a->res);
    probe_attempt_finish(st->a);
}

static const probe_ws_events ws_events = {on_opened, on_frame, on_refused, on_closed};

static void open_ws(golden_state *st) {
    const sim_probe_run *run = st->a->run;
    int source = source_of(run->opt.token_source);
    sim_probe_url_join(&run->target.backend, run->opt.ws_path, st->path, sizeof(st->path));
    char subprotocol[4200];
    probe_ws_request rq = {.url = &run->target.backend, .path = st->path};
    if (source == SOURCE_QUERY) {
        size_t n = strlen(st->path);
        snprintf(st->path + n, sizeof(st->path) - n, "%ctoken=%s",
                 strchr(st->path, '?') ? '&' : '?', st->tokens.access);
    } else if (source == SOURCE_HEADER) {
        rq.bearer = st->tokens.access;
    } else {
        snprintf(subprotocol, sizeof(subprotocol), "jwt.%s", st->tokens.access);
        rq.subprotocol = subprotocol;
    }
    st->phase = PHASE_UPGRADE;
    st->ws = probe_ws_start(run->net, &rq, &ws_events, st);
}

static void on_login(void *ctx, const probe_http_reply *reply) {
    golden_state *st = ctx;
    st->http = NULL;
    if (st->a->finished) return;   /* the timeout came first */
    if (probe_login_parse(reply, "login", &st->tokens, &st->a->res) < 0) {
        probe_attempt_finish(st->a);
        return;
    }
    sim_golden_check_init(&st->check, st->tokens.user_id);
    open_ws(st);
}

static void *start(probe_attempt *a) {
    golden_state *st = sim_xcalloc(1, sizeof(*st));
    st->a = a;
    probe_http_request rq;
    probe_login_request(a->run, a->run->opt.e2e_key != NULL, &rq, st->path, sizeof(st->path),
                        st->body, sizeof(st->body));
    st->http = probe_http_start(a->run->net, &rq, on_login, st);
    return st;
}

static void timed_out(void *state, sim_probe_result *r) {
    golden_state *st = state;
    int64_t ms = st->a->run->opt.timeout_ms;
    if (st->phase == PHASE_STREAM) {
        sim_golden_check_timeout(&st->check, ms, r);
        return;
    }
    int login = st->phase == PHASE_LOGIN;
    sim_probe_fail(r, "timeout", "timeout", "no %s within %lld ms",
                   login ? "login answer" : "upgrade answer", (long long)ms);
    SIM_PROBE_SET(r->expected, login ? "login" : "upgrade");
}

static void release(void *state) {
    golden_state *st = state;
    if (st->http) probe_http_cancel(st->http);
    if (st->ws) probe_ws_release(st->ws);
    free(st);
}

const probe_kind sim_probe_kind_golden = {"golden-path", 1, prepare, start, timed_out, release};
