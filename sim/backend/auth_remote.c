/* auth_remote.c -- token validation at the auth service (auth_remote.h). */
#include "auth_remote.h"

#include <cjson/cJSON.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "util.h"

struct sim_auth_remote {
    struct ev_loop *loop;
    sim_auth_remote_config cfg;
    char *cacert;
    sim_dep_breaker *breaker;
    sim_auth_check *checks;      /* under way */
};

struct sim_auth_check {
    sim_auth_remote *r;
    sim_auth_check *prev, *next;
    sim_auth_remote_fn fn;
    void *ctx;
    char *token;
    sim_http_call *call;         /* NULL when refused at once */
    stagesim_breaker_permit permit;
    int64_t started_ms;
    ev_timer refused;            /* the breaker's fail-fast, from the loop */
};

static int64_t now_ms(const sim_auth_remote *r) {
    return sim_clock_now_ms(r->cfg.clock, ev_now(r->loop));
}

static void unlink_check(sim_auth_check *k) {
    if (k->prev) k->prev->next = k->next;
    else k->r->checks = k->next;
    if (k->next) k->next->prev = k->prev;
}

static void check_free(sim_auth_check *k) {
    ev_clear_pending(k->r->loop, &k->refused);
    unlink_check(k);
    free(k->token);
    free(k);
}

/* {"valid":false,"error":"token_expired",...} -> the store's status. */
static sim_auth_status refused_status(const char *error) {
    if (!error) return SIM_AUTH_INVALID;
    if (strcmp(error, "token_expired") == 0) return SIM_AUTH_EXPIRED;
    if (strcmp(error, "token_revoked") == 0) return SIM_AUTH_REVOKED;
    if (strcmp(error, "token_not_yet_valid") == 0) return SIM_AUTH_NOT_YET_VALID;
    return SIM_AUTH_INVALID;
}

static void on_reply(void *ctx, int status, const char *body, size_t len, const char *error) {
    sim_auth_check *k = ctx;
    sim_auth_remote *r = k->r;
    k->call = NULL;
    cJSON *j = status == 200 ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *valid = cJSON_GetObjectItemCaseSensitive(j, "valid");
    char why[200];
    sim_auth_status verdict = SIM_AUTH_UNAVAILABLE;
    sim_principal who;
    memset(&who, 0, sizeof(who));
    if (cJSON_IsTrue(valid)) {
        const cJSON *uid = cJSON_GetObjectItemCaseSensitive(j, "user_id");
        const cJSON *email = cJSON_GetObjectItemCaseSensitive(j, "email");
        if (cJSON_IsString(uid) && *uid->valuestring) {
            verdict = SIM_AUTH_OK;
            snprintf(who.user_id, sizeof(who.user_id), "%s", uid->valuestring);
            snprintf(who.email, sizeof(who.email), "%s",
                     cJSON_IsString(email) ? email->valuestring : "");
            if (sim_auth_token_jti(k->token, who.jti, sizeof(who.jti), &who.exp)) who.jti[0] = 0;
        }
    } else if (cJSON_IsFalse(valid)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        verdict = refused_status(cJSON_IsString(e) ? e->valuestring : NULL);
    }
    if (verdict == SIM_AUTH_UNAVAILABLE)
        snprintf(why, sizeof(why), "auth service %s",
                 status ? (status == 200 ? "answered nonsense" : "answered an error") : error);
    if (status && status != 200) {
        size_t n = strlen(why);
        snprintf(why + n, sizeof(why) - n, " (HTTP %d)", status);
    }
    cJSON_Delete(j);
    /* The service answering at all, even "not valid", is a success. */
    sim_dep_breaker_record(r->breaker, &k->permit, verdict != SIM_AUTH_UNAVAILABLE, k->started_ms);
    sim_auth_remote_fn fn = k->fn;
    void *fctx = k->ctx;
    check_free(k);
    fn(fctx, verdict, verdict == SIM_AUTH_OK ? &who : NULL,
       verdict == SIM_AUTH_UNAVAILABLE ? why : NULL);
}

static void on_refused(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_auth_check *k = t->data;
    sim_auth_remote_fn fn = k->fn;
    void *fctx = k->ctx;
    check_free(k);
    fn(fctx, SIM_AUTH_UNAVAILABLE, NULL, "Circuit breaker 'auth' is open");
}

sim_auth_check *sim_auth_remote_validate(sim_auth_remote *r, const char *token,
                                         sim_auth_remote_fn fn, void *ctx) {
    sim_auth_check *k = sim_xcalloc(1, sizeof(*k));
    k->r = r;
    k->fn = fn;
    k->ctx = ctx;
    k->token = sim_xstrdup(token);
    ev_init(&k->refused, on_refused);
    k->refused.data = k;
    k->next = r->checks;
    if (r->checks) r->checks->prev = k;
    r->checks = k;
    if (!sim_dep_breaker_acquire(r->breaker, &k->permit)) {
        ev_feed_event(r->loop, &k->refused, EV_TIMER);
        return k;
    }
    k->started_ms = now_ms(r);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "token", token);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    sim_http_call_config hc = {.port = r->cfg.port, .cacert = r->cacert, .method = "POST",
                               .path = "/auth/validate", .content_type = "application/json",
                               .body = text, .body_len = strlen(text),
                               .timeout_ms = r->cfg.timeout_ms, .clock = r->cfg.clock};
    k->call = sim_http_call_start(r->loop, &hc, on_reply, k);
    free(text);
    return k;
}

void sim_auth_remote_cancel(sim_auth_check *k) {
    if (!k) return;
    sim_http_call_cancel(k->call);
    check_free(k);
}

sim_auth_remote *sim_auth_remote_new(struct ev_loop *loop, const sim_auth_remote_config *cfg) {
    sim_auth_remote *r = sim_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->cfg = *cfg;
    r->cacert = cfg->cacert ? sim_xstrdup(cfg->cacert) : NULL;
    r->cfg.cacert = NULL;
    r->breaker = sim_dep_breaker_new(loop, cfg->clock, cfg->faults, "auth", cfg->breaker, NULL, NULL);
    return r;
}

void sim_auth_remote_free(sim_auth_remote *r) {
    if (!r) return;
    while (r->checks) sim_auth_remote_cancel(r->checks);
    sim_dep_breaker_free(r->breaker);
    free(r->cacert);
    free(r);
}

sim_dep_breaker *sim_auth_remote_breaker(sim_auth_remote *r) {
    return r ? r->breaker : NULL;
}
