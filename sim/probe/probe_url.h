/* probe_url.h -- the addresses a probe is given, parsed and checked before
 * anything connects: http/https/ws/wss URLs and Redis's HOST:PORT. Pure. */
#ifndef SIM_PROBE_URL_H
#define SIM_PROBE_URL_H

#include <stddef.h>

typedef struct sim_probe_url {
    int tls;              /* https or wss */
    char host[256];       /* without the brackets of an IPv6 literal */
    int port;             /* the scheme's default when the URL has none */
    char path[1024];      /* "" or "/...", with the query; never a trailing '/' alone */
} sim_probe_url;

/* Parses "scheme://host[:port][/path]". Returns 0, or -1 with the reason in
 * err ("unsupported scheme 'ftp'", "bad port '99999'", ...). */
int sim_probe_url_parse(const char *text, sim_probe_url *u, char *err, size_t errlen);

/* The path prefix of u joined with rel ("/auth/login"): "/api" + "/ws". */
void sim_probe_url_join(const sim_probe_url *u, const char *rel, char *out, size_t outlen);

/* Parses "HOST:PORT" or "[V6]:PORT". Returns 0, or -1 with the reason. */
int sim_probe_hostport_parse(const char *text, char *host, size_t hostlen, int *port, char *err,
                             size_t errlen);

/* The two above for a required command-line option: 0, or -1 with
 * "FLAG is required" or "FLAG: reason" in err. */
int sim_probe_url_option(const char *flag, const char *text, sim_probe_url *u, char *err,
                         size_t errlen);
int sim_probe_hostport_option(const char *flag, const char *text, char *host, size_t hostlen,
                              int *port, char *err, size_t errlen);

#endif
