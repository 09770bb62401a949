/* tls_front.c -- TLS in front of the backend: every accepted socket is
 * adopted by libwebsockets as a raw TLS connection (lws does the handshake
 * with OpenSSL, on the loop), and its plaintext is relayed to a loopback TCP
 * connection to the backend's own listener. Backpressure both ways: a relay
 * holds at most RELAY_MAX bytes per direction, then stops reading that side.
 *
 * Ends are carried over as they are: the client's close becomes a FIN to
 * the backend; the backend's FIN becomes a TLS close after the last byte; a
 * reset from the backend (a fault's `abort`) becomes a reset to the client,
 * which is why the inner leg is TCP rather than a socketpair.
 *
 * lws traps (docs/libraries.md §2): ALPN must say http/1.1 or clients
 * negotiate h2 and lws switches role; a 1 s lws_cancel_service kick keeps
 * lws's own timeouts firing on the foreign loop. */
#include "tls_front.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "listener.h"
#include "sock.h"
#include "util.h"

#define RELAY_MAX (256 * 1024)   /* bytes buffered per direction before pausing */
#define CHUNK 16384              /* bytes per read or lws_write */
#define KICK_S 1.0

typedef struct relay {
    sim_tls_front *f;
    struct relay *prev, *next;
    struct lws *wsi;             /* the client's TLS side; NULL once lws freed it */
    int fd;                      /* the loopback leg to the backend; -1 when closed */
    ev_io rio, wio;
    sim_buf to_inner;            /* client bytes not yet written to the backend */
    sim_buf to_outer;            /* backend bytes not yet given to lws */
    int inner_eof;               /* the backend sent FIN: close after the last byte */
    int inner_reset;             /* the backend reset: reset the client */
    int client_paused;           /* lws rx flow control is off */
} relay;

struct sim_tls_front {
    struct ev_loop *loop;
    sim_tls_front_config cfg;
    void *foreign_loops[1];
    struct lws_context *ctx;
    struct lws_vhost *vh;
    SSL_CTX *unused_client;   /* ours, so that lws makes none (§2.14) */
    sim_listener *listener;
    ev_timer kick;
    relay *relays;
    long nrelays;
};

static void relay_unlink(relay *r) {
    if (r->prev) r->prev->next = r->next;
    else if (r->f->relays == r) r->f->relays = r->next;
    if (r->next) r->next->prev = r->prev;
    r->prev = r->next = NULL;
    r->f->nrelays--;
}

/* Closes the loopback leg; the relay itself goes with the wsi (RAW_CLOSE). */
static void inner_close(relay *r) {
    if (r->fd < 0) return;
    ev_io_stop(r->f->loop, &r->rio);
    ev_io_stop(r->f->loop, &r->wio);
    close(r->fd);
    r->fd = -1;
}

static void relay_free(relay *r) {
    inner_close(r);
    relay_unlink(r);
    sim_buf_free(&r->to_inner);
    sim_buf_free(&r->to_outer);
    free(r);
}

/* Ends the client side from its writeable callback (returning -1 there
 * closes at once; lws's own timeouts fire late on libev): a reset at once,
 * a TLS close after the last byte otherwise. Never frees r: RAW_CLOSE does,
 * once lws is done with the wsi. */
static void client_close(relay *r) {
    if (r->wsi) lws_callback_on_writable(r->wsi);
}

static void flush_inner(relay *r) {
    while (r->to_inner.len && r->fd >= 0) {
        ssize_t n = send(r->fd, r->to_inner.data, r->to_inner.len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            r->inner_eof = r->inner_reset = 1;
            inner_close(r);
            client_close(r);
            return;
        }
        sim_buf_consume(&r->to_inner, (size_t)n);
    }
    if (r->fd < 0) return;
    if (r->to_inner.len) ev_io_start(r->f->loop, &r->wio);
    else ev_io_stop(r->f->loop, &r->wio);
    if (r->client_paused && r->to_inner.len < RELAY_MAX / 2 && r->wsi) {
        r->client_paused = 0;
        lws_rx_flow_control(r->wsi, 1);
    }
}

static void on_inner_write(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    flush_inner(w->data);
}

static void on_inner_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)revents;
    relay *r = w->data;
    char buf[CHUNK];
    ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
        /* 0: the backend closed; otherwise it reset (ECONNRESET). */
        r->inner_eof = 1;
        r->inner_reset = n < 0;
        inner_close(r);
        client_close(r);
        return;
    }
    sim_buf_append(&r->to_outer, buf, (size_t)n);
    if (r->to_outer.len >= RELAY_MAX) ev_io_stop(loop, &r->rio);
    if (r->wsi) lws_callback_on_writable(r->wsi);
}

/* Opens the loopback leg to the backend. A local connect completes at once
 * or soon; bytes written meanwhile wait in to_inner. */
static int inner_open(relay *r) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->f->cfg.inner_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    sim_sock_nodelay(fd);
    r->fd = fd;
    ev_io_init(&r->rio, on_inner_read, fd, EV_READ);
    ev_io_init(&r->wio, on_inner_write, fd, EV_WRITE);
    r->rio.data = r->wio.data = r;
    ev_io_start(r->f->loop, &r->rio);
    return 0;
}

static int write_outer(relay *r) {
    if (r->inner_reset) {
        sim_sock_abort(lws_get_socket_fd(r->wsi));
        return -1;
    }
    size_t n = r->to_outer.len > CHUNK ? CHUNK : r->to_outer.len;
    if (n) {
        unsigned char buf[LWS_PRE + CHUNK];
        memcpy(buf + LWS_PRE, r->to_outer.data, n);
        if (lws_write(r->wsi, buf + LWS_PRE, n, LWS_WRITE_RAW) < (int)n) return -1;
        sim_buf_consume(&r->to_outer, n);
    }
    if (r->to_outer.len) {
        lws_callback_on_writable(r->wsi);
    } else if (r->inner_eof) {
        return -1;   /* the backend's last byte is out: close (TLS close_notify) */
    }
    if (r->fd >= 0 && r->to_outer.len < RELAY_MAX / 2) ev_io_start(r->f->loop, &r->rio);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
    (void)user;
    sim_tls_front *f = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
    relay *r = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        r = sim_xcalloc(1, sizeof(*r));
        r->f = f;
        r->wsi = wsi;
        r->fd = -1;
        lws_set_opaque_user_data(wsi, r);
        r->next = f->relays;
        if (f->relays) f->relays->prev = r;
        f->relays = r;
        f->nrelays++;
        sim_sock_nodelay(lws_get_socket_fd(wsi));
        return inner_open(r) ? -1 : 0;
    case LWS_CALLBACK_RAW_RX:
        if (!r || r->fd < 0) return -1;
        /* lws leaves a raw TLS wsi its 5 s accept timeout after the
         * handshake (docs/libraries.md §10.1): a kept-alive connection
         * would be cut mid-use. Its idle life is the backend's to end. */
        lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
        sim_buf_append(&r->to_inner, in, len);
        if (r->to_inner.len >= RELAY_MAX && !r->client_paused) {
            r->client_paused = 1;
            lws_rx_flow_control(wsi, 0);
        }
        flush_inner(r);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE:
        return r ? write_outer(r) : 0;
    case LWS_CALLBACK_RAW_CLOSE:
        if (r) {
            /* The client went (or we closed it): the backend sees a FIN, or
             * a reset if it still had bytes on their way. */
            lws_set_opaque_user_data(wsi, NULL);
            r->wsi = NULL;
            relay_free(r);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"stagesim-tls", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_client(void *ctx, int fd) {
    sim_tls_front *f = ctx;
    if (f->cfg.max_conns > 0 && f->nrelays >= f->cfg.max_conns) {
        close(fd);
        return;
    }
    lws_sock_file_fd_type sock = {.sockfd = fd};
    /* lws closes fd itself when adoption fails. */
    lws_adopt_descriptor_vhost(f->vh, LWS_ADOPT_SOCKET | LWS_ADOPT_ALLOW_SSL, sock,
                               protocols[0].name, NULL);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_tls_front *f = t->data;
    lws_cancel_service(f->ctx);
}

sim_tls_front *sim_tls_front_start(struct ev_loop *loop, const sim_tls_front_config *cfg,
                                   char *err, size_t errlen) {
    sim_tls_front *f = sim_xcalloc(1, sizeof(*f));
    f->loop = loop;
    f->cfg = *cfg;
    f->cfg.bind = NULL;   /* borrowed for the start only */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    f->foreign_loops[0] = loop;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.foreign_loops = f->foreign_loops;
    info.user = f;
    f->ctx = lws_create_context(&info);
    info.vhost_name = "stagesim-tls";
    info.alpn = "http/1.1";
    info.ssl_cert_filepath = cfg->cert->cert_path;
    info.ssl_private_key_filepath = cfg->cert->key_path;
    info.timeout_secs = 20;
    /* The front never connects out, but lws gives every vhost a client
     * SSL_CTX, and loses one when another lws context (a probe's) lives at
     * the same time (docs/libraries.md §2.14): one of ours, that it leaves
     * to us, is never lost. */
    f->unused_client = SSL_CTX_new(TLS_client_method());
    info.provided_client_ssl_ctx = f->unused_client;
    if (f->ctx && f->unused_client) f->vh = lws_create_vhost(f->ctx, &info);
    if (!f->ctx || !f->vh) {
        snprintf(err, errlen, "backend (tls): lws TLS context creation failed for %s",
                 cfg->cert->cert_path);
        if (f->ctx) lws_context_destroy(f->ctx);
        SSL_CTX_free(f->unused_client);
        free(f);
        return NULL;
    }
    /* Without a TLS handshake there is nobody to refuse in words: a client
     * taken while descriptors ran out is closed. */
    sim_listener_config lc = {.who = "backend (tls)", .bind = cfg->bind, .port = cfg->port,
                              .backlog = 1024, .on_accept = on_client, .ctx = f};
    f->listener = sim_listener_start(loop, &lc, err, errlen);
    if (!f->listener) {
        lws_context_destroy(f->ctx);
        SSL_CTX_free(f->unused_client);
        free(f);
        return NULL;
    }
    ev_timer_init(&f->kick, on_kick, KICK_S, KICK_S);
    f->kick.data = f;
    ev_timer_start(loop, &f->kick);
    return f;
}

void sim_tls_front_crash(sim_tls_front *f) {
    /* The relays end with the backend's connections the crash cuts. */
    sim_listener_close(f->listener);
}

int sim_tls_front_restart(sim_tls_front *f, char *err, size_t errlen) {
    return sim_listener_reopen(f->listener, err, errlen);
}

int sim_tls_front_port(const sim_tls_front *f) {
    return sim_listener_port(f->listener);
}

void sim_tls_front_set_inner_port(sim_tls_front *f, int port) {
    f->cfg.inner_port = port;
}

void sim_tls_front_stop_listening(sim_tls_front *f) {
    if (f) sim_listener_close(f->listener);
}

void sim_tls_front_free(sim_tls_front *f) {
    if (!f) return;
    sim_listener_free(f->listener);
    ev_timer_stop(f->loop, &f->kick);
    /* Destroys every wsi; RAW_CLOSE frees their relays. */
    lws_context_destroy(f->ctx);
    SSL_CTX_free(f->unused_client);
    while (f->relays) relay_free(f->relays);
    free(f);
}
