/* resp.h -- RESP2 request parsing (multibulk and inline, as Redis's
 * networking.c does it) and a reply builder appending to a sim_buf.
 * Pure: bytes in, commands or a protocol error out; no sockets, no clock. */
#ifndef SIM_RESP_H
#define SIM_RESP_H
#ifndef SIM_IN_REDIS
#error "resp.h is private to sim/redis/"
#endif

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Limits, with Redis's defaults. Exceeding max_query closes silently (as
 * Redis does for client-query-buffer-limit); the others give a protocol
 * error reply then close. */
typedef struct sim_resp_limits {
    size_t max_query;      /* pending unparsed bytes; Redis 1 GiB */
    long long max_bulk;    /* one argument; Redis proto-max-bulk-len 512 MiB */
    long long max_elems;   /* arguments per command; Redis INT_MAX (argv grows as they arrive) */
    size_t max_inline;     /* inline line / count line; Redis 64 KiB */
} sim_resp_limits;

void sim_resp_limits_default(sim_resp_limits *lim);

typedef struct sim_resp_parser sim_resp_parser;

/* One parsed command. argv[i] is NUL-terminated (binary-safe by argvlen);
 * borrowed from the parser, valid until the next sim_resp_next/feed/free. */
typedef struct sim_resp_cmd {
    int argc;
    char **argv;
    size_t *argvlen;
} sim_resp_cmd;

enum {
    SIM_RESP_MORE = 0,      /* need more bytes */
    SIM_RESP_CMD = 1,       /* *cmd filled */
    SIM_RESP_ERROR = -1,    /* protocol error: reply sim_resp_error() then close */
    SIM_RESP_OVERFLOW = -2, /* query buffer over max_query: close without reply */
};

/* lim is copied; NULL means the defaults. Free with sim_resp_parser_free. */
sim_resp_parser *sim_resp_parser_new(const sim_resp_limits *lim);
void sim_resp_parser_free(sim_resp_parser *p);

/* Appends bytes (copied). Returns SIM_RESP_OVERFLOW when the pending input
 * exceeds max_query, else 0. */
int sim_resp_feed(sim_resp_parser *p, const char *buf, size_t len);
/* Zero-copy input: space to read into (at least 16 KiB, *avail set), then
 * commit the n bytes written there. Commit returns what feed returns. The
 * space pointer is valid until the next call on the parser. */
char *sim_resp_space(sim_resp_parser *p, size_t *avail);
int sim_resp_commit(sim_resp_parser *p, size_t n);
/* Extracts the next command: one of the SIM_RESP_* codes. After an error the
 * parser stays failed. */
int sim_resp_next(sim_resp_parser *p, sim_resp_cmd *cmd);
/* The error text ("Protocol error: ..."), without "-ERR " and CRLF. */
const char *sim_resp_error(const sim_resp_parser *p);
/* Bytes fed but not yet consumed. */
size_t sim_resp_pending(const sim_resp_parser *p);

/* ---- reply builder: each appends one RESP2 value to out ---- */
void sim_resp_status(sim_buf *out, const char *s);             /* +s */
void sim_resp_error_reply(sim_buf *out, const char *s);        /* -s (s includes the code) */
void sim_resp_errorf(sim_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_resp_int(sim_buf *out, long long v);                  /* :v */
void sim_resp_bulk(sim_buf *out, const char *p, size_t n);     /* $n p */
void sim_resp_bulk_str(sim_buf *out, const char *s);
void sim_resp_bulk_ll(sim_buf *out, long long v);
void sim_resp_bulk_double(sim_buf *out, double v);             /* Redis's %.17g form */
void sim_resp_null(sim_buf *out);                              /* $-1 */
void sim_resp_null_array(sim_buf *out);                        /* *-1 */
void sim_resp_array(sim_buf *out, long long n);                /* *n */
void sim_resp_ok(sim_buf *out);                                /* +OK */

/* Formats v like Redis's ll2string; returns the length (buf >= 21 bytes). */
int sim_resp_ll2str(char *buf, long long v);
/* Formats a double as Redis replies it (integers without a dot, else %.17g);
 * buf >= 64 bytes; returns length. */
int sim_resp_d2str(char *buf, double v);

#endif
