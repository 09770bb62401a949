/* test_drill_journal.c -- journal lines parsed and merged by time; the
 * canonical form (no timing members), the canonical order (connections
 * grouped whatever their interleaving), and the SHA-256 chain. */
#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_journal.h"
#include "tap.h"
#include "util.h"

static void parse(sim_drill_journal *j, const char *text) {
    char err[128] = "";
    memset(j, 0, sizeof(*j));
    ok(sim_drill_journal_parse(j, text, err, sizeof(err)) == 0, "journal parses (%s)", err);
}

/* Two connections whose lines interleave differently in a and b, with
 * other times, and a breaker event. */
static const char run_a[] =
    "{\"t_ms\":1,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":2}\n"
    "{\"t_ms\":2,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":1}\n"
    "{\"t_ms\":3,\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"closed\","
    "\"to\":\"open\",\"eligible_ms\":3,\"reason\":\"manual\"}\n"
    "{\"t_ms\":4,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":1,\"msg\":1}\n"
    "{\"t_ms\":5,\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":10,\"latency_ms\":7}\n"
    "{\"t_ms\":6,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":2,\"msg\":1}\n"
    "{\"t_ms\":7,\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":9}\n";
static const char run_b[] =
    "{\"t_ms\":11,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":1}\n"
    "{\"t_ms\":12,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":1,\"msg\":1}\n"
    "{\"t_ms\":13,\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":9}\n"
    "{\"t_ms\":14,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":2}\n"
    "{\"t_ms\":15,\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":2,\"msg\":1}\n"
    "{\"t_ms\":16,\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":10,\"latency_ms\":7}\n"
    "{\"t_ms\":99,\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"closed\","
    "\"to\":\"open\",\"eligible_ms\":42,\"reason\":\"manual\"}\n";

static void test_canonical(void) {
    sim_drill_journal a, b;
    parse(&a, run_a);
    parse(&b, run_b);
    is_int(a.n, 7, "seven lines");
    sim_drill_digest da, db;
    sim_drill_digest_compute(&a, &da);
    sim_drill_digest_compute(&b, &db);
    is_int(da.n, 7, "seven canonical lines");
    /* auth before backend; crossings by proto and conn (9 before 10,
     * numerically); events after the crossings of their svc. */
    static const char *const order[] = {
        "{\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":9}",
        "{\"svc\":\"auth\",\"proto\":\"http\",\"point\":\"request\",\"conn\":10,\"latency_ms\":7}",
        "{\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":1}",
        "{\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":1,\"msg\":1}",
        "{\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"accept\",\"conn\":2}",
        "{\"svc\":\"backend\",\"proto\":\"ws\",\"point\":\"send\",\"conn\":2,\"msg\":1}",
        ("{\"svc\":\"backend\",\"event\":\"breaker\",\"breaker\":\"redis\",\"from\":\"closed\","
         "\"to\":\"open\",\"reason\":\"manual\"}"),
    };
    for (size_t i = 0; i < 7; i++) is_str(da.lines[i], order[i], "canonical line %zu", i + 1);
    is_str(da.final, db.final, "other interleaving and other times: the same digest");
    ok(sim_drill_digest_first_difference(&da, db.chain, db.n) == -1, "the same chain");

    /* The first link by hand: sha256(32 zero bytes || line 1). */
    unsigned char buf[32 + 256] = {0}, h[32];
    size_t len = strlen(order[0]);
    memcpy(buf + 32, order[0], len);
    unsigned int hl;
    EVP_Digest(buf, 32 + len, h, &hl, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++) sprintf(hex + 2 * i, "%02x", h[i]);
    is_str(da.chain[0], hex, "chain[0] = sha256(zeros || line 1)");
    is_str(da.chain[6], da.final, "the final digest is the last link");
    sim_drill_digest_free(&db);
    sim_drill_journal_free(&b);

    /* One member changed in line 4 of the canonical order. */
    char changed[sizeof(run_b)];
    snprintf(changed, sizeof(changed), "%s", run_b);
    memcpy(strstr(changed, "\"conn\":2,\"msg\":1"), "\"conn\":2,\"msg\":2", 16);
    parse(&b, changed);
    sim_drill_digest_compute(&b, &db);
    ok(strcmp(da.final, db.final) != 0, "another value: another digest");
    is_int(sim_drill_digest_first_difference(&da, db.chain, db.n), 5, "the first difference is "
           "canonical line 6");
    is_int(sim_drill_digest_first_difference(&da, db.chain, 3), 3, "a shorter chain: line 4 extra");
    sim_drill_digest_free(&db);
    sim_drill_journal_free(&b);
    sim_drill_digest_free(&da);
    sim_drill_journal_free(&a);
}

static void test_empty_and_bad(void) {
    sim_drill_journal j;
    parse(&j, "");
    sim_drill_digest d;
    sim_drill_digest_compute(&j, &d);
    is_int(d.n, 0, "no lines");
    is_str(d.final, "0000000000000000000000000000000000000000000000000000000000000000",
           "the digest of nothing is the zero link");
    sim_drill_digest_free(&d);
    char err[128] = "";
    ok(sim_drill_journal_parse(&j, "{}\n\n[1]\n", err, sizeof(err)) == -1, "an array is not a line");
    is_str(err, "journal line 3: not a JSON object", "the line named");
    sim_drill_journal_free(&j);
}

static void test_insert_by_time(void) {
    sim_drill_journal j;
    parse(&j, "{\"t_ms\":1,\"n\":1}\n{\"t_ms\":5,\"n\":2}\n{\"t_ms\":5,\"n\":3}\n{\"t_ms\":9,\"n\":4}\n");
    ok(sim_drill_journal_insert_by_time(&j, "{\"t_ms\":5,\"n\":9}") == 0, "inserted");
    ok(sim_drill_journal_insert_by_time(&j, "{\"t_ms\":0,\"n\":0}") == 0, "inserted first");
    ok(sim_drill_journal_insert_by_time(&j, "not json") == -1, "not a line");
    char order[32] = "";
    for (size_t i = 0; i < j.n; i++)
        order[i] = (char)('0' + cJSON_GetObjectItem(j.lines[i], "n")->valueint);
    is_str(order, "012394", "after the lines of its time, before later ones");
    sim_drill_journal_free(&j);
}

/* A `mark` rule's firings are journaled but left out of the digest: their
 * number follows timing (docs/faults.md). */
static void test_marks_left_out(void) {
    sim_drill_journal a, b;
    parse(&a, run_a);
    sim_buf with = {0};
    sim_buf_puts(&with, run_a);
    sim_buf_puts(&with, "{\"t_ms\":8,\"svc\":\"backend\",\"proto\":\"dep\",\"point\":\"connect\","
                        "\"conn\":3,\"name\":\"redis\",\"rule\":\"m\",\"action\":\"mark\"}\n");
    sim_buf_puts(&with, "{\"t_ms\":9,\"svc\":\"redis\",\"proto\":\"resp\",\"point\":\"request\","
                        "\"conn\":1,\"name\":\"rpush\",\"rule\":\"m\",\"action\":\"delay\"}\n");
    parse(&b, with.data);
    sim_buf_free(&with);
    is_int(b.n, a.n + 2, "both lines are in the journal");
    sim_drill_digest da, db;
    sim_drill_digest_compute(&a, &da);
    sim_drill_digest_compute(&b, &db);
    is_int(db.n, da.n + 1, "the mark is not a canonical line; another action is");
    ok(strcmp(da.final, db.final) != 0, "so the digest still sees the other firing");
    sim_drill_digest_free(&da);
    sim_drill_digest_free(&db);
    sim_drill_journal_free(&a);
    sim_drill_journal_free(&b);
}

int main(void) {
    test_canonical();
    test_marks_left_out();
    test_empty_and_bad();
    test_insert_by_time();
    return tap_done();
}
