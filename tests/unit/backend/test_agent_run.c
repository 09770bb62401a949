/* test_agent_run.c -- agent runs: the five events, their fields, and
 * determinism from the seed and the run's ordinals. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_run.h"
#include "tap.h"
#include "util.h"

static sim_agent_script script(void) {
    static char *tools[] = {"search_knowledge_base", "analyze_data"};
    static char *thinking[] = {"Thinking A", "Thinking B"};
    sim_agent_script s = {"supervisor", tools, 2, thinking, 2,
                          "{agent}: \"{prompt}\" via {tool} [{digest}]", 50};
    return s;
}

/* Plans a run and renders its events at fixed times; caller frees. */
static char *render(const sim_agent_script *s, uint64_t seed, const char *prompt, uint64_t conn,
                    uint64_t run, sim_profile p) {
    sim_run_input in = {s, p, seed, "user-a", conn, run, prompt, NULL, "thread-1"};
    sim_run r;
    sim_run_plan(&r, &in);
    sim_buf b = {0};
    for (int i = 0; i < SIM_RUN_EVENTS; i++) {
        char *e = sim_run_event(&r, i, 1000000 + i * 1000);
        sim_buf_printf(&b, "%u|%s\n", r.gap_ms[i], e);
        free(e);
    }
    sim_run_free(&r);
    return b.data;
}

static void test_run(void) {
    sim_agent_script s = script();
    sim_run_input in = {&s, SIM_PROFILE_CURRENT, 7, "user-a", 1, 1, "What is up?", NULL, NULL};
    sim_run r;
    sim_run_plan(&r, &in);
    ok(strncmp(r.run_id, "run_", 4) == 0 && strlen(r.run_id) == 20, "run id run_<16 hex>");
    is_int(r.gap_ms[0], 0, "first event at once");
    is_int(r.gap_ms[1], 50, "gap from the script");
    static const char *types[] = {"agent_started", "agent_thinking", "tool_executing",
                                  "tool_completed", "agent_completed"};
    for (int i = 0; i < SIM_RUN_EVENTS; i++) {
        char *e = sim_run_event(&r, i, 1700000000250);
        cJSON *j = cJSON_Parse(e);
        is_str(cJSON_GetObjectItem(j, "type")->valuestring, types[i], "event %d type", i);
        is_str(cJSON_GetObjectItem(j, "run_id")->valuestring, r.run_id, "event %d run_id", i);
        is_str(cJSON_GetObjectItem(j, "user_id")->valuestring, "user-a", "event %d user_id", i);
        is_str(cJSON_GetObjectItem(j, "agent_name")->valuestring, "supervisor", "event %d agent", i);
        is_str(cJSON_GetObjectItem(j, "timestamp")->valuestring, "2023-11-14T22:13:20.250000+00:00",
               "event %d iso timestamp from now", i);
        cJSON *d = cJSON_GetObjectItem(j, "data");
        ok(cJSON_IsObject(d), "event %d data", i);
        if (i == 1) {
            ok(cJSON_IsString(cJSON_GetObjectItem(d, "reasoning")), "reasoning");
            is_int(cJSON_GetObjectItem(d, "step_number")->valueint, 1, "step_number");
            is_int(cJSON_GetObjectItem(d, "progress_percentage")->valueint, 10, "progress");
        }
        if (i == 2 || i == 3) {
            const char *tool = cJSON_GetObjectItem(j, "tool_name")->valuestring;
            ok(strcmp(tool, "search_knowledge_base") == 0 || strcmp(tool, "analyze_data") == 0,
               "tool from the script");
        }
        if (i == 2) ok(cJSON_IsObject(cJSON_GetObjectItem(d, "parameters")), "parameters");
        if (i == 3) {
            ok(cJSON_IsObject(cJSON_GetObjectItem(d, "result")), "tool result");
            ok(cJSON_IsNumber(cJSON_GetObjectItem(d, "execution_time_ms")), "execution_time_ms");
        }
        if (i == 4) {
            const char *resp =
                cJSON_GetObjectItem(cJSON_GetObjectItem(d, "result"), "response")->valuestring;
            ok(strstr(resp, "What is up?") && strstr(resp, "supervisor") && strstr(resp, r.tool) &&
                   strstr(resp, r.digest),
               "answer from the template: %s", resp);
            is_str(cJSON_GetObjectItem(d, "status")->valuestring, "completed", "completed");
        }
        cJSON_Delete(j);
        free(e);
    }
    sim_run_free(&r);

    char *a = render(&s, 7, "hello", 1, 1, SIM_PROFILE_CURRENT);
    char *b = render(&s, 7, "hello", 1, 1, SIM_PROFILE_CURRENT);
    is_str(a, b, "same inputs, same events");
    char *c = render(&s, 7, "goodbye", 1, 1, SIM_PROFILE_CURRENT);
    ok(strcmp(a, c) != 0, "different prompt, different events");
    free(b);
    free(c);

    /* Different prompts give different answers; same prompt the same answer
     * whatever the connection or run ordinal. */
    sim_run r1, r2, r3;
    sim_run_input i1 = {&s, SIM_PROFILE_CURRENT, 7, "u", 1, 1, "alpha", NULL, NULL};
    sim_run_input i2 = {&s, SIM_PROFILE_CURRENT, 7, "u", 1, 2, "beta", NULL, NULL};
    sim_run_input i3 = {&s, SIM_PROFILE_CURRENT, 7, "u", 9, 4, "alpha", "client-run", NULL};
    sim_run_plan(&r1, &i1);
    sim_run_plan(&r2, &i2);
    sim_run_plan(&r3, &i3);
    ok(strcmp(r1.answer, r2.answer) != 0, "different prompts, different answers");
    ok(strcmp(r1.digest, r3.digest) == 0, "digest depends on the prompt only");
    ok(strcmp(r1.run_id, r2.run_id) != 0, "run ids differ per run ordinal");
    is_str(r3.run_id, "client-run", "client-chosen run_id kept");
    sim_run_free(&r1);
    sim_run_free(&r2);
    sim_run_free(&r3);

    char *l = render(&s, 7, "hello", 1, 1, SIM_PROFILE_LEGACY);
    ok(strstr(l, "\"payload\":{\"user_id\":\"user-a\"") != NULL, "legacy: payload with user_id");
    ok(strstr(l, "\"data\"") == NULL, "legacy: no data object");
    free(l);
    free(a);

    char *t = sim_run_answer("{prompt}{x}{digest", "p", "t", "a", "d");
    is_str(t, "p{x}{digest", "unknown placeholders kept");
    free(t);
}


/* ---- the first version, with cJSON: the reference the events must match
 * byte for byte (sim_run_event builds them without cJSON since issue 11). */

static void ref_fill_data(const sim_run *r, int i, cJSON *d) {
    switch (i) {
    case 0: {
        cJSON_AddStringToObject(d, "status", "started");
        char msg[256];
        snprintf(msg, sizeof(msg), "%s has started processing your request", r->agent);
        cJSON_AddStringToObject(d, "message", msg);
        break;
    }
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

static char *ref_event(const sim_run *r, int i, int64_t now_ms) {
    static const char *const types[] = {"agent_started", "agent_thinking", "tool_executing",
                                        "tool_completed", "agent_completed"};
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    int has_tool = (i == 2 || i == 3);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", types[i]);
    cJSON_AddStringToObject(j, "run_id", r->run_id);
    cJSON *inner = cJSON_CreateObject();
    if (r->profile == SIM_PROFILE_LEGACY) {
        cJSON_AddStringToObject(j, "agent_name", r->agent);
        cJSON_AddStringToObject(j, "timestamp", iso);
        if (r->thread_id) cJSON_AddStringToObject(j, "thread_id", r->thread_id);
        cJSON_AddStringToObject(inner, "user_id", r->user_id);
        if (has_tool) cJSON_AddStringToObject(inner, "tool_name", r->tool);
        ref_fill_data(r, i, inner);
        cJSON_AddItemToObject(j, "payload", inner);
    } else {
        cJSON_AddStringToObject(j, "user_id", r->user_id);
        cJSON_AddStringToObject(j, "agent_name", r->agent);
        if (has_tool) cJSON_AddStringToObject(j, "tool_name", r->tool);
        cJSON_AddStringToObject(j, "timestamp", iso);
        if (r->thread_id) cJSON_AddStringToObject(j, "thread_id", r->thread_id);
        ref_fill_data(r, i, inner);
        cJSON_AddItemToObject(j, "data", inner);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static char *ref_history(const sim_run *r, int answer, int64_t now_ms) {
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
    return s;
}

/* Every event of many runs, both profiles, prompts with every byte JSON
 * escapes, gaps that make the execution times awkward doubles, an agent
 * name long enough to be cut: the same bytes as the cJSON version. */
static void test_events_match_cjson(void) {
    static char *tools[] = {"search_knowledge_base", "t\"ool\\", "\xc3\xa9t\xe2\x82\xac"};
    static char *thinking[] = {"Thinking\n\tA", "\x01\x1f\x7f"};
    char long_agent[400];
    memset(long_agent, 'a', sizeof(long_agent) - 1);
    long_agent[sizeof(long_agent) - 1] = '\0';
    const char *agents[] = {"supervisor", "ag\"ent", long_agent};
    const char *prompts[] = {"hello", "", "q\"u\\o\bt\fe\nd\rt\t", "\x01\x02\x1e\x1f ctl",
                             "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac", "</script>/"};
    const uint32_t gaps[] = {0, 1, 50, 333, 3000, 123457};
    int mismatches = 0, events = 0;
    for (size_t a = 0; a < 3; a++)
        for (size_t g = 0; g < 6; g++)
            for (size_t q = 0; q < 6; q++)
                for (int p = 0; p < 2; p++)
                    for (uint64_t run = 1; run <= 4; run++) {
                        sim_agent_script s = {(char *)agents[a], tools, 3, thinking, 2, NULL,
                                              gaps[g]};
                        sim_run_input in = {&s, p ? SIM_PROFILE_LEGACY : SIM_PROFILE_CURRENT, 7,
                                            "user-\"a\"", 3, run, prompts[q],
                                            run == 4 ? "r\"id\x01" : NULL,
                                            run % 2 ? "thread-1" : NULL};
                        sim_run r;
                        sim_run_plan(&r, &in);
                        /* The run's answer, made in place, is sim_run_answer's. */
                        char *made = sim_run_answer(NULL, r.prompt, r.tool, r.agent, r.digest);
                        if (strcmp(made, r.answer) != 0 && mismatches++ == 0)
                            printf("# first mismatch:\n#  %s\n#  %s\n", r.answer, made);
                        free(made);
                        for (int i = 0; i < SIM_RUN_EVENTS; i++) {
                            int64_t now = 1700000000000LL + (int64_t)(run * 7919 + i * 13);
                            char *mine = sim_run_event(&r, i, now), *ref = ref_event(&r, i, now);
                            events++;
                            if (strcmp(mine, ref) != 0 && mismatches++ == 0)
                                printf("# first mismatch:\n#  %s\n#  %s\n", mine, ref);
                            free(mine);
                            free(ref);
                        }
                        for (int answer = 0; answer < 2; answer++) {
                            char *mine = sim_run_history_entry(&r, answer, 1700000000123LL);
                            char *ref = ref_history(&r, answer, 1700000000123LL);
                            events++;
                            if (strcmp(mine, ref) != 0 && mismatches++ == 0)
                                printf("# first mismatch:\n#  %s\n#  %s\n", mine, ref);
                            free(mine);
                            free(ref);
                        }
                        sim_run_free(&r);
                    }
    is_int(mismatches, 0, "%d events and history records, byte for byte as cJSON printed them", events);
}

static void test_history_entry(void) {
    sim_agent_script s = script();
    sim_run_input in = {&s, SIM_PROFILE_CURRENT, 7, "user-a", 1, 1, "What is up?", "run-1",
                        "thread-1"};
    sim_run r;
    sim_run_plan(&r, &in);
    char *u = sim_run_history_entry(&r, 0, 1700000000250);
    char *a = sim_run_history_entry(&r, 1, 1700000000250);
    is_str(u, "{\"role\":\"user\",\"content\":\"What is up?\",\"run_id\":\"run-1\","
              "\"thread_id\":\"thread-1\",\"user_id\":\"user-a\","
              "\"timestamp\":\"2023-11-14T22:13:20.250000+00:00\"}",
           "the prompt's history record");
    cJSON *j = cJSON_Parse(a);
    is_str(cJSON_GetObjectItem(j, "role")->valuestring, "assistant", "the answer's role");
    is_str(cJSON_GetObjectItem(j, "content")->valuestring, r.answer, "the answer's text");
    cJSON_Delete(j);
    free(u);
    free(a);
    sim_run_free(&r);
}

int main(void) {
    test_run();
    test_history_entry();
    test_events_match_cjson();
    return tap_done();
}
