/* probe_net.c -- the lws client side of a probe run (see probe_net.h): a
 * context shared by the runs on one loop, and one protocol whose callback
 * hands each connection's events to its link. */
#include "probe_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util.h"

#define KICK_S 1.0

/* One lws client context per loop and CA file, shared by the runs that
 * overlap (loading the CA store once), destroyed when its last run lets go
 * of it. Its SSL_CTX is ours: libwebsockets 4.1 loses the one it makes
 * itself when another lws context lives at the same time (LeakSanitizer:
 * the CA store, ~700 KB; docs/libraries.md §2.14), and leaves a provided
 * one to its owner. */
typedef struct probe_client {
    struct probe_client *next;
    struct ev_loop *loop;
    void *foreign_loops[1];
    char *cacert;             /* NULL: the system store */
    SSL_CTX *tls;
    int trusting;             /* the certificates to verify against are loaded */
    struct lws_context *ctx;
    ev_timer kick;
    int users;                /* probe_nets on it */
} probe_client;

static probe_client *clients;   /* one thread, one loop: no lock */

struct probe_net {
    struct ev_loop *loop;
    probe_client *client;
    probe_link *held;         /* connections of this run lws holds */
    int open;                 /* how many */
    ev_timer *idle;           /* fed when open drops to 0 */
};

static void idle_check(probe_net *n) {
    if (n->open || !n->idle) return;
    /* Fed, not called: the waiter may free the context, which must not
     * happen inside an lws callback. */
    ev_feed_event(n->loop, n->idle, EV_TIMER);
    n->idle = NULL;
}

static void link_free(probe_link *l) {
    free(l->path);
    free(l->subprotocol);
    free(l->bearer);
    l->free_fn(l);
}

/* lws no longer holds the link's connection. */
static void let_go(probe_link *l) {
    probe_net *n = l->net;
    l->held = 0;
    l->wsi = NULL;
    *l->held_prev = l->held_next;
    if (l->held_next) l->held_next->held_prev = l->held_prev;
    n->open--;
    if (l->released) link_free(l);
    idle_check(n);
}

static int add_bearer(probe_link *l, struct lws *wsi, unsigned char **p, unsigned char *end) {
    char v[4200];
    int n = snprintf(v, sizeof(v), "Bearer %s", l->bearer);
    if (n >= (int)sizeof(v)) return -1;
    return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v, n,
                                        p, end);
}

static void note_error(probe_link *l, const char *text, size_t len) {
    if (l->error[0]) return;   /* a certificate's reason says more than lws's text */
    if (text && len) snprintf(l->error, sizeof(l->error), "%.*s", (int)len, text);
    else snprintf(l->error, sizeof(l->error), "connection failed");
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    /* Context-wide callbacks come on wsis no link owns. */
    probe_link *l = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (!l) return 0;
    switch (reason) {
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* user is OpenSSL's X509_STORE_CTX, len its verdict; returning 0
         * keeps that verdict. */
        if (!len && user)
            snprintf(l->error, sizeof(l->error), "TLS: %s",
                     X509_verify_cert_error_string(X509_STORE_CTX_get_error(user)));
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        note_error(l, in, in ? len : 0);
        if (l->starting) {
            l->failed_early = 1;
            return 0;
        }
        return l->on_event(l, wsi, reason, l->error, strlen(l->error));
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (l->bearer && add_bearer(l, wsi, in, *(unsigned char **)in + len)) return -1;
        return l->on_event(l, wsi, reason, in, len);
    case LWS_CALLBACK_WSI_DESTROY: {
        int rc = l->starting ? 0 : l->on_event(l, wsi, reason, in, len);
        lws_set_opaque_user_data(wsi, NULL);
        let_go(l);
        return rc;
    }
    default:
        return l->on_event(l, wsi, reason, in, len);
    }
}

static const struct lws_protocols protocols[] = {
    {"stagesim-probe", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* What lws reports as errors and warnings on a client (a refused upgrade,
 * a certificate it does not trust) is an attempt's verdict here, reported
 * with the attempt: its own lines only with --verbose. */
static void log_emit(int level, const char *line) {
    (void)level;
    sim_debug("lws: %.*s", (int)strcspn(line, "\r\n"), line);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    probe_client *c = t->data;
    lws_cancel_service(c->ctx);
}

static int same_ca(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Loads the certificates a TLS server is verified against: cacert, or the
 * system store. */
static int load_trust(SSL_CTX *tls, const char *cacert, char *err, size_t errlen) {
    ERR_clear_error();
    int loaded = cacert ? SSL_CTX_load_verify_locations(tls, cacert, NULL)
                        : SSL_CTX_set_default_verify_paths(tls);
    if (loaded == 1) return 0;
    char why[200];
    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    snprintf(err, errlen, "cannot load the CA certificates of %s: %s",
             cacert ? cacert : "the system store", why);
    return -1;
}

/* A client SSL_CTX that verifies the server (lws checks the host name on
 * each connection). A given cacert is loaded now, so that a bad one is a
 * usage error; the system store only before the first TLS connection
 * (probe_net_connect): parsing the whole bundle took 240 ms under ASan on a
 * busy machine, for every step of a drill, most of which speak plain HTTP. */
static SSL_CTX *client_tls(const char *cacert, char *err, size_t errlen) {
    SSL_CTX *tls = SSL_CTX_new(TLS_client_method());
    if (!tls) {
        snprintf(err, errlen, "cannot make a TLS client context");
        return NULL;
    }
    if (cacert && load_trust(tls, cacert, err, errlen) != 0) {
        SSL_CTX_free(tls);
        return NULL;
    }
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
    return tls;
}

static probe_client *client_get(struct ev_loop *loop, const char *cacert, char *err,
                                size_t errlen) {
    for (probe_client *c = clients; c; c = c->next)
        if (c->loop == loop && same_ca(c->cacert, cacert)) {
            c->users++;
            return c;
        }
    SSL_CTX *tls = client_tls(cacert, err, errlen);
    if (!tls) return NULL;
    probe_client *c = sim_xcalloc(1, sizeof(*c));
    c->tls = tls;
    c->loop = loop;
    c->foreign_loops[0] = loop;
    lws_set_log_level(LLL_ERR | LLL_WARN, log_emit);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = c->foreign_loops;
    info.provided_client_ssl_ctx = tls;
    info.max_http_header_data = 16384;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        snprintf(err, errlen, "lws client context creation failed (is libwebsockets-evlib-ev "
                              "installed? is %s a PEM certificate?)",
                 cacert ? cacert : "the system store");
        SSL_CTX_free(tls);
        free(c);
        return NULL;
    }
    c->cacert = cacert ? sim_xstrdup(cacert) : NULL;
    c->trusting = cacert != NULL;
    ev_timer_init(&c->kick, on_kick, KICK_S, KICK_S);
    c->kick.data = c;
    ev_timer_start(loop, &c->kick);
    c->users = 1;
    c->next = clients;
    clients = c;
    return c;
}

static void client_put(probe_client *c) {
    if (--c->users) return;
    for (probe_client **p = &clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    ev_timer_stop(c->loop, &c->kick);
    lws_context_destroy(c->ctx);
    SSL_CTX_free(c->tls);
    free(c->cacert);
    free(c);
}

probe_net *probe_net_new(struct ev_loop *loop, const char *cacert, char *err, size_t errlen) {
    probe_client *c = client_get(loop, cacert, err, errlen);
    if (!c) return NULL;
    probe_net *n = sim_xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->client = c;
    return n;
}

void probe_net_free(probe_net *n) {
    if (!n) return;
    /* What lws still holds of this run is released; closing it destroys
     * the wsi at once, which unlinks it. */
    while (n->held) {
        sim_assert(n->held->released);
        lws_set_timeout(n->held->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    }
    sim_assert(n->open == 0);
    client_put(n->client);
    free(n);
}

void probe_net_when_idle(probe_net *n, ev_timer *w) {
    n->idle = w;
    idle_check(n);
}

static void on_defer(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    probe_link *l = t->data;
    l->on_event(l, NULL, LWS_CALLBACK_CLIENT_CONNECTION_ERROR, l->error, strlen(l->error));
}

static char *dup_or_null(const char *s) {
    return s ? sim_xstrdup(s) : NULL;
}

void probe_net_connect(probe_net *n, const probe_connect *c, probe_link *link) {
    const sim_probe_url *u = c->url;
    link->net = n;
    link->path = sim_xstrdup(c->path);
    link->subprotocol = dup_or_null(c->subprotocol);
    link->bearer = dup_or_null(c->bearer);
    ev_timer_init(&link->defer, on_defer, 0.0, 0.0);
    link->defer.data = link;
    char host[280];
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(host, sizeof(host), "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
    probe_client *pc = n->client;
    if (u->tls && !pc->trusting &&
        load_trust(pc->tls, NULL, link->error, sizeof(link->error)) == 0)
        pc->trusting = 1;
    int can_connect = !u->tls || pc->trusting;   /* else link->error says why */
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = pc->ctx;
    ci.address = u->host;
    ci.port = u->port;
    ci.path = link->path;
    ci.host = host;
    ci.origin = host;
    ci.ssl_connection = u->tls ? LCCSCF_USE_SSL : 0;
    ci.method = c->method;
    ci.protocol = link->subprotocol;
    ci.local_protocol_name = protocols[0].name;
    ci.alpn = "http/1.1";
    ci.opaque_user_data = link;
    /* Held and counted before the call: a connection that fails at once
     * may be destroyed (WSI_DESTROY) inside it. */
    n->open++;
    link->held = 1;
    link->held_next = n->held;
    if (n->held) n->held->held_prev = &link->held_next;
    link->held_prev = &n->held;
    n->held = link;
    link->starting = 1;
    struct lws *wsi = can_connect ? lws_client_connect_via_info(&ci) : NULL;
    link->starting = 0;
    if (!wsi && link->held) let_go(link);   /* refused without a destroy callback */
    link->wsi = link->held ? wsi : NULL;
    if (!link->wsi) {
        link->failed_early = 1;
        if (!link->error[0])
            snprintf(link->error, sizeof(link->error), "cannot connect to %s", host);
    }
    if (link->failed_early) ev_timer_start(n->loop, &link->defer);
}

static void stop_defer(probe_link *link) {
    ev_timer_stop(link->net->loop, &link->defer);
}

void probe_link_release_now(probe_link *link) {
    stop_defer(link);
    link->released = 1;
    if (!link->held) {
        link_free(link);
        return;
    }
    /* LWS_TO_KILL_SYNC closes and destroys the wsi before returning: the
     * WSI_DESTROY callback frees the link. */
    lws_set_timeout(link->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

void probe_link_release_later(probe_link *link) {
    stop_defer(link);
    link->released = 1;
    if (!link->held) link_free(link);
}
