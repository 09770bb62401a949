/* http_client.c -- one HTTP/1.1 request on the loop (http_client.h). */
#include "http_client.h"

#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock.h"
#include "util.h"

#define MAX_REPLY (1024 * 1024)

struct sim_http_call {
    struct ev_loop *loop;
    sim_http_call_fn fn;
    void *ctx;
    int fd;
    SSL_CTX *tls_ctx;
    SSL *tls;
    int connected;               /* TCP (and TLS) up */
    sim_buf out;                 /* the request, sent from `sent` */
    size_t sent;
    sim_buf in;                  /* the reply so far */
    ev_io io;
    ev_timer timeout;
    ev_timer later;              /* calls back from the loop */
    int status;
    char error[160];
    int done;
};

/* ---- the reply, pure ------------------------------------------------------ */

int sim_http_reply_parse(const char *buf, size_t len, int eof, int *status, size_t *body_off,
                         size_t *body_len) {
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = buf + i + 4;
            break;
        }
    if (len >= 8 && strncmp(buf, "HTTP/1.", 7) != 0) return -1;
    if (!end) return eof || len > 64 * 1024 ? -1 : 0;
    int code = 0;
    if (sscanf(buf, "HTTP/1.%*1[01] %3d", &code) != 1 || code < 100 || code > 599) return -1;
    size_t head = (size_t)(end - buf), have = len - head;
    long long clen = -1;
    /* Header lines, each ending in CRLF, between the status line and end. */
    for (const char *p = buf; p < end - 2;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break;
        p = eol + 1;
        if (end - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
            char num[24] = "";
            const char *v = p + 15, *ve = memchr(v, '\r', (size_t)(end - v));
            size_t n = ve ? (size_t)(ve - v) : 0;
            memcpy(num, v, n < sizeof(num) - 1 ? n : sizeof(num) - 1);
            clen = strtoll(num, NULL, 10);
        }
    }
    if (clen >= 0 && (size_t)clen <= have) have = (size_t)clen;
    else if (clen >= 0 || !eof) return eof ? -1 : 0;
    *status = code;
    *body_off = head;
    *body_len = have;
    return 1;
}

/* ---- the call ------------------------------------------------------------- */

static void finish(sim_http_call *c, int status, const char *error) {
    if (c->done) return;
    c->done = 1;
    c->status = status;
    if (error) snprintf(c->error, sizeof(c->error), "%s", error);
    ev_io_stop(c->loop, &c->io);
    ev_timer_stop(c->loop, &c->timeout);
    ev_feed_event(c->loop, &c->later, EV_TIMER);
}

static void call_free(sim_http_call *c) {
    ev_io_stop(c->loop, &c->io);
    ev_timer_stop(c->loop, &c->timeout);
    ev_clear_pending(c->loop, &c->later);
    if (c->tls) SSL_free(c->tls);
    if (c->tls_ctx) SSL_CTX_free(c->tls_ctx);
    if (c->fd >= 0) close(c->fd);
    sim_buf_free(&c->out);
    sim_buf_free(&c->in);
    free(c);
}

static void on_later(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    sim_http_call *c = t->data;
    int st = 0;
    size_t off = 0, blen = 0;
    if ((c->status || !c->error[0]) &&
        sim_http_reply_parse(c->in.data ? c->in.data : "", c->in.len, 1, &st, &off, &blen) == 1)
        c->status = st;
    else
        c->status = 0;
    if (c->status)
        c->fn(c->ctx, c->status, c->in.data ? c->in.data + off : "", blen, NULL);
    else
        c->fn(c->ctx, 0, NULL, 0, c->error[0] ? c->error : "no reply");
    call_free(c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
    (void)loop, (void)revents;
    finish(t->data, 0, "timed out");
}

static void want(sim_http_call *c, int events) {
    ev_io_stop(c->loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(c->loop, &c->io);
}

/* TLS or plain: bytes moved, 0 would block (*events: what to wait for),
 * -1 closed or failed. */
static ssize_t io_send(sim_http_call *c, int *events) {
    const char *p = c->out.data + c->sent;
    size_t n = c->out.len - c->sent;
    if (c->tls) {
        int r = SSL_write(c->tls, p, (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->tls, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *events = e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
            return 0;
        }
        return -1;
    }
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *events = EV_WRITE;
        return 0;
    }
    return -1;
}

static ssize_t io_recv(sim_http_call *c, char *buf, size_t n, int *events) {
    if (c->tls) {
        int r = SSL_read(c->tls, buf, (int)n);
        if (r > 0) return r;
        int e = SSL_get_error(c->tls, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *events = e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE;
            return -2;
        }
        return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t r = recv(c->fd, buf, n, 0);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *events = EV_READ;
        return -2;
    }
    return -1;
}

static void step(sim_http_call *c) {
    int events = 0;
    if (!c->connected) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err) {
            finish(c, 0, strerror(err));
            return;
        }
        if (c->tls) {
            int r = SSL_connect(c->tls);
            if (r != 1) {
                int e = SSL_get_error(c->tls, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    want(c, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
                    return;
                }
                char why[120];
                ERR_error_string_n(ERR_get_error(), why, sizeof(why));
                finish(c, 0, why);
                return;
            }
        }
        c->connected = 1;
    }
    while (c->sent < c->out.len) {
        ssize_t n = io_send(c, &events);
        if (n < 0) {
            finish(c, 0, "connection lost while sending");
            return;
        }
        if (n == 0) {
            want(c, events);
            return;
        }
        c->sent += (size_t)n;
    }
    for (;;) {
        char buf[8192];
        ssize_t n = io_recv(c, buf, sizeof(buf), &events);
        if (n == -2) {
            want(c, events);
            return;
        }
        if (n <= 0) {
            if (n < 0 && !c->in.len) {
                finish(c, 0, "connection reset");
                return;
            }
            int st;
            size_t off, blen;
            int r = sim_http_reply_parse(c->in.data ? c->in.data : "", c->in.len, 1, &st, &off,
                                         &blen);
            finish(c, r == 1 ? st : 0, r == 1 ? NULL : c->in.len ? "not an HTTP reply"
                                                                 : "closed without a reply");
            return;
        }
        sim_buf_append(&c->in, buf, (size_t)n);
        int st;
        size_t off, blen;
        int r = sim_http_reply_parse(c->in.data, c->in.len, 0, &st, &off, &blen);
        if (r == 1 || r < 0 || c->in.len > MAX_REPLY) {
            finish(c, r == 1 ? st : 0, r == 1 ? NULL : "not an HTTP reply");
            return;
        }
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    step(w->data);
}

sim_http_call *sim_http_call_start(struct ev_loop *loop, const sim_http_call_config *cfg,
                                   sim_http_call_fn fn, void *ctx) {
    sim_http_call *c = sim_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->fn = fn;
    c->ctx = ctx;
    c->fd = -1;
    ev_init(&c->io, on_io);
    ev_timer_init(&c->timeout, on_timeout, sim_clock_wait_s(cfg->clock, cfg->timeout_ms), 0.);
    ev_init(&c->later, on_later);
    c->io.data = c->timeout.data = c->later.data = c;
    sim_buf_printf(&c->out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                   cfg->method, cfg->path, cfg->port);
    if (cfg->content_type)
        sim_buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n", cfg->content_type,
                       cfg->body_len);
    sim_buf_printf(&c->out, "\r\n");
    if (cfg->body_len) sim_buf_append(&c->out, cfg->body, cfg->body_len);
    ev_timer_start(loop, &c->timeout);

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
                      errno != EINPROGRESS)) {
        finish(c, 0, strerror(errno));
        return c;
    }
    sim_sock_nodelay(c->fd);
    if (cfg->cacert) {
        c->tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!c->tls_ctx || SSL_CTX_load_verify_locations(c->tls_ctx, cfg->cacert, NULL) != 1 ||
            !(c->tls = SSL_new(c->tls_ctx))) {
            finish(c, 0, "cannot set up TLS");
            return c;
        }
        SSL_set_verify(c->tls, SSL_VERIFY_PEER, NULL);
        SSL_set1_host(c->tls, "127.0.0.1");
        SSL_set_fd(c->tls, c->fd);
    }
    want(c, EV_WRITE);
    return c;
}

void sim_http_call_cancel(sim_http_call *c) {
    if (c) call_free(c);
}
