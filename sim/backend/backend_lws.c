/* backend_lws.c -- libwebsockets on the libev loop: the context, the one
 * protocol callback that serves HTTP and WebSocket (lws 4.1 does not route
 * upgrades by path, docs/libraries.md §2.4) and the upgrade checks of
 * CONFIRM_UPGRADE. The callback hands each connection to its part:
 * backend_http.c or backend_ws.c.
 *
 * lws 4.1.6 traps handled here: a 1 s ev_timer calls lws_cancel_service so
 * lws's own timeouts fire (§2.3); upgrade refusals are raw HTTP/1.1
 * responses (§2.5); the per-session pointer may be NULL (§2.6). */
#include "backend_lws.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_http.h"
#include "backend_ws.h"
#include "util.h"

#define KICK_S 1.0   /* lws_cancel_service period (§2.3) */

/* ---- upgrades --------------------------------------------------------------- */

/* Refuses an upgrade inside CONFIRM_UPGRADE with a real HTTP/1.1 answer
 * (lws_return_http_status says HTTP/1.0, which python-websockets rejects).
 * ctype NULL: guessed from body. */
static int upgrade_refuse(const conn *c, struct lws *wsi, int status, const char *ctype,
                          const char *body) {
    unsigned char buf[LWS_PRE + 4096];
    size_t n = sim_backend_http_refusal(c, (char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE, status,
                                        ctype, body);
    lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

/* An upgrade that came as a later request of a keep-alive connection (the
 * pre-read only sees the first): its http.request and ws.accept crossings
 * happen here, inside CONFIRM_UPGRADE, where nothing can wait. So delay and
 * slow pass through (with a warning), hang refuses nothing and answers
 * nothing more. Returns what CONFIRM_UPGRADE returns, or 0 to go on. */
static int keepalive_upgrade_faults(conn *c, struct lws *wsi) {
    sim_backend *b = c->b;
    sim_ws_handshake *hs = c->upgrade;
    sim_action a;
    sim_backend_cross(b, SIM_WIRE_REQUEST, "http", hs->path, "GET", NULL, c->ordinal, 1, 0, 0, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: break;
    case SIM_ACT_REPLY: return upgrade_refuse(c, wsi, a.code ? a.code : 500, a.field,
                                              a.text ? a.text : "");
    case SIM_ACT_ABORT: sim_backend_conn_abort(c); return -1;
    case SIM_ACT_EMPTY: return -1;
    case SIM_ACT_HANG: c->hung = 1; return 1;
    default:
        sim_warn("backend: %s on a keep-alive WebSocket upgrade is not supported; passed",
                 sim_action_name(a.kind));
        break;
    }
    sim_backend_cross(b, SIM_WIRE_ACCEPT, "ws", hs->path, "GET",
                      hs->user_id[0] ? hs->user_id : NULL, c->ordinal, 0, 0, 0, &a);
    switch (a.kind) {
    case SIM_ACT_PASS: return 0;
    case SIM_ACT_CLOSE:
    case SIM_ACT_REPLACE:
        sim_ws_handshake_accept_action(hs, &a, b->cfg.sc->agent.agent_name,
                                       sim_backend_now_ms(b));
        return 0;
    case SIM_ACT_HANG: c->hung = 1; return 1;
    case SIM_ACT_ABORT:
    default: sim_backend_conn_abort(c); return -1;
    }
}

/* RFC 6455 4.2.2: a version the server does not speak gets 426 and the
 * version it does (lws itself accepts any). */
static int version_unsupported(struct lws *wsi) {
    char ver[16] = "";
    lws_hdr_copy(wsi, ver, sizeof(ver), WSI_TOKEN_VERSION);
    if (strcmp(ver, "13") == 0) return 0;
    static const char body[] = "{\"detail\":\"Unsupported WebSocket version\"}";
    unsigned char buf[LWS_PRE + 512];
    int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 426 Upgrade Required\r\nsec-websocket-version: 13\r\n"
                     "content-type: application/json\r\ncontent-length: %zu\r\n"
                     "connection: close\r\n\r\n%s", sizeof(body) - 1, body);
    lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
    return 1;
}

/* The WebSocket paths of the profile (docs/contract.md §2.1). */
static int is_ws_path(const sim_backend *b, const char *path) {
    if (strcmp(path, "/ws") == 0) return 1;
    if (b->cfg.sc->profile == SIM_PROFILE_LEGACY) return strcmp(path, "/websocket") == 0;
    return strcmp(path, "/api/v1/websocket") == 0;
}

/* The checks of §2.4, in order. The token was checked by the pre-read (or
 * here, for a keep-alive upgrade); its failures are answered after the
 * accept, as staging did. */
static int confirm_upgrade(conn *c, struct lws *wsi) {
    sim_backend *b = c->b;
    if (version_unsupported(wsi)) return 1;
    sim_backend_http_busy(c);
    if (!c->upgrade) {
        /* A later request on a keep-alive connection: read lws's headers. */
        char path[256] = "", authz[4096] = "", sub[1024] = "";
        lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
        lws_hdr_copy(wsi, authz, sizeof(authz), WSI_TOKEN_HTTP_AUTHORIZATION);
        lws_hdr_copy(wsi, sub, sizeof(sub), WSI_TOKEN_PROTOCOL);
        int qlen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
        char *query = sim_xcalloc(1, (size_t)qlen + 64);
        lws_hdr_copy(wsi, query, qlen + 64, WSI_TOKEN_HTTP_URI_ARGS);
        c->upgrade = sim_ws_handshake_new(b->cfg.sc, b->cfg.auth, path, sub, authz, query,
                                          sim_backend_now_ms(b));
        free(query);
        /* The connection's close crossing names the upgrade's path. */
        snprintf(c->u.http->path, sizeof(c->u.http->path), "%s", path);
        c->ordinal = ++b->ws_conns;
        int r = keepalive_upgrade_faults(c, wsi);
        if (r) return r;
    }
    const sim_ws_handshake *hs = c->upgrade;
    if (!is_ws_path(b, hs->path))
        return upgrade_refuse(c, wsi, 404, NULL, "{\"detail\":\"Not Found\"}");
    if (b->shutting_down)
        return upgrade_refuse(c, wsi, 503, NULL, "{\"detail\":\"Server shutting down\"}");
    if (!hs->auth.token && !hs->auth.unsupported && b->cfg.sc->no_token == SIM_NO_TOKEN_REJECT)
        return upgrade_refuse(c, wsi, 403, NULL, "{\"detail\":\"Authentication required\"}");
    if (hs->auth.token && hs->auth_status != SIM_AUTH_OK &&
        b->cfg.sc->invalid_token == SIM_BAD_TOKEN_REJECT)
        return upgrade_refuse(c, wsi, 403, NULL, "{\"detail\":\"Authentication failed\"}");
    c->u.http->upgrading = 1;
    return 0;
}

/* The 101 echoes the subprotocol the token came in (docs/contract.md §2.2). */
static int add_upgrade_headers(const conn *c, struct lws_process_html_args *args) {
    const sim_ws_handshake *hs = c->upgrade;
    if (c->kind != C_HTTP || !c->u.http->upgrading || !hs || !hs->auth.subprotocol ||
        hs->auth.unsupported)
        return 0;
    int n = snprintf(args->p, (size_t)args->max_len, "Sec-WebSocket-Protocol: %s\r\n",
                     hs->auth.subprotocol);
    if (n < 0 || n >= args->max_len) return 1;
    args->p += n;
    args->max_len -= n;
    return 0;
}

/* ---- the lws callback --------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    sim_backend *b = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
    conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (!c && b && b->adopting && reason == LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED) {
        /* The socket being adopted: claim it before lws reads the head. */
        c = b->adopting;
        b->adopting = NULL;
        c->wsi = wsi;
        lws_set_opaque_user_data(wsi, c);
    }
    int http = c && c->kind == C_HTTP, ws = c && c->kind == C_WS;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        if (!http) return upgrade_refuse(NULL, wsi, 500, NULL, "{\"detail\":\"Internal Server Error\"}");
        return confirm_upgrade(c, wsi);
    case LWS_CALLBACK_ADD_HEADERS: return c ? add_upgrade_headers(c, in) : 0;
    case LWS_CALLBACK_ESTABLISHED: return http ? sim_backend_ws_established(c) : -1;
    case LWS_CALLBACK_RECEIVE: return ws ? sim_backend_ws_receive(c, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE: return ws ? sim_backend_ws_writeable(c) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ws) sim_backend_ws_peer_close(c, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (ws) sim_backend_ws_closed(c);
        return 0;
    case LWS_CALLBACK_HTTP: return http ? sim_backend_http_begin(c, wsi, in) : -1;
    case LWS_CALLBACK_HTTP_BODY:
        if (http) sim_backend_http_body(c, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return http ? sim_backend_http_body_done(c) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE: return http ? sim_backend_http_writeable(c, wsi) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (http) sim_backend_http_closed(c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            c->wsi = NULL;
            sim_backend_unlink(c);
            sim_backend_conn_free(c);
        }
        return 0;
    default:
        return 0;
    }
}

/* rx_buffer_size: lws gives every WebSocket a receive buffer of this size
 * for its whole life (by default pt_serv_buf_size, 4096 bytes); client
 * messages are small, and longer ones arrive in pieces that the session
 * collects anyway. tx_packet_size: the most lws sends in one send() (by
 * default rx_buffer_size), so that a batch of frames leaves in one
 * (docs/libraries.md §2.8). */
#define WS_RX_BUFFER 512
#define TX_PACKET 65536

static const struct lws_protocols protocols[] = {
    {"stagesim", callback, 0, WS_RX_BUFFER, 0, NULL, TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the context ------------------------------------------------------------ */

static void kick_cb(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_backend *b = (sim_backend *)((char *)t - offsetof(sim_backend, kick));
    if (b->ctx) lws_cancel_service(b->ctx);
}

/* lws logs every adopted socket at ERR level in 4.1.6 ("adopt_socket_readbuf:
 * calling service"); drop that line, pass the rest to our log (§2.2). */
static void lws_log_emit(int level, const char *line) {
    (void)level;
    if (strstr(line, "calling service")) return;
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
    sim_warn("lws: %.*s", (int)n, line);
}

int sim_backend_lws_start(sim_backend *b, char *err, size_t errlen) {
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    b->foreign_loops[0] = b->loop;
    /* lws listens on nothing: backend_accept.c owns the socket (§2.7). */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
                   LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = b->foreign_loops;
    info.user = b;
    info.vhost_name = "stagesim-backend";
    info.max_http_header_data = 16384;   /* uvicorn (h11) takes heads up to 16 KiB */
    info.timeout_secs = 20;
    b->ctx = lws_create_context(&info);
    if (b->ctx) b->vh = lws_create_vhost(b->ctx, &info);
    if (!b->ctx || !b->vh) {
        snprintf(err, errlen, "backend: lws context creation failed "
                              "(is libwebsockets-evlib-ev installed?)");
        if (b->ctx) lws_context_destroy(b->ctx);
        b->ctx = NULL;
        return -1;
    }
    ev_timer_init(&b->kick, kick_cb, KICK_S, KICK_S);
    ev_timer_start(b->loop, &b->kick);
    ev_prepare_init(&b->settle, sim_backend_http_settle);
    return 0;
}

void sim_backend_lws_free(sim_backend *b) {
    ev_timer_stop(b->loop, &b->kick);
    ev_prepare_stop(b->loop, &b->settle);
    /* Destroys every wsi; WSI_DESTROY frees their connections. */
    lws_context_destroy(b->ctx);
    b->ctx = NULL;
}
