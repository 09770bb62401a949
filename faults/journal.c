/* journal.c -- the journal's ring of recent lines and its file. */
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* The strings of a crossing, by their offsets in the entry's text. */
enum { S_PROTO, S_METHOD, S_NAME, S_KEY, S_USER, S_RULE, NSTR };
#define NO_STR UINT32_MAX

typedef struct entry {
    sim_buf text;          /* the line; for a crossing, its strings, each NUL-ended */
    int64_t t_ms;
    uint64_t conn, msg, run;
    int status, code;
    uint32_t delay_ms, latency_ms;
    uint32_t str[NSTR];    /* offsets into text, NO_STR when absent */
    unsigned char crossing, service, point, action;
} entry;

struct sim_journal {
    FILE *file;
    entry *ring;      /* SIM_JOURNAL_RING entries; ring[seq % SIM_JOURNAL_RING]. An
                         entry keeps its buffer for the line that replaces it. */
    uint64_t seq;     /* last line written */
    sim_buf line;     /* scratch: a crossing's line for the file */
};

sim_journal *sim_journal_open(const char *path) {
    FILE *file = NULL;
    if (path && !(file = fopen(path, "w"))) return NULL;
    sim_journal *j = sim_xcalloc(1, sizeof(*j));
    j->file = file;
    j->ring = sim_xcalloc(SIM_JOURNAL_RING, sizeof(entry));
    return j;
}

void sim_journal_free(sim_journal *j) {
    if (!j) return;
    if (j->file) fclose(j->file);
    for (size_t i = 0; i < SIM_JOURNAL_RING; i++) sim_buf_free(&j->ring[i].text);
    free(j->ring);
    sim_buf_free(&j->line);
    free(j);
}

/* The next entry, its text emptied with room for len bytes and the NUL. The
 * buffer is kept when it fits without wasting more than 64 bytes: no malloc
 * per line, and a full ring costs what the lines do. */
static entry *next_entry(sim_journal *j, size_t len) {
    entry *e = &j->ring[++j->seq % SIM_JOURNAL_RING];
    sim_buf *t = &e->text;
    if (t->cap < len + 1 || t->cap > len + 1 + 64) {
        free(t->data);
        t->cap = (len + 1 + 31) & ~(size_t)31;
        t->data = sim_xmalloc(t->cap);
    }
    t->len = 0;
    t->data[0] = '\0';
    return e;
}

static void write_line(sim_journal *j, const char *line, size_t len) {
    fwrite(line, 1, len, j->file);
    fputc('\n', j->file);
}

void sim_journal_add(sim_journal *j, const char *line, size_t len) {
    entry *e = next_entry(j, len);
    e->crossing = 0;
    memcpy(e->text.data, line, len);
    e->text.data[len] = '\0';
    e->text.len = len;
    if (j->file) write_line(j, line, len);
}

static const char *str_of(const entry *e, int k) {
    return e->str[k] == NO_STR ? NULL : e->text.data + e->str[k];
}

/* A crossing's line. Its members, in order: t_ms, svc, proto, point, conn,
 * then msg, run, method, name, key, user, status when set, the rule's
 * action when one fired, the network's latency when it added some. */
static void format_crossing(const entry *e, sim_buf *b) {
    const char *proto = str_of(e, S_PROTO), *rule = str_of(e, S_RULE);
    sim_buf_puts(b, "{\"t_ms\":");
    sim_buf_i64(b, e->t_ms);
    sim_buf_puts(b, ",\"svc\":\"");
    sim_buf_puts(b, sim_service_name((sim_service)e->service));
    sim_buf_puts(b, "\",\"proto\":\"");
    sim_buf_puts(b, proto ? proto : "");
    sim_buf_puts(b, "\",\"point\":\"");
    sim_buf_puts(b, sim_wire_point_name((sim_wire_point)e->point));
    sim_buf_puts(b, "\",\"conn\":");
    sim_buf_u64(b, e->conn);
    if (e->msg) {
        sim_buf_puts(b, ",\"msg\":");
        sim_buf_u64(b, e->msg);
    }
    if (e->run) {
        sim_buf_puts(b, ",\"run\":");
        sim_buf_u64(b, e->run);
    }
    static const char *const keys[] = {[S_METHOD] = "method", [S_NAME] = "name", [S_KEY] = "key",
                                       [S_USER] = "user"};
    for (int k = S_METHOD; k <= S_USER; k++)
        if (e->str[k] != NO_STR) sim_json_member(b, keys[k], str_of(e, k));
    if (e->status) {
        sim_buf_puts(b, ",\"status\":");
        sim_buf_i64(b, e->status);
    }
    if (rule) {
        sim_action_kind kind = (sim_action_kind)e->action;
        sim_json_member(b, "rule", rule);
        sim_json_member(b, "action", sim_action_name(kind));
        if (e->delay_ms) sim_buf_printf(b, ",\"delay_ms\":%u", e->delay_ms);
        if (kind == SIM_ACT_CLOSE || (kind == SIM_ACT_REPLY && e->code))
            sim_buf_printf(b, ",\"code\":%d", e->code);
    }
    if (e->latency_ms) sim_buf_printf(b, ",\"latency_ms\":%u", e->latency_ms);
    sim_buf_append(b, "}", 1);
}

void sim_journal_add_crossing(sim_journal *j, int64_t t_ms, const sim_wire *w,
                              const sim_action *a) {
    const char *s[NSTR] = {[S_PROTO] = w->proto, [S_METHOD] = w->method, [S_NAME] = w->name,
                           [S_KEY] = w->key, [S_USER] = w->user_id, [S_RULE] = a->rule_id};
    size_t n[NSTR], total = 0;
    for (int k = 0; k < NSTR; k++) total += s[k] ? (n[k] = strlen(s[k])) + 1 : 0;
    entry *e = next_entry(j, total);
    e->crossing = 1;
    for (int k = 0; k < NSTR; k++) {
        if (!s[k]) {
            e->str[k] = NO_STR;
            continue;
        }
        e->str[k] = (uint32_t)e->text.len;
        memcpy(e->text.data + e->text.len, s[k], n[k] + 1);
        e->text.len += n[k] + 1;
    }
    e->t_ms = t_ms;
    e->service = (unsigned char)w->service;
    e->point = (unsigned char)w->point;
    e->conn = w->conn;
    e->msg = w->msg;
    e->run = w->run;
    e->status = w->status;
    e->action = (unsigned char)a->kind;
    e->code = a->code;
    e->delay_ms = a->delay_ms;
    e->latency_ms = a->latency_ms;
    if (j->file) {
        j->line.len = 0;
        format_crossing(e, &j->line);
        write_line(j, j->line.data, j->line.len);
    }
}

uint64_t sim_journal_count(const sim_journal *j) {
    return j->seq;
}

uint64_t sim_journal_oldest(const sim_journal *j) {
    return j->seq > SIM_JOURNAL_RING ? j->seq - SIM_JOURNAL_RING + 1 : 1;
}

size_t sim_journal_since(const sim_journal *j, uint64_t since, size_t limit, sim_buf *out) {
    if (since >= j->seq) return 0;   /* also: since + 1 below cannot wrap */
    uint64_t oldest = sim_journal_oldest(j);
    uint64_t seq = since + 1 > oldest ? since + 1 : oldest;
    size_t n = 0;
    for (; seq <= j->seq && n < limit; seq++, n++) {
        const entry *e = &j->ring[seq % SIM_JOURNAL_RING];
        if (e->crossing)
            format_crossing(e, out);
        else
            sim_buf_append(out, e->text.data, e->text.len);
        sim_buf_append(out, "\n", 1);
    }
    return n;
}

void sim_journal_flush(sim_journal *j) {
    if (j->file) fflush(j->file);
}
