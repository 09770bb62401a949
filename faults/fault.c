/* fault.c -- the decision point every wire crossing goes through, and the
 * journal it writes. Rules come with the fault engine; until a rule is loaded
 * every crossing passes, and with no journal either the call is one branch. */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct sim_faults {
    uint64_t seed;
    double start_time;
    FILE *journal;
    uint64_t journal_lines;
    size_t nrules;
};

static const char *service_names[] = {"backend", "auth", "redis", "control"};
static const char *point_names[] = {"accept", "request", "send", "close"};

sim_faults *sim_faults_new(uint64_t seed, const char *journal_path, double start_time) {
    sim_faults *f = sim_xcalloc(1, sizeof(*f));
    f->seed = seed;
    f->start_time = start_time;
    if (journal_path) {
        f->journal = fopen(journal_path, "w");
        if (!f->journal) {
            sim_error("cannot open journal %s", journal_path);
            free(f);
            return NULL;
        }
    }
    return f;
}

void sim_faults_free(sim_faults *f) {
    if (!f) return;
    if (f->journal) fclose(f->journal);
    free(f);
}

/* Writes s as a JSON string body (without quotes). */
static void json_escaped(FILE *out, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
}

static void journal_write(sim_faults *f, const sim_wire *w, double now, const sim_action *a) {
    FILE *o = f->journal;
    long t_ms = (long)((now - f->start_time) * 1000.0);
    fprintf(o, "{\"t_ms\":%ld,\"svc\":\"%s\",\"proto\":\"%s\",\"point\":\"%s\",\"conn\":%llu", t_ms,
            service_names[w->service], w->proto ? w->proto : "", point_names[w->point],
            (unsigned long long)w->conn);
    if (w->msg) fprintf(o, ",\"msg\":%llu", (unsigned long long)w->msg);
    if (w->run) fprintf(o, ",\"run\":%llu", (unsigned long long)w->run);
    if (w->method) fprintf(o, ",\"method\":\"%s\"", w->method);
    if (w->name) {
        fputs(",\"name\":\"", o);
        json_escaped(o, w->name);
        fputc('"', o);
    }
    if (w->key) {
        fputs(",\"key\":\"", o);
        json_escaped(o, w->key);
        fputc('"', o);
    }
    if (w->user_id) {
        fputs(",\"user\":\"", o);
        json_escaped(o, w->user_id);
        fputc('"', o);
    }
    if (w->status) fprintf(o, ",\"status\":%d", w->status);
    if (a->rule_id) fprintf(o, ",\"rule\":\"%s\",\"action\":%d", a->rule_id, (int)a->kind);
    fputs("}\n", o);
    f->journal_lines++;
}

void sim_faults_cross(sim_faults *f, const sim_wire *w, double now, sim_action *out) {
    memset(out, 0, sizeof(*out));
    if (!f || (!f->nrules && !f->journal)) return;
    if (f->journal) journal_write(f, w, now, out);
}

uint64_t sim_faults_journal_count(const sim_faults *f) {
    return f ? f->journal_lines : 0;
}

void sim_faults_flush(sim_faults *f) {
    if (f && f->journal) fflush(f->journal);
}
