/* fault_cli.c -- `stagesim fault add|ls|rm|reset`: a small front for the
 * control API of a running stagesim, over a blocking HTTP/1.1 request. */
#include "fault_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static const char usage[] =
    "usage: stagesim fault [--control-port N] [--control-host H] COMMAND\n"
    "  add RULE        add a rule: a JSON file, or the JSON itself ('{...}' or '[...]')\n"
    "  ls              list the rules with their counters\n"
    "  rm ID           remove a rule\n"
    "  reset           remove run-time rules, zero the counters of the scenario's\n"
    "The port defaults to STAGESIM_CONTROL_PORT, else 8090; a token comes from\n"
    "STAGESIM_CONTROL_TOKEN. Exit codes: 0 done, 1 cannot reach stagesim, 2 refused.\n";

/* Sends one request and collects the whole response (Connection: close).
 * Returns the status code, or -1 with a message on stderr. */
static int request(const char *host, const char *port, const char *method, const char *path,
                   const char *body, sim_buf *resp_body) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "stagesim fault: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "stagesim fault: cannot reach the control API at %s:%s: %s\n", host, port,
                strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    sim_buf req = {0};
    const char *token = getenv("STAGESIM_CONTROL_TOKEN");
    sim_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n", method, path, host, port);
    if (token && *token) sim_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    if (body)
        sim_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(body), body);
    else
        sim_buf_puts(&req, "Content-Length: 0\r\n\r\n");
    size_t off = 0;
    while (off < req.len) {
        ssize_t n = write(fd, req.data + off, req.len - off);
        if (n <= 0) break;
        off += (size_t)n;
    }
    sim_buf_free(&req);
    sim_buf all = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) sim_buf_append(&all, chunk, (size_t)n);
    close(fd);
    int status = -1;
    char *sep = all.data ? strstr(all.data, "\r\n\r\n") : NULL;
    if (!all.data || sscanf(all.data, "HTTP/1.%*d %d", &status) != 1 || !sep) {
        fprintf(stderr, "stagesim fault: malformed answer from the control API\n");
        sim_buf_free(&all);
        return -1;
    }
    sim_buf_puts(resp_body, sep + 4);
    sim_buf_free(&all);
    return status;
}

#define MAX_RULE_FILE (1u << 20)   /* the control API's own body limit */

static char *read_rule(const char *arg) {
    if (arg[0] == '{' || arg[0] == '[') return sim_xstrdup(arg);
    FILE *f = fopen(arg, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "stagesim fault: %s: %s\n", arg,
                !f ? strerror(errno) : "not a regular file");
        if (f) fclose(f);
        return NULL;
    }
    sim_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > MAX_RULE_FILE) {
            fprintf(stderr, "stagesim fault: %s: larger than %u bytes\n", arg, MAX_RULE_FILE);
            fclose(f);
            sim_buf_free(&b);
            return NULL;
        }
        sim_buf_append(&b, chunk, n);
    }
    fclose(f);
    if (!b.data) sim_buf_puts(&b, "");
    return b.data;
}

/* Rule ids as the engine accepts them: nothing to escape in a URL. */
static int valid_id(const char *id) {
    size_t n = strlen(id);
    return n >= 1 && n <= 64 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

int sim_fault_cli(int argc, char **argv) {
    const char *host = "127.0.0.1";
    const char *port = getenv("STAGESIM_CONTROL_PORT");
    if (!port || !*port) port = "8090";
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) break;
        if (strcmp(argv[i], "--control-port") == 0) port = argv[i + 1];
        else if (strcmp(argv[i], "--control-host") == 0) host = argv[i + 1];
        else break;
    }
    if (i >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    int nargs = argc - i - 1;
    char path[512];
    const char *method;
    char *body = NULL;
    if (strcmp(cmd, "add") == 0 && nargs == 1) {
        body = read_rule(argv[i + 1]);
        if (!body) return 2;
        method = "POST";
        snprintf(path, sizeof(path), "/faults");
    } else if (strcmp(cmd, "ls") == 0 && nargs == 0) {
        method = "GET";
        snprintf(path, sizeof(path), "/faults");
    } else if (strcmp(cmd, "rm") == 0 && nargs == 1) {
        if (!valid_id(argv[i + 1])) {
            fprintf(stderr, "stagesim fault: '%s' is not a rule id (1-64 of A-Z a-z 0-9 - _ .)\n",
                    argv[i + 1]);
            return 2;
        }
        method = "DELETE";
        snprintf(path, sizeof(path), "/faults/%s", argv[i + 1]);
    } else if (strcmp(cmd, "reset") == 0 && nargs == 0) {
        method = "POST";
        snprintf(path, sizeof(path), "/reset");
    } else {
        fputs(usage, stderr);
        return 2;
    }
    sim_buf out = {0};
    int status = request(host, port, method, path, body, &out);
    free(body);
    if (status < 0) {
        sim_buf_free(&out);
        return 1;
    }
    FILE *dst = status >= 200 && status < 300 ? stdout : stderr;
    fprintf(dst, "%s\n", out.data ? out.data : "");
    sim_buf_free(&out);
    return status >= 200 && status < 300 ? 0 : 2;
}
