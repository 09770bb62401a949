/* redis_faults.c -- the pure part of the Redis fault hooks: which command
 * gets which misbehaviour, and which pub/sub messages are dropped. */
#include "redis_faults.h"

#include <stdlib.h>
#include <string.h>

#include "redis_db.h"
#include "util.h"

typedef struct rule {
    char *command;
    sim_redis_fault_kind kind;
    char *error;
    uint32_t delay_ms;
    int count;
} rule;

struct sim_redis_fault_set {
    rule *rules;
    size_t n, cap;
    char *drop_glob;
    int drop_count;
};

sim_redis_fault_set *sim_redis_fault_set_new(void) { return sim_xcalloc(1, sizeof(sim_redis_fault_set)); }

void sim_redis_fault_set_clear(sim_redis_fault_set *s) {
    for (size_t i = 0; i < s->n; i++) {
        free(s->rules[i].command);
        free(s->rules[i].error);
    }
    s->n = 0;
    free(s->drop_glob);
    s->drop_glob = NULL;
    s->drop_count = 0;
}

void sim_redis_fault_set_free(sim_redis_fault_set *s) {
    if (!s)
        return;
    sim_redis_fault_set_clear(s);
    free(s->rules);
    free(s);
}

int sim_redis_fault_set_add(sim_redis_fault_set *s, const sim_redis_fault_rule *r) {
    if (r->kind > SIM_RF_HANG || r->count == 0 || r->count < -1)
        return -1;
    if (r->kind == SIM_RF_ERROR && (!r->error || !*r->error || strpbrk(r->error, "\r\n")))
        return -1;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->rules = sim_xrealloc(s->rules, s->cap * sizeof(*s->rules));
    }
    rule *d = &s->rules[s->n++];
    d->command = r->command ? sim_xstrdup(r->command) : NULL;
    d->kind = r->kind;
    d->error = r->error ? sim_xstrdup(r->error) : NULL;
    d->delay_ms = r->delay_ms;
    d->count = r->count;
    return 0;
}

void sim_redis_fault_set_drop_messages(sim_redis_fault_set *s, const char *glob, int count) {
    free(s->drop_glob);
    s->drop_glob = sim_xstrdup(glob ? glob : "*");
    s->drop_count = count;
}

int sim_redis_fault_set_active(const sim_redis_fault_set *s) { return s->n > 0; }

void sim_redis_fault_set_decide(sim_redis_fault_set *s, const char *command, sim_action *out) {
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < s->n; i++) {
        rule *r = &s->rules[i];
        if (r->count == 0)
            continue;
        if (r->command && (!command || strcmp(r->command, command) != 0))
            continue;
        if (r->count > 0)
            r->count--;
        switch (r->kind) {
        case SIM_RF_ERROR: out->kind = SIM_ACT_REPLY; out->text = r->error; break;
        case SIM_RF_DELAY: out->kind = SIM_ACT_DELAY; out->delay_ms = r->delay_ms; break;
        case SIM_RF_NOREPLY: out->kind = SIM_ACT_DROP; break;
        case SIM_RF_PARTIAL_CLOSE: out->kind = SIM_ACT_PARTIAL; break;
        case SIM_RF_HANG: out->kind = SIM_ACT_HANG; break;
        }
        return;
    }
}

int sim_redis_fault_set_drop_message(sim_redis_fault_set *s, const char *channel) {
    if (!s->drop_glob || s->drop_count == 0)
        return 0;
    if (!sim_glob_match(s->drop_glob, strlen(s->drop_glob), channel, strlen(channel), 0))
        return 0;
    if (s->drop_count > 0)
        s->drop_count--;
    return 1;
}
