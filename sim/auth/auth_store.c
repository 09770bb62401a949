/* auth_store.c -- the auth service's state: users (scenario + registered),
 * the signing secret and E2E key, token issuing with the claims of
 * docs/contract.md §3.2, and the revoked-jti set. Pure: `now_ms` is always
 * a parameter. */
#include "auth_int.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "jwt.h"
#include "fault.h"
#include "util.h"

#define ISSUER "netra-auth-service"
#define AUDIENCE "netra-platform"
#define ENVIRONMENT "staging"
#define SERVICE_ID "netra_auth_service_staging"
#define DEFAULT_ACCESS_TTL 1800u
#define DEFAULT_REFRESH_TTL (14u * 86400u)
/* Longest sub / jti we accept in a token: bounds what revocation stores. */
#define MAX_CLAIM_LEN SIM_MAX_USER_ID   /* every string claim, the user id among them */

/* ---- a small string-keyed open-addressing table ------------------------ */

typedef struct slot {
    char *key;      /* owned; NULL = empty */
    uint64_t hash;
    size_t val;     /* user index (email table) */
    int64_t exp_ms; /* revocation table: entry useless after this */
} slot;

typedef struct smap {
    slot *slots;
    size_t cap;     /* power of two or 0 */
    size_t len;
} smap;

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static slot *smap_find(const smap *m, const char *key) {
    if (!m->cap)
        return NULL;
    uint64_t h = fnv1a(key);
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

static void smap_insert_slot(smap *m, slot in) {
    for (size_t i = (size_t)in.hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->slots[i].key) {
            m->slots[i] = in;
            m->len++;
            return;
        }
    }
}

/* Rehashes into a table big enough for one more entry. With prune set,
 * entries whose exp has passed are dropped first (revocations of tokens
 * that are expired anyway), so the set stays bounded by live tokens. */
static void smap_grow(smap *m, int prune, int64_t now_ms) {
    size_t live = 0;
    for (size_t i = 0; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (!s->key)
            continue;
        if (prune && s->exp_ms <= now_ms) {
            free(s->key);
            s->key = NULL;
        } else {
            live++;
        }
    }
    size_t cap = m->cap ? m->cap : 16;
    while ((live + 1) * 2 > cap)
        cap *= 2;
    slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = sim_xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->len = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            smap_insert_slot(m, old[i]);
    free(old);
}

/* Takes a copy of key. The caller checked it is absent. */
static void smap_put(smap *m, const char *key, size_t val, int64_t exp_ms, int prune,
                     int64_t now_ms) {
    if ((m->len + 1) * 2 > m->cap)
        smap_grow(m, prune, now_ms);
    slot s = { sim_xstrdup(key), fnv1a(key), val, exp_ms };
    smap_insert_slot(m, s);
}

static void smap_free(smap *m) {
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- the store ----------------------------------------------------------- */

/* How one side checks tokens: the auth service itself, or the backend,
 * which in a scenario may hold another secret (the services disagreeing)
 * or another clock (skew). */
typedef struct view {
    const char *secret;         /* borrowed from the store */
    size_t secret_len;
    sim_jwt_key *key;           /* of secret; owned by the store */
    int64_t skew_ms;            /* its clock minus the issuer's */
    int64_t leeway_ms;          /* PyJWT's leeway for exp, nbf and iat */
} view;

struct sim_auth_store {
    uint64_t seed;
    char *secret;
    size_t secret_len;
    char *backend_secret;       /* NULL: the backend uses `secret` */
    view issuer, backend;
    char *e2e_key;              /* NULL: not configured */
    unsigned access_ttl;
    unsigned refresh_ttl;
    sim_auth_user *users;
    size_t nusers, capusers;
    smap by_email;              /* email -> index into users */
    smap revoked;               /* jti -> exp */
    smap issued;                /* "type\nsub" -> tokens issued: the jti's ordinal */
    sim_faults *faults;         /* token checks cross it as auth.token; may be NULL */
    size_t nscenario_users;     /* users[0 .. n) came from the scenario */
    smap revoked_users;         /* user id -> tokens with iat before this (epoch s) are revoked */
    sim_auth_revoke_fn on_revoke;
    void *on_revoke_ctx;
};

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *local_part_dup(const char *email) {
    const char *at = strchr(email, '@');
    return at ? sim_xstrndup(email, (size_t)(at - email)) : sim_xstrdup(email);
}

static sim_auth_user *add_user(sim_auth_store *st, const char *id, const char *email,
                               const char *password, const char *name,
                               char *const *perms, size_t nperms) {
    if (st->nusers == st->capusers) {
        st->capusers = st->capusers ? st->capusers * 2 : 8;
        st->users = sim_xrealloc(st->users, st->capusers * sizeof *st->users);
    }
    sim_auth_user *u = &st->users[st->nusers];
    memset(u, 0, sizeof *u);
    u->id = sim_xstrdup(id);
    u->email = sim_xstrdup(email);
    u->password = sim_xstrdup(password ? password : "");
    u->name = name ? sim_xstrdup(name) : local_part_dup(email);
    if (nperms) {
        u->permissions = sim_xcalloc(nperms, sizeof *u->permissions);
        for (size_t i = 0; i < nperms; i++)
            u->permissions[i] = sim_xstrdup(perms[i]);
        u->npermissions = nperms;
    }
    smap_put(&st->by_email, email, st->nusers, 0, 0, 0);
    st->nusers++;
    return u;
}

sim_auth_store *sim_auth_store_new(const sim_scenario *sc, uint64_t seed) {
    sim_auth_store *st = sim_xcalloc(1, sizeof *st);
    st->seed = seed;
    st->access_ttl = sc && sc->access_ttl_s ? sc->access_ttl_s : DEFAULT_ACCESS_TTL;
    st->refresh_ttl = sc && sc->refresh_ttl_s ? sc->refresh_ttl_s : DEFAULT_REFRESH_TTL;

    /* Secret precedence mirrors the auth service: JWT_SECRET_STAGING, then
     * JWT_SECRET_KEY, then the scenario, then one made up from the seed (so
     * a rerun with the same seed signs identically) and logged for clients. */
    const char *src = "JWT_SECRET_STAGING";
    const char *secret = env_nonempty("JWT_SECRET_STAGING");
    if (!secret) {
        src = "JWT_SECRET_KEY";
        secret = env_nonempty("JWT_SECRET_KEY");
    }
    if (!secret && sc && sc->jwt_secret && *sc->jwt_secret) {
        src = "scenario";
        secret = sc->jwt_secret;
    }
    if (secret) {
        st->secret = sim_xstrdup(secret);
        sim_info("auth: JWT secret from %s", src);
        if (strlen(secret) < 32)
            sim_warn("auth: JWT secret from %s is shorter than the 32 characters staging requires",
                     src);
    } else {
        st->secret = sim_xmalloc(65);
        sim_hex(st->secret, 64, sim_mix(seed, "jwt_secret", 0, 0));
        sim_warn("auth: no JWT secret configured (JWT_SECRET_STAGING, JWT_SECRET_KEY or the "
                 "scenario); generated from the seed: %s", st->secret);
    }
    st->secret_len = strlen(st->secret);
    int64_t leeway_ms = sc ? (int64_t)sc->auth_leeway_s * 1000 : 0;
    st->issuer = (view){st->secret, st->secret_len, sim_jwt_key_new(st->secret, st->secret_len),
                        0, leeway_ms};
    st->backend = st->issuer;
    if (sc && sc->backend_jwt_secret) {
        st->backend_secret = sim_xstrdup(sc->backend_jwt_secret);
        st->backend.secret = st->backend_secret;
        st->backend.secret_len = strlen(st->backend_secret);
        st->backend.key = sim_jwt_key_new(st->backend.secret, st->backend.secret_len);
        sim_info("auth: the backend checks tokens with a secret of its own (scenario)");
    }
    if (sc) st->backend.skew_ms = sc->backend_clock_skew_ms;

    const char *key = env_nonempty("E2E_OAUTH_SIMULATION_KEY");
    if (!key && sc && sc->e2e_key && *sc->e2e_key)
        key = sc->e2e_key;
    st->e2e_key = key ? sim_xstrdup(key) : NULL;

    for (size_t i = 0; sc && i < sc->nusers; i++) {
        const sim_user *u = &sc->users[i];
        if (!u->email || !u->id || smap_find(&st->by_email, u->email))
            continue;   /* the scenario loader rejects duplicates; be safe anyway */
        add_user(st, u->id, u->email, u->password, NULL, u->permissions, u->npermissions);
    }
    st->nscenario_users = st->nusers;
    return st;
}

static void user_free(sim_auth_user *u) {
    free(u->id);
    free(u->email);
    if (u->password)
        OPENSSL_cleanse(u->password, strlen(u->password));
    free(u->password);
    free(u->name);
    for (size_t k = 0; k < u->npermissions; k++)
        free(u->permissions[k]);
    free(u->permissions);
}

void sim_auth_store_forget(sim_auth_store *st, int64_t now_ms) {
    for (size_t i = st->nscenario_users; i < st->nusers; i++)
        user_free(&st->users[i]);
    st->nusers = st->nscenario_users;
    smap_free(&st->by_email);
    for (size_t i = 0; i < st->nusers; i++)
        smap_put(&st->by_email, st->users[i].email, i, 0, 0, now_ms);
    smap_free(&st->revoked);
    smap_free(&st->revoked_users);
}

void sim_auth_store_free(sim_auth_store *st) {
    if (!st)
        return;
    for (size_t i = 0; i < st->nusers; i++)
        user_free(&st->users[i]);
    free(st->users);
    smap_free(&st->by_email);
    smap_free(&st->revoked);
    smap_free(&st->issued);
    smap_free(&st->revoked_users);
    if (st->backend.key != st->issuer.key)
        sim_jwt_key_free(st->backend.key);
    sim_jwt_key_free(st->issuer.key);
    free(st->secret);
    free(st->backend_secret);
    free(st->e2e_key);
    free(st);
}

const sim_auth_user *sim_auth_store_by_email(const sim_auth_store *st, const char *email) {
    const slot *s = email ? smap_find(&st->by_email, email) : NULL;
    return s ? &st->users[s->val] : NULL;
}

/* Linear: only used for refresh and tests, and users are few. */
const sim_auth_user *sim_auth_store_by_id(const sim_auth_store *st, const char *id) {
    for (size_t i = 0; id && i < st->nusers; i++)
        if (strcmp(st->users[i].id, id) == 0)
            return &st->users[i];
    return NULL;
}

/* The id depends only on the seed and the email, never on the order in
 * which clients registered. Formatted like the UUIDs staging hands out. */
const sim_auth_user *sim_auth_store_register(sim_auth_store *st, const char *email,
                                             const char *password, const char *name) {
    if (smap_find(&st->by_email, email))
        return NULL;
    char hex[33], id[40];
    sim_hex(hex, 32, sim_mix(st->seed, "user", fnv1a(email), 0));
    snprintf(id, sizeof id, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return add_user(st, id, email, password, name, NULL, 0);
}

int sim_auth_password_ok(const sim_auth_user *u, const char *password) {
    size_t a = strlen(u->password), b = strlen(password);
    if (a != b)
        return 0;
    return CRYPTO_memcmp(u->password, password, a) == 0;
}

/* A number as cJSON 1.7.15 prints it: NaN and infinities as null, an
 * integral value within int as "%d", anything else "%1.15g", or "%1.17g"
 * when that does not read back (within cJSON's epsilon). */
static void json_number(sim_buf *b, double d) {
    if (isnan(d) || isinf(d)) {
        sim_buf_puts(b, "null");
        return;
    }
    if (d >= INT_MIN && d <= INT_MAX && d == (double)(int)d) {
        sim_buf_i64(b, (int64_t)d);
        return;
    }
    char s[32];
    snprintf(s, sizeof s, "%1.15g", d);
    double back = strtod(s, NULL);
    if (fabs(back - d) > fmax(fabs(back), fabs(d)) * DBL_EPSILON)
        snprintf(s, sizeof s, "%1.17g", d);
    sim_buf_puts(b, s);
}

/* A cJSON array (NULL: []) as cJSON prints it; of strings, without it. */
static void json_strings(sim_buf *b, const void *array) {
    const cJSON *a = array, *it;
    int strings = 1;
    cJSON_ArrayForEach(it, a) strings = strings && cJSON_IsString(it);
    if (a && (!strings || !cJSON_IsArray(a))) {
        char *text = cJSON_PrintUnformatted(a);
        sim_buf_puts(b, text ? text : "null");
        cJSON_free(text);
        return;
    }
    sim_buf_puts(b, "[");
    cJSON_ArrayForEach(it, a) {
        if (it != a->child) sim_buf_puts(b, ",");
        sim_buf_json_str(b, it->valuestring);
    }
    sim_buf_puts(b, "]");
}

char *sim_auth_store_issue(sim_auth_store *st, const char *type, const char *sub,
                           const char *email, const void *permissions, int64_t now_ms) {
    int access = strcmp(type, "access") == 0;
    double iat = floor((double)now_ms / 1000.0);   /* claims are epoch seconds */
    double exp = iat + (access ? st->access_ttl : st->refresh_ttl);
    char jti[17];
    /* Deterministic from the subject's own ordinals: the user and how many
     * tokens of this type they got so far; never the clock, rand or the order
     * in which different users logged in. */
    char counter_key[160];
    snprintf(counter_key, sizeof(counter_key), "%s\n%s", type, sub);
    slot *issued = smap_find(&st->issued, counter_key);
    if (!issued) {
        smap_put(&st->issued, counter_key, 0, 0, 0, now_ms);
        issued = smap_find(&st->issued, counter_key);
    }
    sim_hex(jti, 16, sim_mix(st->seed, counter_key, ++issued->val, 0));

    /* The claims as cJSON_PrintUnformatted prints them (the same bytes,
     * member for member), without building the tree. */
    sim_buf p = {0};
    sim_buf_reserve(&p, 512);
    sim_buf_puts(&p, "{\"sub\":");
    sim_buf_json_str(&p, sub);
    sim_buf_puts(&p, ",\"iat\":");
    json_number(&p, iat);
    sim_buf_puts(&p, ",\"exp\":");
    json_number(&p, exp);
    sim_buf_puts(&p, ",\"token_type\":");
    sim_buf_json_str(&p, type);
    sim_buf_puts(&p, ",\"type\":");
    sim_buf_json_str(&p, type);
    sim_buf_puts(&p, ",\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\",\"jti\":\"");
    sim_buf_puts(&p, jti);
    sim_buf_puts(&p, "\",\"env\":\"" ENVIRONMENT "\",\"svc_id\":\"" SERVICE_ID "\",\"email\":");
    sim_buf_json_str(&p, email ? email : "");
    sim_buf_puts(&p, ",\"permissions\":");
    json_strings(&p, permissions);
    sim_buf_puts(&p, "}");
    char *tok = sim_jwt_sign_payload(st->issuer.key, p.data, p.len);
    sim_buf_free(&p);
    return tok;
}

static const char *str_claim(const cJSON *c, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
    if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) > MAX_CLAIM_LEN)
        return NULL;
    return v->valuestring;
}

/* aud, when the token has one, must name the platform (a string, or an
 * array holding it), as PyJWT checks it given the backend's audience. */
static int audience_ok(const cJSON *c) {
    const cJSON *aud = cJSON_GetObjectItemCaseSensitive(c, "aud");
    if (!aud) return 1;
    if (cJSON_IsString(aud)) return strcmp(aud->valuestring, AUDIENCE) == 0;
    const cJSON *it;
    if (!cJSON_IsArray(aud)) return 0;
    cJSON_ArrayForEach(it, aud)
        if (cJSON_IsString(it) && strcmp(it->valuestring, AUDIENCE) == 0) return 1;
    return 0;
}

static int num_claim(const cJSON *c, const char *name, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, name);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return -1;
    *out = v->valuedouble;
    return 0;
}

/* The claims checks as PyJWT 2 applies them, then our own: signature and
 * alg, the required claims, iat and nbf not in the future and exp not
 * reached (each with the leeway, against the checker's clock at whole
 * seconds, as PyJWT's now = int(time)), aud when the token has one, iss,
 * token_type, revocation; then the auth.token crossing. */
static int revoked_for_user(const sim_auth_store *st, const char *sub, double iat) {
    const slot *s = st->revoked_users.len ? smap_find(&st->revoked_users, sub) : NULL;
    return s && iat < (double)s->val;
}

static sim_auth_status check(sim_auth_store *st, const view *v, const char *token,
                             const char *type, int64_t now_ms, void **claims_out) {
    if (claims_out)
        *claims_out = NULL;
    void *parsed = NULL;
    if (sim_jwt_verify_key(token, v->key, &parsed) != SIM_JWT_OK)
        return SIM_AUTH_INVALID;
    cJSON *c = parsed;
    double iat, exp;
    const char *iss = str_claim(c, "iss"), *tt = str_claim(c, "token_type");
    const char *jti = str_claim(c, "jti");
    sim_auth_status rc = SIM_AUTH_OK;
    int64_t now = now_ms + v->skew_ms;
    now -= ((now % 1000) + 1000) % 1000;   /* whole seconds */
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(c, "nbf");
    if (!str_claim(c, "sub") || !jti || num_claim(c, "iat", &iat) || num_claim(c, "exp", &exp) ||
        (nbf && !cJSON_IsNumber(nbf)) || !audience_ok(c) || !iss || strcmp(iss, ISSUER) != 0 ||
        !tt || strcmp(tt, type) != 0)
        rc = SIM_AUTH_INVALID;
    else if (sim_epoch_s_to_ms(iat) > now + v->leeway_ms ||
             (nbf && sim_epoch_s_to_ms(nbf->valuedouble) > now + v->leeway_ms))
        rc = SIM_AUTH_NOT_YET_VALID;
    else if (sim_epoch_s_to_ms(exp) <= now - v->leeway_ms)
        rc = SIM_AUTH_EXPIRED;   /* PyJWT's rule: expired once now reaches exp */
    else if (smap_find(&st->revoked, jti))
        rc = SIM_AUTH_REVOKED;
    else if (revoked_for_user(st, str_claim(c, "sub"), iat))
        rc = SIM_AUTH_REVOKED;
    if (rc == SIM_AUTH_OK && st->faults) {
        /* Every token check of every service comes through here: the one
         * place a rule can make a good token fail (services that disagree
         * on the secret, a revocation list out of sync). */
        sim_wire w = {.service = SIM_SVC_AUTH, .point = SIM_WIRE_REQUEST, .proto = "jwt",
                      .name = type, .user_id = str_claim(c, "sub")};
        sim_action a;
        sim_faults_cross(st->faults, &w, now_ms, &a);
        if (a.kind == SIM_ACT_REPLY)
            rc = SIM_AUTH_INVALID;
    }
    if (rc == SIM_AUTH_OK && claims_out)
        *claims_out = c;
    else
        cJSON_Delete(c);
    return rc;
}

sim_auth_status sim_auth_store_check(sim_auth_store *st, const char *token, const char *type,
                                     int64_t now_ms, void **claims_out) {
    return check(st, &st->issuer, token, type, now_ms, claims_out);
}

void sim_auth_store_revoke_token(sim_auth_store *st, const char *jti, double exp, int64_t now_ms) {
    int64_t exp_ms = sim_epoch_s_to_ms(exp);
    if (!jti || !*jti || exp_ms <= now_ms || smap_find(&st->revoked, jti))
        return;
    smap_put(&st->revoked, jti, 0, exp_ms, 1, now_ms);
}

void sim_auth_store_revoke(sim_auth_store *st, const char *jti, const char *sub, double exp,
                           int64_t now_ms) {
    if (!jti || !*jti || smap_find(&st->revoked, jti)) return;
    sim_auth_store_revoke_token(st, jti, exp, now_ms);
    if (st->on_revoke) st->on_revoke(st->on_revoke_ctx, sub, jti, now_ms);
}

void sim_auth_store_revoke_user(sim_auth_store *st, const char *user_id, int64_t now_ms) {
    size_t before = (size_t)(now_ms / 1000);   /* the current second, epoch s */
    slot *s = smap_find(&st->revoked_users, user_id);
    if (s) s->val = before;
    else smap_put(&st->revoked_users, user_id, before, 0, 0, now_ms);
    if (st->on_revoke) st->on_revoke(st->on_revoke_ctx, user_id, NULL, now_ms);
}

int sim_auth_token_jti(const char *token, char *jti, size_t jtilen, double *exp) {
    cJSON *c = sim_jwt_peek_claims(token);
    const char *j = c ? str_claim(c, "jti") : NULL;
    int rc = j && !num_claim(c, "exp", exp) ? 0 : -1;
    if (!rc) snprintf(jti, jtilen, "%s", j);
    cJSON_Delete(c);
    return rc;
}

void sim_auth_store_on_revoke(sim_auth_store *st, sim_auth_revoke_fn fn, void *ctx) {
    st->on_revoke = fn;
    st->on_revoke_ctx = ctx;
}

const char *sim_auth_status_text(sim_auth_status st) {
    switch (st) {
    case SIM_AUTH_EXPIRED: return "Token has expired";
    case SIM_AUTH_REVOKED: return "Token has been revoked";
    case SIM_AUTH_NOT_YET_VALID: return "Token is not yet valid";
    case SIM_AUTH_UNAVAILABLE: return "Authentication service unavailable";
    case SIM_AUTH_OK: return "ok";
    default: return "Invalid token";
    }
}

sim_auth_status sim_auth_check_access(sim_auth_store *st, const char *token, int64_t now_ms,
                                      sim_principal *out) {
    void *v = NULL;
    sim_auth_status rc = check(st, &st->backend, token, "access", now_ms, &v);
    if (rc != SIM_AUTH_OK)
        return rc;
    cJSON *c = v;
    if (out) {
        const cJSON *email = cJSON_GetObjectItemCaseSensitive(c, "email");
        snprintf(out->user_id, sizeof out->user_id, "%s", str_claim(c, "sub"));
        snprintf(out->email, sizeof out->email, "%s",
                 cJSON_IsString(email) ? email->valuestring : "");
        snprintf(out->jti, sizeof out->jti, "%s", str_claim(c, "jti"));
        num_claim(c, "exp", &out->exp);
    }
    cJSON_Delete(c);
    return SIM_AUTH_OK;
}

char *sim_auth_issue_access(sim_auth_store *st, const char *user_id, const char *email,
                            int64_t now_ms) {
    const sim_auth_user *u = sim_auth_store_by_id(st, user_id);
    cJSON *perms = cJSON_CreateArray();
    for (size_t i = 0; u && i < u->npermissions; i++)
        cJSON_AddItemToArray(perms, cJSON_CreateString(u->permissions[i]));
    char *tok = sim_auth_store_issue(st, "access", user_id, email ? email : u ? u->email : "",
                                     perms, now_ms);
    cJSON_Delete(perms);
    return tok;
}

const char *sim_auth_store_e2e_key(const sim_auth_store *st) { return st->e2e_key; }
void sim_auth_store_set_faults(sim_auth_store *st, sim_faults *f) { st->faults = f; }
unsigned sim_auth_store_access_ttl(const sim_auth_store *st) { return st->access_ttl; }
size_t sim_auth_store_revoked_count(const sim_auth_store *st) { return st->revoked.len; }
