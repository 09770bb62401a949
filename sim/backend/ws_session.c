/* ws_session.c -- one backend WebSocket session, pure: the ordered outgoing
 * pipe, runs, heartbeats, the start-up gate and the fault actions of ws.send
 * and ws.message; what the client sends is ws_session_in.c's. See
 * ws_session.h. */
#include "ws_session.h"
#include "ws_session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "startup.h"
#include "utf8.h"
#include "util.h"

_Static_assert((int)SIM_WS_MALFORM_REMOVE_FIELD == (int)SIM_MALFORM_REMOVE_FIELD &&
                   (int)SIM_WS_MALFORM_WRONG_TYPE == (int)SIM_MALFORM_WRONG_TYPE &&
                   (int)SIM_WS_MALFORM_INVALID_JSON == (int)SIM_MALFORM_INVALID_JSON,
               "ws_proto's malform modes follow wire.h's");

static void greet(sim_ws_session *s, int64_t now);

const char *sim_wss_user_of(const sim_ws_session *s) {
    return s->hs->user_id[0] ? s->hs->user_id : NULL;
}

/* ---- frames ------------------------------------------------------------- */

static sim_ws_frame *frame_new(const sim_ws_session *s, int close_code, const char *text,
                               size_t len) {
    sim_ws_frame *f = sim_xmalloc(sizeof(*f) + s->cfg->headroom + len + 1);
    f->next = NULL;
    f->due_ms = 0;
    f->close_code = close_code;
    f->len = len;
    f->text = f->data + s->cfg->headroom;
    memcpy(f->text, text, len);
    f->text[len] = '\0';
    return f;
}

/* Every text frame is valid UTF-8 (utf8.h): a client's bytes that are not
 * (a type or text echoed back, cJSON's decoding of \ud800) are escaped,
 * which python-websockets would otherwise answer with 1007. */
static sim_ws_frame *frame_text(const sim_ws_session *s, const char *json) {
    size_t len = strlen(json);
    if (sim_utf8_valid(json, len)) return frame_new(s, 0, json, len);
    sim_buf b = {0};
    sim_buf_append(&b, json, len);
    sim_utf8_fix_json(&b, 0);
    sim_ws_frame *f = frame_new(s, 0, b.data, b.len);
    sim_buf_free(&b);
    return f;
}

void sim_ws_frame_free(sim_ws_frame *f) {
    free(f);
}

static void list_push(frame_list *l, sim_ws_frame *f) {
    f->next = NULL;
    if (l->tail) l->tail->next = f;
    else l->head = f;
    l->tail = f;
}

sim_ws_frame *sim_wss_list_pop(frame_list *l) {
    sim_ws_frame *f = l->head;
    if (f) {
        l->head = f->next;
        if (!l->head) l->tail = NULL;
        f->next = NULL;
    }
    return f;
}

void sim_wss_list_clear(frame_list *l) {
    while (l->head) sim_ws_frame_free(sim_wss_list_pop(l));
}

/* ---- framing: what goes out is RFC 6455 server frames, ready to write ---- */

/* The header of an unmasked, final text frame with n bytes of payload. */
static size_t frame_header(unsigned char *h, size_t n) {
    h[0] = 0x81;
    if (n < 126) {
        h[1] = (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    return 10;
}

/* Frames the payload that starts `reserved` bytes after out.len's value
 * `start` (where that many bytes were kept for the header) in place. */
static void frame_close_up(sim_buf *out, size_t start, size_t reserved) {
    size_t n = out->len - start - reserved;
    unsigned char h[10];
    size_t hl = frame_header(h, n);
    if (hl != reserved) {
        sim_buf_reserve(out, hl > reserved ? hl - reserved : 0);
        memmove(out->data + start + hl, out->data + start + reserved, n);
        out->len = start + hl + n;
        out->data[out->len] = '\0';
    }
    memcpy(out->data + start, h, hl);
}

static void out_append_text(sim_ws_session *s, const unsigned char *text, size_t len) {
    unsigned char h[10];
    size_t hl = frame_header(h, len);
    sim_buf_reserve(&s->out, hl + len);
    sim_buf_append(&s->out, h, hl);
    sim_buf_append(&s->out, text, len);
}

/* ---- the pipe: outgoing frames in order, a delayed one holds back the rest */

static int gone(const sim_ws_session *s) {
    return s->close_queued || s->aborted;
}

/* Hands a frame to the glue: the last step, no more delays. Takes f. */
void sim_wss_out_push(sim_ws_session *s, sim_ws_frame *f) {
    if (gone(s)) {
        sim_ws_frame_free(f);
        return;
    }
    if (f->close_code) {
        s->close_queued = 1;
        s->out_close = f;
        return;
    }
    out_append_text(s, f->text, f->len);
    sim_ws_frame_free(f);
}

void sim_wss_out_clear(sim_ws_session *s) {
    sim_buf_free(&s->out);
    sim_ws_frame_free(s->out_close);
    s->out_close = NULL;
}

/* Sends f at `due` but never before a frame pushed earlier: DELAY delays
 * the stream, it does not reorder it. Takes f. */
static void pipe_push(sim_ws_session *s, sim_ws_frame *f, int64_t due, int64_t now) {
    if (gone(s)) {
        sim_ws_frame_free(f);
        return;
    }
    if (!s->pipe.head && due <= now) {
        sim_wss_out_push(s, f);
        return;
    }
    f->due_ms = due;
    list_push(&s->pipe, f);
}

/* Frames held back by HOLD go out right after the frame just pushed. */
static void held_release(sim_ws_session *s, int64_t due, int64_t now) {
    sim_ws_frame *f;
    while ((f = sim_wss_list_pop(&s->held))) pipe_push(s, f, due, now);
}

/* Queues a close behind the frames pushed before it; the reason is cut to
 * the 123 bytes a close frame holds (docs/libraries.md §2.9). */
void sim_wss_session_close(sim_ws_session *s, int code, const char *reason, int64_t now) {
    pipe_push(s, frame_new(s, code, reason, strnlen(reason, 123)), now, now);
}

/* ---- runs --------------------------------------------------------------- */

void sim_wss_stop_runs(sim_ws_session *s) {
    if (s->run_active) sim_run_free(&s->run);
    s->run_active = 0;
    while (s->rhead) {
        pending_run *p = s->rhead;
        s->rhead = p->next;
        sim_ws_msg_free(&p->msg);
        free(p);
    }
    s->rtail = NULL;
    s->nruns = 0;
}

char *sim_wss_replacement(const sim_ws_session *s, const sim_action *a, const char *run_id,
                         int64_t now) {
    if (a->details || a->nested)
        return sim_ws_error_shaped(a->error_code, a->text, a->details, a->nested, now);
    return sim_ws_replacement(a->field ? a->field : "error_message", a->error_code, a->text,
                              run_id, sim_wss_user_of(s), s->cfg->sc->agent.agent_name, now);
}

/* Carries out a session-level action of a crossing (drop, close, abort,
 * hang, reply). Returns 1 when the caller must not go on with what it was
 * doing. */
int sim_wss_act(sim_ws_session *s, const sim_action *a, int64_t now) {
    switch (a->kind) {
    case SIM_ACT_PASS: return 0;
    case SIM_ACT_DROP: return 1;
    case SIM_ACT_CLOSE:
        sim_wss_stop_runs(s);
        sim_wss_session_close(s, a->code ? a->code : 1011, a->text ? a->text : "", now);
        return 1;
    case SIM_ACT_ABORT:
        sim_wss_stop_runs(s);
        s->aborted = 1;
        return 1;
    case SIM_ACT_HANG:
        sim_wss_stop_runs(s);
        s->hung = 1;
        return 1;
    case SIM_ACT_REPLY: {
        /* A JSON text goes as it is; anything else becomes its error text. */
        const char *t = a->text ? a->text : "";
        if (t[0] == '{') {
            pipe_push(s, frame_text(s, t), now, now);
        } else {
            char *e = sim_ws_error("CRITICAL_FAILURE", t, now);
            pipe_push(s, frame_text(s, e), now, now);
            free(e);
        }
        return 1;
    }
    default: return 0;
    }
}

/* What send_message did with a message. */
enum { SENT, STOPPED };

/* Sends one server message (takes json): crosses ws.send, then carries out
 * the action. `run` is the run ordinal the crossing names, `run_id` the run
 * the message belongs to (for REPLACE), may be NULL. Returns STOPPED when
 * the action ended the run or the session (close, abort, hang, stall): the
 * caller must not touch the run. */
static void cross_send(sim_ws_session *s, const char *type, uint64_t run, int64_t now,
                       sim_action *a) {
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_SEND, .proto = "ws", .name = type,
                  .user_id = sim_wss_user_of(s), .conn = s->ordinal, .msg = ++s->msgs_out, .run = run,
                  .user_run = run && run == s->runs ? s->user_run : 0};
    s->env->cross(s->env->ctx, &w, now, a);
}

/* Carries out the ws.send decision `a` on the message json (taken). */
static int deliver(sim_ws_session *s, char *json, const sim_action *act_in, const char *run_id,
                   int64_t now) {
    sim_action a = *act_in;
    int64_t due = now;
    int rc = SENT;
    sim_ws_frame *f = NULL, *dup = NULL;
    switch (a.kind) {
    case SIM_ACT_PASS: f = frame_text(s, json); break;
    case SIM_ACT_DROP: break;
    case SIM_ACT_DELAY:
        f = frame_text(s, json);
        due += a.delay_ms;
        break;
    case SIM_ACT_DUPLICATE:
        f = frame_text(s, json);
        dup = frame_text(s, json);
        break;
    case SIM_ACT_HOLD: list_push(&s->held, frame_text(s, json)); break;
    case SIM_ACT_MALFORM: {
        char *bad = sim_ws_malform(json, a.mode, a.field);
        f = frame_text(s, bad);
        free(bad);
        break;
    }
    case SIM_ACT_REPLACE: {
        char *r = sim_wss_replacement(s, &a, run_id, now);
        f = frame_text(s, r);
        free(r);
        break;
    }
    case SIM_ACT_MISROUTE:
        if (a.field) s->env->misroute(s->env->ctx, a.field, json, now);
        break;
    case SIM_ACT_STALL:
        /* The run stops where it is and never ends; chat messages still
         * queue behind it (the staging symptom S23). Pings are answered. */
        s->stalled = 1;
        rc = STOPPED;
        break;
    case SIM_ACT_CLOSE:
        if (a.mode == SIM_CLOSE_AFTER_SEND) {
            /* The event, then the close, in the pipe's order. */
            pipe_push(s, frame_text(s, json), due, now);
            held_release(s, due, now);
        }
        sim_wss_act(s, &a, now);
        rc = STOPPED;
        break;
    default:
        if (sim_wss_act(s, &a, now)) rc = STOPPED;
        else f = frame_text(s, json);
        break;
    }
    free(json);
    if (f) {
        pipe_push(s, f, due, now);
        if (dup) pipe_push(s, dup, due, now);
        held_release(s, due, now);
    }
    return rc;
}

int sim_wss_send_message(sim_ws_session *s, char *json, const char *type, uint64_t run,
                        const char *run_id, int64_t now) {
    if (s->hung || s->aborted) {
        free(json);
        return STOPPED;
    }
    sim_action a;
    cross_send(s, type, run, now, &a);
    return deliver(s, json, &a, run_id, now);
}

/* Event i of the current run, as send_message. When the event passes and
 * nothing waits before it (the hot path) it is built straight into the
 * output as a frame: no string of its own, no copy. */
static int send_event(sim_ws_session *s, int i, const char *run_id, int64_t now) {
    if (s->hung || s->aborted) return STOPPED;
    sim_action a;
    cross_send(s, sim_run_event_type(i), s->runs, now, &a);
    if (a.kind != SIM_ACT_PASS || s->pipe.head || s->held.head || gone(s))
        return deliver(s, sim_run_event(&s->run, i, now), &a, run_id, now);
    size_t start = s->out.len;
    /* Room for this event, or for the whole run when its later events are
     * due at once too (gap 0: about 2 KiB): one allocation either way, and
     * an idle or slow connection holds no more than one event's worth. */
    int batch = !s->out.cap && i + 1 < SIM_RUN_EVENTS && s->run.gap_ms[i + 1] == 0;
    sim_buf_reserve(&s->out, batch ? 4095 : 511);   /* 4 KiB or 512 bytes */
    s->out.len += 4;   /* the header of a frame under 64 KiB */
    sim_run_event_append(&s->run, i, now, &s->out);
    const char *text = s->out.data + start + 4;
    size_t len = s->out.len - start - 4;
    if (s->run.text_utf8 || sim_utf8_valid(text, len)) {
        frame_close_up(&s->out, start, 4);
        return SENT;
    }
    /* Bytes that are not UTF-8 (frame_text): the slow way. */
    char *json = sim_xstrndup(text, len);
    s->out.len = start;
    s->out.data[start] = '\0';
    sim_wss_out_push(s, frame_text(s, json));
    free(json);
    return SENT;
}

/* The run's next event is due. A DELAY does not move the run's schedule:
 * the delayed event waits in the pipe and the later ones queue behind it. */
void sim_wss_run_step(sim_ws_session *s, int64_t now) {
    int i = s->run_next;
    /* send_message may end the run (and free it) before it returns. */
    char run_id[sizeof(s->run.run_id)];
    memcpy(run_id, s->run.run_id, sizeof(run_id));
    if (send_event(s, i, run_id, now) == STOPPED) return;
    s->run_next++;
    if (s->run_next >= SIM_RUN_EVENTS) {
        s->env->run_done(s->env->ctx, &s->run, now);
        sim_run_free(&s->run);
        s->run_active = 0;
        /* A frame held back with nothing after it in the run goes now. */
        held_release(s, now, now);
        sim_wss_run_start_next(s, now);
        return;
    }
    s->run_due_ms = now + s->run.gap_ms[s->run_next];
}

/* The thread a chat runs in: the one it names, or one per connection made
 * up from its ordinal. out holds at least 64 bytes. */
const char *sim_wss_chat_thread(const sim_ws_session *s, const sim_ws_msg *m, char *out) {
    if (m->thread_id) return m->thread_id;
    char hex[17];
    sim_hex(hex, 16, sim_mix(s->cfg->seed, "ws_thread", s->ordinal, 0));
    snprintf(out, 64, "thread_%s", hex);
    return out;
}

void sim_wss_run_start_next(sim_ws_session *s, int64_t now) {
    if (s->run_active || s->stalled || !s->rhead || s->shutting_down) return;
    pending_run *p = s->rhead;
    s->rhead = p->next;
    if (!s->rhead) s->rtail = NULL;
    s->nruns--;
    const sim_scenario *sc = s->cfg->sc;
    char tid[64];
    const char *thread_id = sim_wss_chat_thread(s, &p->msg, tid);
    s->runs = p->ord;
    s->user_run = p->user_ord;
    sim_run_input in = {&sc->agent, sc->profile, s->cfg->seed, s->hs->user_id, s->ordinal,
                        s->runs, p->msg.text, p->msg.run_id, thread_id};
    sim_run_plan(&s->run, &in);
    sim_ws_msg_free(&p->msg);
    free(p);
    s->run_active = 1;
    s->run_next = 0;
    s->run_due_ms = now + s->run.gap_ms[0];
}

/* Drops every client message still waiting. */
void sim_wss_in_clear(sim_ws_session *s) {
    while (s->ihead) {
        inmsg *q = s->ihead;
        s->ihead = q->next;
        free(q->reply);
        sim_ws_msg_free(&q->m);
        free(q);
    }
    s->itail = NULL;
    s->nin = 0;
}

/* ---- establishment and the start-up gate ---------------------------------- */

sim_ws_session *sim_ws_session_new(const sim_ws_session_config *cfg,
                                   const sim_ws_session_env *env, sim_ws_handshake *hs,
                                   uint64_t ordinal) {
    sim_ws_session *s = sim_xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->env = env;
    s->hs = hs;
    s->ordinal = ordinal;
    char hex[17];
    sim_hex(hex, 12, sim_mix(cfg->seed, "conn", ordinal, 0));
    snprintf(s->conn_id, sizeof(s->conn_id), "%s_%s",
             cfg->sc->profile == SIM_PROFILE_LEGACY ? "ws" : "main", hex);
    return s;
}

void sim_ws_session_open(sim_ws_session *s, int64_t now_ms) {
    const sim_ws_handshake *hs = s->hs;
    if (hs->over_cap) {
        sim_wss_session_close(s, 1013, "Try Again Later", now_ms);
        return;
    }
    if (hs->auth.unsupported) {
        sim_wss_session_close(s, 1003, "No supported subprotocols", now_ms);
        return;
    }
    if (hs->auth.token && hs->auth_status != SIM_AUTH_OK) {
        /* As staging: the upgrade is accepted, then the error, then 1008. */
        const char *why = hs->auth_status == SIM_AUTH_EXPIRED       ? "Token has expired"
                          : hs->auth_status == SIM_AUTH_REVOKED     ? "Token has been revoked"
                          : hs->auth_status == SIM_AUTH_UNAVAILABLE ? "Authentication service unavailable"
                                                                    : "Invalid token";
        char text[160];
        snprintf(text, sizeof(text), "Authentication failed: %s", why);
        sim_wss_send_message(s, sim_ws_error("AUTH_FAILED", text, now_ms), "error_message", 0, NULL,
                     now_ms);
        /* Judged by the auth service, staging's backend said "SSOT Auth
         * failed" (S7). */
        sim_wss_session_close(s, 1008, hs->remote ? "SSOT Auth failed" : "Authentication failed", now_ms);
        return;
    }
    /* The token was checked and its subprotocol echoed in the 101: the
     * strings (a JWT is ~400 bytes) are not kept for the session's life. */
    sim_ws_auth_free(&s->hs->auth);
    if (hs->close_code) {
        sim_wss_session_close(s, hs->close_code, hs->close_reason, now_ms);
        return;
    }
    sim_debug("ws %s: user %s (token from %s)", s->conn_id, hs->user_id,
              sim_ws_token_source_name(hs->auth.source));
    const sim_scenario *sc = s->cfg->sc;
    int64_t elapsed = now_ms - s->cfg->start_ms;
    if (sim_startup_phase(sc, elapsed) < SIM_PHASE_SERVICES) {
        /* The startup race: wait for phase `services`, at most ws_wait_ms;
         * client messages queue behind the gate. */
        int64_t ready = sim_startup_phase_start_ms(sc, SIM_PHASE_SERVICES) - elapsed;
        int64_t wait = ready < sc->startup_ws_wait_ms ? ready : sc->startup_ws_wait_ms;
        s->gate_until_ms = now_ms + wait;
        return;
    }
    greet(s, now_ms);
}

/* The first message of a session that may start: the welcome (or what a
 * ws.accept REPLACE rule sends instead; the session then stays open, without
 * heartbeats). */
static void greet(sim_ws_session *s, int64_t now) {
    if (s->hs->welcome) {
        char *m = s->hs->welcome;
        s->hs->welcome = NULL;
        sim_wss_send_message(s, m, s->hs->welcome_type, 0, NULL, now);
        return;
    }
    sim_wss_send_message(s, sim_ws_welcome(s->cfg->sc->profile, s->hs->user_id, s->conn_id, now),
         "connection_established", 0, NULL, now);
    sim_wss_heartbeat_start(s, now);
}

/* The gate's time has come: phase `services` reached, or the wait is over. */
void sim_wss_gate_step(sim_ws_session *s, int64_t now) {
    s->gate_until_ms = 0;
    if (s->hung || s->aborted || s->close_queued) {
        /* Nothing behind the gate will be answered. */
        sim_wss_in_clear(s);
        return;
    }
    const sim_scenario *sc = s->cfg->sc;
    /* +1 ms: the gate was set for the exact start of `services`. */
    sim_phase p = sim_startup_phase(sc, now - s->cfg->start_ms + 1);
    if (p < SIM_PHASE_SERVICES) {
        char reason[120];
        snprintf(reason, sizeof(reason), "Service not ready: startup phase %s after %.1f s",
                 sim_phase_name(p), sc->startup_ws_wait_ms / 1000.0);
        sim_wss_in_clear(s);
        sim_wss_session_close(s, 1011, reason, now);
        return;
    }
    greet(s, now);
}

/* ---- heartbeats ----------------------------------------------------------
 * As staging (docs/contract.md §2.7): after heartbeat_ms without client
 * traffic the server sends {"type":"heartbeat"}; after heartbeat_timeout_ms
 * without any it gives up with close 1011. Any client frame resets both. */

static void heartbeat_arm(sim_ws_session *s) {
    const sim_scenario *sc = s->cfg->sc;
    s->heartbeat_due_ms = 0;
    if (sc->heartbeat_ms && !s->heartbeat_sent)
        s->heartbeat_due_ms = s->last_rx_ms + sc->heartbeat_ms;
    else if (sc->heartbeat_timeout_ms)
        s->heartbeat_due_ms = s->last_rx_ms + sc->heartbeat_timeout_ms;
}

void sim_wss_heartbeat_start(sim_ws_session *s, int64_t now) {
    s->last_rx_ms = now;
    s->heartbeat_sent = 0;
    heartbeat_arm(s);
}

void sim_wss_heartbeat_step(sim_ws_session *s, int64_t now) {
    const sim_scenario *sc = s->cfg->sc;
    s->heartbeat_due_ms = 0;
    if (s->hung || s->aborted || s->close_queued) return;
    int64_t idle = now - s->last_rx_ms;
    if (sc->heartbeat_timeout_ms && idle >= sc->heartbeat_timeout_ms) {
        sim_wss_stop_runs(s);
        sim_wss_session_close(s, 1011, "Heartbeat timeout", now);
        return;
    }
    if (sc->heartbeat_ms && !s->heartbeat_sent && idle >= sc->heartbeat_ms) {
        s->heartbeat_sent = 1;
        sim_wss_send_message(s, sim_ws_heartbeat(s->hs->user_id, s->conn_id, now), "heartbeat", s->runs_req,
             NULL, now);
    }
    heartbeat_arm(s);
}

/* ---- output and the rest of the session's life ---------------------------- */

unsigned sim_ws_session_wants(const sim_ws_session *s) {
    unsigned w = 0;
    if ((s->out.len || s->out_close) && !s->hung && !s->aborted) w |= SIM_WS_WANT_WRITE;
    if (s->aborted) w |= SIM_WS_WANT_ABORT;
    return w;
}

const unsigned char *sim_ws_session_out(const sim_ws_session *s, size_t *len) {
    *len = s->hung || s->aborted ? 0 : s->out.len;
    return *len ? (const unsigned char *)s->out.data : NULL;
}

void sim_ws_session_out_done(sim_ws_session *s) {
    sim_buf_free(&s->out);
}

sim_ws_frame *sim_ws_session_close_next(sim_ws_session *s) {
    if (s->hung || s->aborted || s->out.len) return NULL;
    sim_ws_frame *f = s->out_close;
    s->out_close = NULL;
    return f;
}

sim_ws_frame *sim_ws_session_pop(sim_ws_session *s) {
    if (s->hung || s->aborted) return NULL;
    if (!s->out.len) return sim_ws_session_close_next(s);
    /* One frame off the front, as a client would read it. */
    const unsigned char *p = (const unsigned char *)s->out.data;
    size_t hl = 2, n = p[1] & 0x7f;
    if (n == 126) {
        n = (size_t)p[2] << 8 | p[3];
        hl = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | p[2 + i];
        hl = 10;
    }
    sim_ws_frame *f = frame_new(s, 0, (const char *)p + hl, n);
    sim_buf_consume(&s->out, hl + n);
    if (!s->out.len) sim_buf_free(&s->out);
    return f;
}

void sim_ws_session_deliver(sim_ws_session *s, const char *user_id, const char *json,
                            int64_t now_ms) {
    if (gone(s) || s->hung || strcmp(s->hs->user_id, user_id) != 0) return;
    pipe_push(s, frame_text(s, json), now_ms, now_ms);
    held_release(s, now_ms, now_ms);
}

/* A goodbye (revoked here, shutting down below) goes ahead of anything a
 * fault delayed or held back: those frames are dropped, since the server
 * closes now; queued behind a delay the close would reach the client only
 * after it (or, at shutdown, after the grace: 1006). */
static void drop_unsent(sim_ws_session *s) {
    sim_wss_list_clear(&s->pipe);
    sim_wss_list_clear(&s->held);
}

int sim_ws_session_revoked(sim_ws_session *s, const char *user_id, const char *jti,
                           int64_t now_ms) {
    const sim_ws_handshake *hs = s->hs;
    if (!hs->jti[0] || s->close_queued || s->aborted || s->shutting_down) return 0;
    if (jti ? strcmp(jti, hs->jti) != 0 : !user_id || strcmp(user_id, hs->user_id) != 0) return 0;
    sim_wss_stop_runs(s);
    sim_wss_in_clear(s);
    drop_unsent(s);
    sim_wss_send_message(s, sim_ws_error("AUTH_FAILED", "Authentication failed: Token has been revoked",
                                 now_ms),
                 "error_message", 0, NULL, now_ms);
    sim_wss_session_close(s, 1008, "Authentication failed", now_ms);
    return 1;
}

const char *sim_ws_session_jti(const sim_ws_session *s, double *exp) {
    if (exp) *exp = s->hs->exp;
    return s->hs->jti;
}

void sim_ws_session_shutdown(sim_ws_session *s, int64_t now_ms) {
    s->shutting_down = 1;
    sim_wss_stop_runs(s);
    sim_wss_in_clear(s);
    drop_unsent(s);
    s->hung = 0;   /* a hung session still gets the goodbye */
    sim_wss_session_close(s, 1001, "Server shutting down", now_ms);
}

void sim_ws_session_activity(sim_ws_session *s, int64_t now_ms) {
    if (s->heartbeat_due_ms) sim_wss_heartbeat_start(s, now_ms);
}

void sim_ws_session_closed(sim_ws_session *s, int code, int64_t now_ms) {
    sim_wire w = {.service = SIM_SVC_BACKEND, .point = SIM_WIRE_CLOSE, .proto = "ws",
                  .name = s->hs->path, .user_id = sim_wss_user_of(s), .conn = s->ordinal,
                  .msg = s->msgs_in, .run = s->runs, .status = code};
    sim_action a;
    s->env->cross(s->env->ctx, &w, now_ms, &a);
    sim_wss_stop_runs(s);
}

void sim_ws_session_free(sim_ws_session *s) {
    if (!s) return;
    sim_wss_stop_runs(s);
    sim_wss_in_clear(s);
    sim_wss_out_clear(s);
    sim_wss_list_clear(&s->pipe);
    sim_wss_list_clear(&s->held);
    sim_buf_free(&s->rx);
    sim_ws_handshake_free(s->hs);
    free(s);
}
