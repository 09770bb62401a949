/* drill_journal.c -- journal lines parsed, put in canonical form and order,
 * and chained through SHA-256 (OpenSSL EVP), so that two runs of one drill
 * compare line by line although connections interleave by arrival. */
#include "drill_journal.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static void push_at(sim_drill_journal *j, size_t at, cJSON *line) {
    if (j->n == j->cap) {
        j->cap = j->cap ? 2 * j->cap : 256;
        j->lines = sim_xrealloc(j->lines, j->cap * sizeof(cJSON *));
    }
    memmove(&j->lines[at + 1], &j->lines[at], (j->n - at) * sizeof(cJSON *));
    j->lines[at] = line;
    j->n++;
}

int sim_drill_journal_parse(sim_drill_journal *j, const char *text, char *err, size_t errlen) {
    size_t lineno = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len) {
            cJSON *line = cJSON_ParseWithLength(p, len);
            if (!cJSON_IsObject(line)) {
                cJSON_Delete(line);
                snprintf(err, errlen, "journal line %zu: not a JSON object", lineno);
                return -1;
            }
            push_at(j, j->n, line);
        }
        p += len + (nl ? 1 : 0);
    }
    return 0;
}

static double t_ms(const cJSON *line) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "t_ms");
    return cJSON_IsNumber(t) ? t->valuedouble : 0;
}

int sim_drill_journal_insert_by_time(sim_drill_journal *j, const char *text) {
    cJSON *line = cJSON_Parse(text);
    if (!cJSON_IsObject(line)) {
        cJSON_Delete(line);
        return -1;
    }
    size_t at = j->n;
    while (at > 0 && t_ms(j->lines[at - 1]) > t_ms(line)) at--;
    push_at(j, at, line);
    return 0;
}

void sim_drill_journal_free(sim_drill_journal *j) {
    for (size_t i = 0; i < j->n; i++) cJSON_Delete(j->lines[i]);
    free(j->lines);
    memset(j, 0, sizeof(*j));
}

/* ---- canonical form ------------------------------------------------------ */

/* The members that depend on timing (docs/drills.md §7). */
static const char *const timing_members[] = {"t_ms", "eligible_ms"};

static char *canonical_line(const cJSON *line) {
    cJSON *copy = cJSON_Duplicate(line, 1);
    for (size_t i = 0; i < sizeof(timing_members) / sizeof(timing_members[0]); i++)
        cJSON_DeleteItemFromObjectCaseSensitive(copy, timing_members[i]);
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

/* A line's group: (svc, crossing before event, proto, conn). */
typedef struct group_key {
    const char *svc, *proto;
    int event;
    double conn;
    size_t seq;      /* its place in the journal: order within a group */
} group_key;

static const char *member_text(const cJSON *line, const char *name) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int key_cmp(const void *pa, const void *pb) {
    const group_key *a = pa, *b = pb;
    int c = strcmp(a->svc, b->svc);
    if (c) return c;
    if (a->event != b->event) return a->event - b->event;
    if ((c = strcmp(a->proto, b->proto))) return c;
    if (a->conn != b->conn) return a->conn < b->conn ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void to_hex(const unsigned char *d, char *out) {
    for (size_t i = 0; i < 32; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

void sim_drill_digest_compute(const sim_drill_journal *j, sim_drill_digest *d) {
    memset(d, 0, sizeof(*d));
    group_key *keys = sim_xcalloc(j->n + 1, sizeof(group_key));
    size_t n = 0;
    for (size_t i = 0; i < j->n; i++) {
        /* A `mark` rule's firings count crossings that are left out of the
         * journal because their number follows timing (Redis commands, the
         * backend's connection attempts): out of the digest too. */
        if (strcmp(member_text(j->lines[i], "action"), "mark") == 0) continue;
        const cJSON *conn = cJSON_GetObjectItemCaseSensitive(j->lines[i], "conn");
        keys[n++] = (group_key){.svc = member_text(j->lines[i], "svc"),
                                .proto = member_text(j->lines[i], "proto"),
                                .event = !cJSON_IsNumber(conn),
                                .conn = cJSON_IsNumber(conn) ? conn->valuedouble : 0,
                                .seq = i};
    }
    /* The sequence number breaks every tie, so qsort's instability cannot
     * reorder a group. */
    qsort(keys, n, sizeof(group_key), key_cmp);
    d->n = n;
    d->lines = sim_xcalloc(j->n + 1, sizeof(char *));
    d->chain = sim_xcalloc(j->n + 1, sizeof(*d->chain));
    unsigned char h[32] = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    for (size_t i = 0; i < n; i++) {
        d->lines[i] = canonical_line(j->lines[keys[i].seq]);
        unsigned int len = 0;
        /* SHA-256 over memory fails only when libcrypto itself is broken. */
        int hashed = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
                     EVP_DigestUpdate(ctx, h, sizeof(h)) &&
                     EVP_DigestUpdate(ctx, d->lines[i], strlen(d->lines[i])) &&
                     EVP_DigestFinal_ex(ctx, h, &len);
        sim_assert(hashed);
        to_hex(h, d->chain[i]);
    }
    EVP_MD_CTX_free(ctx);
    to_hex(h, d->final);
    free(keys);
}

void sim_drill_digest_free(sim_drill_digest *d) {
    for (size_t i = 0; i < d->n; i++) free(d->lines[i]);
    free(d->lines);
    free(d->chain);
    memset(d, 0, sizeof(*d));
}

long sim_drill_digest_first_difference(const sim_drill_digest *d, char (*expected)[SIM_DRILL_HEX],
                                       size_t nexpected) {
    size_t n = d->n < nexpected ? d->n : nexpected;
    for (size_t i = 0; i < n; i++)
        if (strcmp(d->chain[i], expected[i]) != 0) return (long)i;
    return d->n == nexpected ? -1 : (long)n;
}
