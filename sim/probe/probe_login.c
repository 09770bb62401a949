/* probe_login.c -- login requests and answers for the probes (see
 * probe_login.h). */
#include "probe_login.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base64url.h"

void probe_login_request(const sim_probe_run *run, int e2e, probe_http_request *rq, char *path,
                         size_t pathlen, char *body, size_t bodylen) {
    const sim_probe_options *o = &run->opt;
    cJSON *j = cJSON_CreateObject();
    if (o->email) cJSON_AddStringToObject(j, "email", o->email);
    if (!e2e) cJSON_AddStringToObject(j, "password", o->password ? o->password : "alice-password");
    char *text = cJSON_PrintUnformatted(j);
    sim_assert(text);
    snprintf(body, bodylen, "%s", text);
    cJSON_free(text);
    cJSON_Delete(j);
    sim_probe_url_join(&run->target.auth, e2e ? "/auth/e2e/test-auth" : "/auth/login", path,
                       pathlen);
    memset(rq, 0, sizeof(*rq));
    rq->url = &run->target.auth;
    rq->path = path;
    rq->method = "POST";
    rq->body = body;
    if (e2e) {
        rq->header_name = "x-e2e-bypass-key";
        rq->header_value = o->e2e_key;
    }
}

int probe_reply_check(const probe_http_reply *reply, int want, const char *stage,
                      sim_probe_result *r) {
    if (reply->error) {
        sim_probe_fail(r, stage, "connect", "%s", reply->error);
        return -1;
    }
    if (reply->status == want) return 0;
    r->http_status = reply->status;
    sim_probe_fail(r, stage, "status", "HTTP %d %.80s", reply->status, reply->body);
    snprintf(r->expected, sizeof(r->expected), "%d", want);
    snprintf(r->got, sizeof(r->got), "%d", reply->status);
    return -1;
}

/* The sub claim of a JWT, read without checking it: the probe is not the
 * token's audience, it only wants to know whose it is. */
static int jwt_sub(const char *token, char *out, size_t outlen) {
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || dot2 - dot1 - 1 > 4096) return -1;
    unsigned char claims[4096];
    long n = sim_b64url_decode(claims, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (n < 0) return -1;
    cJSON *j = cJSON_ParseWithLength((const char *)claims, (size_t)n);
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(j, "sub");
    int rc = cJSON_IsString(sub) && *sub->valuestring ? 0 : -1;
    if (!rc) snprintf(out, outlen, "%s", sub->valuestring);
    cJSON_Delete(j);
    return rc;
}

int probe_token_member(const void *j, const char *key, char *out, size_t outlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= outlen) return -1;
    snprintf(out, outlen, "%s", v->valuestring);
    return 0;
}

int probe_login_parse(const probe_http_reply *reply, const char *stage, probe_tokens *t,
                      sim_probe_result *r) {
    memset(t, 0, sizeof(*t));
    if (probe_reply_check(reply, 200, stage, r) < 0) return -1;
    cJSON *j = cJSON_ParseWithLength(reply->body, reply->body_len);
    int rc = -1;
    if (!cJSON_IsObject(j)) {
        sim_probe_fail(r, stage, "body", "the answer is not a JSON object");
        SIM_PROBE_SET(r->expected, "a JSON object");
    } else if (probe_token_member(j, "access_token", t->access, sizeof(t->access)) < 0) {
        sim_probe_fail(r, stage, "field", "no access_token in the answer");
        SIM_PROBE_SET(r->field, "access_token");
        SIM_PROBE_SET(r->expected, "a non-empty string");
    } else {
        probe_token_member(j, "refresh_token", t->refresh, sizeof(t->refresh));
        const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user");
        if (probe_token_member(user, "id", t->user_id, sizeof(t->user_id)) == 0 ||
            jwt_sub(t->access, t->user_id, sizeof(t->user_id)) == 0) {
            rc = 0;
        } else {
            sim_probe_fail(r, stage, "field", "no user id (user.id, or the token's sub)");
            SIM_PROBE_SET(r->field, "user.id");
            SIM_PROBE_SET(r->expected, "a non-empty string");
        }
    }
    cJSON_Delete(j);
    return rc;
}
