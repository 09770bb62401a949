/* probe_health.c -- the health probe: GET a URL, then health_check.c's
 * verdict on its status, body fields and latency. */
#include <stdio.h>
#include <stdlib.h>

#include "health_check.h"
#include "probe_http.h"
#include "probe_int.h"
#include "util.h"

typedef struct health_state {
    probe_attempt *a;
    probe_http *http;   /* NULL once answered */
} health_state;

static int prepare(const sim_probe_options *o, probe_target *t, char *err, size_t errlen) {
    return sim_probe_url_option("--url", o->url, &t->url, err, errlen);
}

static void on_reply(void *ctx, const probe_http_reply *reply) {
    health_state *st = ctx;
    probe_attempt *a = st->a;
    st->http = NULL;
    if (a->finished) return;   /* the timeout came first */
    if (reply->error) {
        sim_probe_fail(&a->res, "connect", "connect", "%s", reply->error);
    } else {
        const sim_probe_options *o = &a->run->opt;
        sim_health_expect e = {o->status, o->fields, o->nfields, o->max_latency_ms};
        sim_health_check(&e, reply->status, reply->body, reply->body_len,
                         probe_now_ms(a->run) - a->start_ms, &a->res);
    }
    probe_attempt_finish(a);
}

static void *start(probe_attempt *a) {
    health_state *st = sim_xcalloc(1, sizeof(*st));
    st->a = a;
    const probe_target *t = &a->run->target;
    probe_http_request rq = {.url = &t->url, .path = t->url.path[0] ? t->url.path : "/",
                             .method = "GET"};
    st->http = probe_http_start(a->run->net, &rq, on_reply, st);
    return st;
}

static void timed_out(void *state, sim_probe_result *r) {
    health_state *st = state;
    sim_probe_fail(r, "timeout", "timeout", "no answer within %lld ms",
                   (long long)st->a->run->opt.timeout_ms);
    SIM_PROBE_SET(r->expected, "an HTTP answer");
}

static void release(void *state) {
    health_state *st = state;
    if (st->http) probe_http_cancel(st->http);
    free(st);
}

const probe_kind sim_probe_kind_health = {"health", 1, prepare, start, timed_out, release};
