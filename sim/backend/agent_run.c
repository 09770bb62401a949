/* agent_run.c -- the five events of one agent run, pure and deterministic.
 * See agent_run.h; the event shapes are docs/contract.md §2.5 (profile current;
 * legacy names the inner object "payload" and moves user_id/tool_name in). */
#include "agent_run.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const event_types[SIM_RUN_EVENTS] = {
    "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"};

const char *sim_run_event_type(int i) {
    return i >= 0 && i < SIM_RUN_EVENTS ? event_types[i] : NULL;
}

/* FNV-1a: the prompt's own hash, independent of the seed, so the same prompt
 * gets the same digest in every run. */
static uint64_t hash_text(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return h;
}

char *sim_run_answer(const char *tmpl, const char *prompt, const char *tool, const char *agent,
                     const char *digest) {
    static const struct { const char *key; size_t len; } keys[] = {
        {"{prompt}", 8}, {"{tool}", 6}, {"{agent}", 7}, {"{digest}", 8}};
    const char *vals[] = {prompt, tool, agent, digest};
    sim_buf b = {0};
    if (!tmpl || !*tmpl) tmpl = "{agent} answered \"{prompt}\" using {tool} ({digest}).";
    for (const char *p = tmpl; *p;) {
        int hit = -1;
        if (*p == '{')
            for (int k = 0; k < 4; k++)
                if (strncmp(p, keys[k].key, keys[k].len) == 0) hit = k;
        if (hit >= 0) {
            sim_buf_puts(&b, vals[hit]);
            p += keys[hit].len;
        } else {
            sim_buf_append(&b, p, 1);
            p++;
        }
    }
    if (!b.data) sim_buf_puts(&b, "");
    return b.data;
}

void sim_run_plan(sim_run *r, const sim_run_input *in) {
    const sim_agent_script *sc = in->script;
    memset(r, 0, sizeof(*r));
    r->profile = in->profile;
    if (in->run_id && *in->run_id) {
        snprintf(r->run_id, sizeof(r->run_id), "%s", in->run_id);
    } else {
        char hex[17];
        sim_hex(hex, 16, sim_mix(in->seed, "run", in->conn, in->run));
        snprintf(r->run_id, sizeof(r->run_id), "run_%s", hex);
    }
    r->user_id = sim_xstrdup(in->user_id ? in->user_id : "");
    r->thread_id = in->thread_id ? sim_xstrdup(in->thread_id) : NULL;
    r->prompt = sim_xstrdup(in->prompt ? in->prompt : "");
    r->agent = sim_xstrdup(sc->agent_name ? sc->agent_name : "supervisor");

    uint64_t pick = sim_mix(in->seed, "tool", in->conn, in->run);
    r->tool = sim_xstrdup(sc->ntools ? sc->tools[pick % sc->ntools] : "search_knowledge_base");
    pick = sim_mix(in->seed, "thinking", in->conn, in->run);
    r->reasoning = sim_xstrdup(sc->nthinking ? sc->thinking[pick % sc->nthinking]
                                             : "Analyzing the request");

    sim_hex(r->digest, 16, hash_text(r->prompt));
    r->answer = sim_run_answer(sc->answer_template, r->prompt, r->tool, r->agent, r->digest);

    /* The first event goes out at once; each later one after the gap. */
    for (int i = 0; i < SIM_RUN_EVENTS; i++) r->gap_ms[i] = i ? sc->gap_ms : 0;
    /* Tool time: 5.0 .. 55.0 ms with one decimal, a made-up but stable value. */
    r->tool_ms = (double)(50 + (int)(sim_unit(sim_mix(in->seed, "tool_ms", in->conn, in->run)) *
                                     500)) / 10.0;
    r->total_ms = (double)sc->gap_ms * (SIM_RUN_EVENTS - 1) + r->tool_ms;
}

void sim_run_free(sim_run *r) {
    free(r->user_id);
    free(r->thread_id);
    free(r->prompt);
    free(r->agent);
    free(r->tool);
    free(r->reasoning);
    free(r->answer);
    memset(r, 0, sizeof(*r));
}

/* The inner object of event i: "data" in profile current. */
static void fill_data(const sim_run *r, int i, cJSON *d) {
    switch (i) {
    case 0:
        cJSON_AddStringToObject(d, "status", "started");
        {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s has started processing your request", r->agent);
            cJSON_AddStringToObject(d, "message", msg);
        }
        break;
    case 1:
        cJSON_AddStringToObject(d, "reasoning", r->reasoning);
        cJSON_AddNumberToObject(d, "step_number", 1);
        cJSON_AddNumberToObject(d, "progress_percentage", 10);
        cJSON_AddStringToObject(d, "status", "thinking");
        break;
    case 2: {
        cJSON *p = cJSON_AddObjectToObject(d, "parameters");
        cJSON_AddStringToObject(p, "query", r->prompt);
        cJSON_AddNumberToObject(p, "max_results", 5);
        cJSON_AddStringToObject(d, "status", "executing");
        break;
    }
    case 3: {
        cJSON *res = cJSON_AddObjectToObject(d, "result");
        char summary[128];
        snprintf(summary, sizeof(summary), "%s found relevant results (%s)", r->tool, r->digest);
        cJSON_AddStringToObject(res, "summary", summary);
        cJSON_AddStringToObject(res, "digest", r->digest);
        cJSON_AddNumberToObject(res, "matches", (double)(1 + (r->digest[0] % 5)));
        cJSON_AddNumberToObject(d, "execution_time_ms", r->tool_ms);
        cJSON_AddStringToObject(d, "status", "completed");
        break;
    }
    case 4: {
        cJSON_AddStringToObject(d, "status", "completed");
        cJSON *res = cJSON_AddObjectToObject(d, "result");
        cJSON_AddStringToObject(res, "response", r->answer);
        cJSON_AddNumberToObject(d, "execution_time_ms", r->total_ms);
        break;
    }
    }
}

char *sim_run_event(const sim_run *r, int i, int64_t now_ms) {
    sim_assert(i >= 0 && i < SIM_RUN_EVENTS);
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    int has_tool = (i == 2 || i == 3);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", event_types[i]);
    cJSON_AddStringToObject(j, "run_id", r->run_id);
    cJSON *inner = cJSON_CreateObject();
    if (r->profile == SIM_PROFILE_LEGACY) {
        cJSON_AddStringToObject(j, "agent_name", r->agent);
        cJSON_AddStringToObject(j, "timestamp", iso);
        if (r->thread_id) cJSON_AddStringToObject(j, "thread_id", r->thread_id);
        cJSON_AddStringToObject(inner, "user_id", r->user_id);
        if (has_tool) cJSON_AddStringToObject(inner, "tool_name", r->tool);
        fill_data(r, i, inner);
        cJSON_AddItemToObject(j, "payload", inner);
    } else {
        cJSON_AddStringToObject(j, "user_id", r->user_id);
        cJSON_AddStringToObject(j, "agent_name", r->agent);
        if (has_tool) cJSON_AddStringToObject(j, "tool_name", r->tool);
        cJSON_AddStringToObject(j, "timestamp", iso);
        if (r->thread_id) cJSON_AddStringToObject(j, "thread_id", r->thread_id);
        fill_data(r, i, inner);
        cJSON_AddItemToObject(j, "data", inner);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    sim_assert(s);
    return s;
}

char *sim_run_history_entry(const sim_run *r, int answer, int64_t now_ms) {
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "role", answer ? "assistant" : "user");
    cJSON_AddStringToObject(j, "content", answer ? r->answer : r->prompt);
    cJSON_AddStringToObject(j, "run_id", r->run_id);
    cJSON_AddStringToObject(j, "thread_id", r->thread_id);
    cJSON_AddStringToObject(j, "user_id", r->user_id);
    cJSON_AddStringToObject(j, "timestamp", iso);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    sim_assert(s);
    return s;
}
