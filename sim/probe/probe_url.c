/* probe_url.c -- URL and HOST:PORT parsing for the probes. */
#include "probe_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int tls, port;
} schemes[] = {
    {"http", 0, 80}, {"ws", 0, 80}, {"https", 1, 443}, {"wss", 1, 443},
};

static int parse_port(const char *s, size_t n, int *port) {
    if (!n || n > 5) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) return -1;
    *port = v;
    return 0;
}

/* host[:port] or [v6][:port] in s[0..n); *port is left alone without one. */
static int parse_authority(const char *s, size_t n, char *host, size_t hostlen, int *port,
                           char *err, size_t errlen) {
    const char *host_start = s, *host_end, *colon = NULL;
    if (n && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            snprintf(err, errlen, "unclosed '[' in '%.*s'", (int)n, s);
            return -1;
        }
        host_start = s + 1;
        host_end = close;
        if (close + 1 < s + n) {
            if (close[1] != ':') {
                snprintf(err, errlen, "unexpected '%c' after ']'", close[1]);
                return -1;
            }
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', n);
        host_end = colon ? colon : s + n;
    }
    size_t hlen = (size_t)(host_end - host_start);
    if (!hlen || hlen >= hostlen) {
        snprintf(err, errlen, hlen ? "host name too long" : "no host in '%.*s'", (int)n, s);
        return -1;
    }
    memcpy(host, host_start, hlen);
    host[hlen] = '\0';
    if (colon) {
        size_t plen = (size_t)(s + n - colon - 1);
        if (parse_port(colon + 1, plen, port) < 0) {
            snprintf(err, errlen, "bad port '%.*s'", (int)plen, colon + 1);
            return -1;
        }
    }
    return 0;
}

int sim_probe_url_parse(const char *text, sim_probe_url *u, char *err, size_t errlen) {
    memset(u, 0, sizeof(*u));
    const char *sep = strstr(text, "://");
    if (!sep) {
        snprintf(err, errlen, "'%s' is not a URL (scheme://host[:port][/path])", text);
        return -1;
    }
    size_t slen = (size_t)(sep - text), i;
    for (i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
        if (strlen(schemes[i].name) == slen && strncasecmp(text, schemes[i].name, slen) == 0) break;
    if (i == sizeof(schemes) / sizeof(*schemes)) {
        snprintf(err, errlen, "unsupported scheme '%.*s' (http, https, ws or wss)", (int)slen, text);
        return -1;
    }
    u->tls = schemes[i].tls;
    u->port = schemes[i].port;
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?");
    if (parse_authority(auth, alen, u->host, sizeof(u->host), &u->port, err, errlen) < 0) return -1;
    const char *path = auth + alen;
    if (strlen(path) + 1 >= sizeof(u->path)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    if (*path == '?') snprintf(u->path, sizeof(u->path), "/%s", path);
    else snprintf(u->path, sizeof(u->path), "%s", strcmp(path, "/") == 0 ? "" : path);
    return 0;
}

void sim_probe_url_join(const sim_probe_url *u, const char *rel, char *out, size_t outlen) {
    size_t n = strlen(u->path);
    while (n && u->path[n - 1] == '/') n--;
    snprintf(out, outlen, "%.*s%s", (int)n, u->path, rel);
}

int sim_probe_hostport_parse(const char *text, char *host, size_t hostlen, int *port, char *err,
                             size_t errlen) {
    *port = 0;
    if (parse_authority(text, strlen(text), host, hostlen, port, err, errlen) < 0) return -1;
    if (!*port) {
        snprintf(err, errlen, "'%s' has no port (HOST:PORT)", text);
        return -1;
    }
    return 0;
}

/* The usage error of a required option: absent, or refused by its parser
 * (parsed < 0) for the reason why. */
static int option_result(const char *flag, const char *text, int parsed, const char *why,
                         char *err, size_t errlen) {
    if (!text) snprintf(err, errlen, "%s is required", flag);
    else if (parsed < 0) snprintf(err, errlen, "%s: %s", flag, why);
    else return 0;
    return -1;
}

int sim_probe_url_option(const char *flag, const char *text, sim_probe_url *u, char *err,
                         size_t errlen) {
    char why[200] = "";
    int parsed = text ? sim_probe_url_parse(text, u, why, sizeof(why)) : 0;
    return option_result(flag, text, parsed, why, err, errlen);
}

int sim_probe_hostport_option(const char *flag, const char *text, char *host, size_t hostlen,
                              int *port, char *err, size_t errlen) {
    char why[200] = "";
    int parsed = text ? sim_probe_hostport_parse(text, host, hostlen, port, why, sizeof(why)) : 0;
    return option_result(flag, text, parsed, why, err, errlen);
}
