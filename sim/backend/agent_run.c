/* agent_run.c -- the five events of one agent run, pure and deterministic.
 * See agent_run.h; the event shapes are docs/contract.md §2.5 (profile current;
 * legacy names the inner object "payload" and moves user_id/tool_name in). */
#include "agent_run.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

static const char *const event_types[SIM_RUN_EVENTS] = {
    "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"};

/* The run's own strings, by index into text_len and text_plain. */
enum { T_RUN_ID, T_USER, T_AGENT, T_TOOL, T_THREAD, T_PROMPT, T_REASONING, T_ANSWER, T_STARTED,
       T_SUMMARY, T_DIGEST, T_COUNT };
_Static_assert(T_COUNT == SIM_RUN_TEXTS, "agent_run.h counts the texts");


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

#define DEFAULT_ANSWER "{agent} answered \"{prompt}\" using {tool} ({digest})."

/* The template with its keys substituted, written at out (NULL: only
 * measured); returns the length. vals: prompt, tool, agent, digest. */
static size_t answer_into(char *out, const char *tmpl, const char *const vals[4],
                          const size_t lens[4]) {
    static const struct { const char *key; size_t len; } keys[] = {
        {"{prompt}", 8}, {"{tool}", 6}, {"{agent}", 7}, {"{digest}", 8}};
    size_t n = 0;
    for (const char *p = tmpl; *p;) {
        const char *next = strchr(p + 1, '{');
        size_t plain = next ? (size_t)(next - p) : strlen(p);   /* up to the next '{' */
        int hit = -1;
        if (*p == '{')
            for (int k = 0; k < 4 && hit < 0; k++)
                if (p[1] == keys[k].key[1] && strncmp(p, keys[k].key, keys[k].len) == 0) hit = k;
        const char *from = hit >= 0 ? vals[hit] : p;
        size_t len = hit >= 0 ? lens[hit] : plain;
        p += hit >= 0 ? keys[hit].len : plain;
        if (out) memcpy(out + n, from, len);
        n += len;
    }
    return n;
}

char *sim_run_answer(const char *tmpl, const char *prompt, const char *tool, const char *agent,
                     const char *digest) {
    const char *vals[4] = {prompt, tool, agent, digest};
    size_t lens[4];
    for (int k = 0; k < 4; k++) lens[k] = strlen(vals[k]);
    if (!tmpl || !*tmpl) tmpl = DEFAULT_ANSWER;
    size_t n = answer_into(NULL, tmpl, vals, lens);
    char *out = sim_xmalloc(n + 1);
    answer_into(out, tmpl, vals, lens);
    out[n] = '\0';
    return out;
}

static void plan_text(sim_run *r, const char *const src[T_COUNT], const size_t len[T_COUNT],
                      const char *tmpl, int made_id);
static void cjson_number(char *out, size_t n, double d);

void sim_run_plan(sim_run *r, const sim_run_input *in) {
    const sim_agent_script *sc = in->script;
    memset(r, 0, sizeof(*r));
    r->profile = in->profile;
    int made_id = !(in->run_id && *in->run_id);
    if (!made_id) {
        snprintf(r->run_id, sizeof(r->run_id), "%s", in->run_id);
    } else {
        memcpy(r->run_id, "run_", 4);
        sim_hex(r->run_id + 4, 16, sim_mix(in->seed, "run", in->conn, in->run));
    }
    const char *src[T_COUNT] = {
        [T_RUN_ID] = r->run_id,
        [T_USER] = in->user_id ? in->user_id : "",
        [T_THREAD] = in->thread_id,
        [T_PROMPT] = in->prompt ? in->prompt : "",
        [T_AGENT] = sc->agent_name ? sc->agent_name : "supervisor",
        [T_DIGEST] = r->digest,
    };
    uint64_t pick = sim_mix(in->seed, "tool", in->conn, in->run);
    src[T_TOOL] = sc->ntools ? sc->tools[pick % sc->ntools] : "search_knowledge_base";
    pick = sim_mix(in->seed, "thinking", in->conn, in->run);
    src[T_REASONING] = sc->nthinking ? sc->thinking[pick % sc->nthinking] : "Analyzing the request";
    sim_hex(r->digest, 16, hash_text(src[T_PROMPT]));

    /* The first event goes out at once; each later one after the gap. */
    for (int i = 0; i < SIM_RUN_EVENTS; i++) r->gap_ms[i] = i ? sc->gap_ms : 0;
    /* Tool time: 5.0 .. 55.0 ms with one decimal, a made-up but stable value. */
    r->tool_ms = (double)(50 + (int)(sim_unit(sim_mix(in->seed, "tool_ms", in->conn, in->run)) *
                                     500)) / 10.0;
    r->total_ms = (double)sc->gap_ms * (SIM_RUN_EVENTS - 1) + r->tool_ms;
    cjson_number(r->tool_ms_text, sizeof(r->tool_ms_text), r->tool_ms);
    cjson_number(r->total_ms_text, sizeof(r->total_ms_text), r->total_ms);

    size_t len[T_COUNT] = {0};
    for (int t = 0; t < T_COUNT; t++) len[t] = src[t] ? strlen(src[t]) : 0;
    plan_text(r, src, len, sc->answer_template && *sc->answer_template ? sc->answer_template
                                                                        : DEFAULT_ANSWER, made_id);
}

void sim_run_free(sim_run *r) {
    free(r->text);
    memset(r, 0, sizeof(*r));
}

/* A number as cJSON prints it (print_number in cJSON 1.7.15): an integral
 * value that fits an int with %d, else %1.15g, or %1.17g when %1.15g does
 * not read back as the same double. Done once per run, not per event. */
static void cjson_number(char *out, size_t n, double d) {
    int i = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    long long tenths = fabs(d) < 1e13 ? llround(d * 10) : 0;
    if (isnan(d) || isinf(d)) {
        snprintf(out, n, "null");
    } else if (d == (double)i) {
        snprintf(out, n, "%d", i);
    } else if (tenths && (double)tenths / 10.0 == d && n >= 24) {
        /* The nearest double to k/10 (the usual execution time) prints as
         * k/10 under %1.15g and reads back the same: write it directly. */
        unsigned long long a = (unsigned long long)(tenths < 0 ? -tenths : tenths);
        char digits[24], *o = out;
        size_t nd = 0;
        for (unsigned long long whole = a / 10; nd == 0 || whole; whole /= 10)
            digits[nd++] = (char)('0' + whole % 10);
        if (tenths < 0) *o++ = '-';
        while (nd) *o++ = digits[--nd];
        *o++ = '.';
        *o++ = (char)('0' + a % 10);
        *o = '\0';
    } else {
        snprintf(out, n, "%1.15g", d);
        double back = strtod(out, NULL);
        double max = fabs(back) > fabs(d) ? fabs(back) : fabs(d);
        if (!(fabs(back - d) <= max * DBL_EPSILON)) snprintf(out, n, "%1.17g", d);
    }
}

/* The texts of events 0 and 3 end here, where the fixed buffers of the
 * first version cut them (255 and 127 bytes). */
#define STARTED_TAIL " has started processing your request"
#define SUMMARY_MID " found relevant results ("
#define STARTED_MAX 255
#define SUMMARY_MAX 127

/* Appends n bytes of s at o + *at, no further than max bytes from start. */
static void put_cut(char *o, size_t *at, size_t start, size_t max, const char *s, size_t n) {
    size_t room = start + max - *at;
    if (n > room) n = room;
    memcpy(o + *at, s, n);
    *at += n;
}

/* The run's texts in one allocation (r->text): first as they are, each
 * NUL-ended, the prompt's answer and the two made-up messages among them;
 * then, for those that need JSON escapes, their JSON strings. Each string
 * goes into up to seven events and records: measured and checked here,
 * once, instead of escaped and validated in each. */
static void plan_text(sim_run *r, const char *const src[T_COUNT], const size_t len_in[T_COUNT],
                      const char *tmpl, int made_id) {
    size_t len[T_COUNT], at[T_COUNT] = {0};
    memcpy(len, len_in, sizeof(len));
    const char *vals[4] = {src[T_PROMPT], src[T_TOOL], src[T_AGENT], src[T_DIGEST]};
    size_t vlen[4] = {len[T_PROMPT], len[T_TOOL], len[T_AGENT], len[T_DIGEST]};
    len[T_ANSWER] = answer_into(NULL, tmpl, vals, vlen);
    len[T_STARTED] = len[T_AGENT] + sizeof(STARTED_TAIL) - 1;
    if (len[T_STARTED] > STARTED_MAX) len[T_STARTED] = STARTED_MAX;
    len[T_SUMMARY] = len[T_TOOL] + sizeof(SUMMARY_MID) - 1 + len[T_DIGEST] + 1;
    if (len[T_SUMMARY] > SUMMARY_MAX) len[T_SUMMARY] = SUMMARY_MAX;

    /* The run's own copies (run id and digest live in r). */
    static const int owned[] = {T_USER, T_THREAD, T_PROMPT, T_AGENT, T_TOOL, T_REASONING,
                                T_ANSWER, T_STARTED, T_SUMMARY};
    size_t size = 0;
    for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++) {
        int t = owned[k];
        if (t == T_THREAD && !src[T_THREAD]) continue;
        at[t] = size;
        size += len[t] + 1;
    }
    /* Room for the JSON strings too, at a guess (the answer's quotes are
     * escaped, little else is): a second allocation only past it. */
    size_t room = size + len[T_ANSWER] + 64;
    char *o = sim_xmalloc(room);
    for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++) {
        int t = owned[k];
        if (t == T_ANSWER || t == T_STARTED || t == T_SUMMARY || !src[t]) continue;
        memcpy(o + at[t], src[t], len[t] + 1);
    }
    vals[0] = o + at[T_PROMPT], vals[1] = o + at[T_TOOL], vals[2] = o + at[T_AGENT];
    answer_into(o + at[T_ANSWER], tmpl, vals, vlen);
    o[at[T_ANSWER] + len[T_ANSWER]] = '\0';
    size_t end = at[T_STARTED];
    put_cut(o, &end, at[T_STARTED], STARTED_MAX, src[T_AGENT], len[T_AGENT]);
    put_cut(o, &end, at[T_STARTED], STARTED_MAX, STARTED_TAIL, sizeof(STARTED_TAIL) - 1);
    o[end] = '\0';
    end = at[T_SUMMARY];
    put_cut(o, &end, at[T_SUMMARY], SUMMARY_MAX, src[T_TOOL], len[T_TOOL]);
    put_cut(o, &end, at[T_SUMMARY], SUMMARY_MAX, SUMMARY_MID, sizeof(SUMMARY_MID) - 1);
    put_cut(o, &end, at[T_SUMMARY], SUMMARY_MAX, src[T_DIGEST], len[T_DIGEST]);
    put_cut(o, &end, at[T_SUMMARY], SUMMARY_MAX, ")", 1);
    o[end] = '\0';

    /* Which need escapes, and the room their JSON strings take. Made-up run
     * ids and the digest are hex. */
    const char *text[T_COUNT];
    for (int t = 0; t < T_COUNT; t++)
        text[t] = t == T_RUN_ID ? r->run_id : t == T_DIGEST ? r->digest
                  : (t == T_THREAD && !src[T_THREAD]) ? "" : o + at[t];
    size_t escaped = 0;
    r->text_utf8 = 1;
    for (int t = 0; t < T_COUNT; t++) {
        if ((t == T_RUN_ID && made_id) || t == T_DIGEST || sim_json_plain_ascii(text[t], len[t])) {
            r->text_plain |= 1u << t;
            continue;
        }
        if (!sim_utf8_valid(text[t], len[t])) r->text_utf8 = 0;
        if (sim_json_plain(text[t], len[t])) {
            r->text_plain |= 1u << t;
        } else {
            r->text_len[t] = (uint32_t)sim_json_str_len(text[t], len[t]);
            escaped += r->text_len[t];
        }
    }
    if (escaped) {
        if (size + escaped > room) o = sim_xrealloc(o, size + escaped);
        for (int t = 0; t < T_COUNT; t++) {
            if (r->text_plain >> t & 1) continue;
            const char *v = t == T_RUN_ID ? r->run_id : o + at[t];
            r->text_at[t] = (uint32_t)size;
            size = (size_t)(sim_json_str_put(o + size, v, len[t]) - o);
        }
    }
    for (int t = 0; t < T_COUNT; t++)
        if (r->text_plain >> t & 1) r->text_len[t] = (uint32_t)len[t];
    r->text = o;
    r->user_id = o + at[T_USER];
    r->thread_id = src[T_THREAD] ? o + at[T_THREAD] : NULL;
    r->prompt = o + at[T_PROMPT];
    r->agent = o + at[T_AGENT];
    r->tool = o + at[T_TOOL];
    r->reasoning = o + at[T_REASONING];
    r->answer = o + at[T_ANSWER];
    r->started_msg = o + at[T_STARTED];
    r->summary = o + at[T_SUMMARY];
}

#define LIT(b, s) sim_buf_append((b), (s), sizeof(s) - 1)

/* ,"key":"value" for the run's own string t (v), as planning made it. */
static inline void member_text(sim_buf *b, const char *key_lit, size_t klen, const sim_run *r,
                               int t, const char *v) {
    size_t n = r->text_len[t];
    sim_buf_reserve(b, klen + n + 2);
    char *o = b->data + b->len;
    memcpy(o, key_lit, klen);
    if (r->text_plain >> t & 1) {
        o[klen] = '"';
        memcpy(o + klen + 1, v, n);
        o[klen + 1 + n] = '"';
        n += 2;
    } else {
        memcpy(o + klen, r->text + r->text_at[t], n);   /* quotes included */
    }
    b->len += klen + n;
    b->data[b->len] = '\0';
}
#define TEXT(b, k, t, v) member_text((b), k, sizeof(k) - 1, r, (t), (v))

/* The members of event i's inner object ("data" in profile current), each
 * with its leading comma, in the order the cJSON version added them. */
static void fill_data(const sim_run *r, int i, sim_buf *b) {
    switch (i) {
    case 0:
        LIT(b, ",\"status\":\"started\"");
        TEXT(b, ",\"message\":", T_STARTED, r->started_msg);
        break;
    case 1:
        TEXT(b, ",\"reasoning\":", T_REASONING, r->reasoning);
        LIT(b, ",\"step_number\":1,\"progress_percentage\":10,\"status\":\"thinking\"");
        break;
    case 2:
        TEXT(b, ",\"parameters\":{\"query\":", T_PROMPT, r->prompt);
        LIT(b, ",\"max_results\":5},\"status\":\"executing\"");
        break;
    case 3: {
        char matches[2] = {(char)('0' + 1 + (r->digest[0] % 5)), 0};
        TEXT(b, ",\"result\":{\"summary\":", T_SUMMARY, r->summary);
        TEXT(b, ",\"digest\":", T_DIGEST, r->digest);
        LIT(b, ",\"matches\":");
        sim_buf_append(b, matches, 1);
        LIT(b, "},\"execution_time_ms\":");
        sim_buf_puts(b, r->tool_ms_text);
        LIT(b, ",\"status\":\"completed\"");
        break;
    }
    case 4:
        LIT(b, ",\"status\":\"completed\"");
        TEXT(b, ",\"result\":{\"response\":", T_ANSWER, r->answer);
        LIT(b, "},\"execution_time_ms\":");
        sim_buf_puts(b, r->total_ms_text);
        break;
    }
}

/* Drops the leading comma of an object's first member: "{," -> "{". */
static void open_object(sim_buf *b, size_t at) {
    memmove(b->data + at + 1, b->data + at + 2, b->len - at - 2);
    b->len--;
    b->data[b->len] = '\0';
}

/* ,"key":"text" for text that needs no escape: a type name, an ISO time. */
static inline void member_plain(sim_buf *b, const char *key_lit, size_t klen, const char *v) {
    sim_buf_append(b, key_lit, klen);
    sim_buf_append(b, "\"", 1);
    sim_buf_puts(b, v);
    sim_buf_append(b, "\"", 1);
}
#define PLAIN(b, k, v) member_plain((b), k, sizeof(k) - 1, (v))

void sim_run_event_append(const sim_run *r, int i, int64_t now_ms, sim_buf *b) {
    sim_assert(i >= 0 && i < SIM_RUN_EVENTS);
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    int has_tool = (i == 2 || i == 3);
    PLAIN(b, "{\"type\":", event_types[i]);
    TEXT(b, ",\"run_id\":", T_RUN_ID, r->run_id);
    size_t inner;
    if (r->profile == SIM_PROFILE_LEGACY) {
        TEXT(b, ",\"agent_name\":", T_AGENT, r->agent);
        PLAIN(b, ",\"timestamp\":", iso);
        if (r->thread_id) TEXT(b, ",\"thread_id\":", T_THREAD, r->thread_id);
        LIT(b, ",\"payload\":{");
        inner = b->len - 1;
        TEXT(b, ",\"user_id\":", T_USER, r->user_id);
        if (has_tool) TEXT(b, ",\"tool_name\":", T_TOOL, r->tool);
        fill_data(r, i, b);
    } else {
        TEXT(b, ",\"user_id\":", T_USER, r->user_id);
        TEXT(b, ",\"agent_name\":", T_AGENT, r->agent);
        if (has_tool) TEXT(b, ",\"tool_name\":", T_TOOL, r->tool);
        PLAIN(b, ",\"timestamp\":", iso);
        if (r->thread_id) TEXT(b, ",\"thread_id\":", T_THREAD, r->thread_id);
        LIT(b, ",\"data\":{");
        inner = b->len - 1;
        fill_data(r, i, b);
    }
    /* Every event's inner object has members: its first comma goes. */
    open_object(b, inner);
    LIT(b, "}}");
}

char *sim_run_event(const sim_run *r, int i, int64_t now_ms) {
    sim_buf b = {0};
    sim_run_event_append(r, i, now_ms, &b);
    return b.data;
}

void sim_run_history_entry_append(const sim_run *r, int answer, int64_t now_ms, sim_buf *b) {
    char iso[SIM_ISO_LEN];
    sim_iso_time(iso, now_ms);
    PLAIN(b, "{\"role\":", answer ? "assistant" : "user");
    if (answer) TEXT(b, ",\"content\":", T_ANSWER, r->answer);
    else TEXT(b, ",\"content\":", T_PROMPT, r->prompt);
    TEXT(b, ",\"run_id\":", T_RUN_ID, r->run_id);
    /* cJSON left out a NULL string member; so does this. */
    if (r->thread_id) TEXT(b, ",\"thread_id\":", T_THREAD, r->thread_id);
    TEXT(b, ",\"user_id\":", T_USER, r->user_id);
    PLAIN(b, ",\"timestamp\":", iso);
    LIT(b, "}");
}

char *sim_run_history_entry(const sim_run *r, int answer, int64_t now_ms) {
    sim_buf b = {0};
    sim_run_history_entry_append(r, answer, now_ms, &b);
    return b.data;
}
