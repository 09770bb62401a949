/* probe_cli.c -- `stagesim probe KIND [options]`: the command line of the
 * probes. Options are one table (which probes each applies to, how its
 * value is read); results go to stdout as they come, one line per attempt
 * and a summary, in words or as JSON lines (--json; docs/probes.md). */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "util.h"

static const char usage[] =
    "usage: stagesim probe health      --url URL [--status 200] [--field key=value ...]\n"
    "                                  [--max-latency-ms N]\n"
    "       stagesim probe golden-path --backend URL --auth URL\n"
    "                                  [--email E --password P | --e2e-key K]\n"
    "                                  [--token-source query|header|subprotocol] [--ws-path /ws]\n"
    "       stagesim probe auth        --auth URL [--email E --password P] [--e2e-key K]\n"
    "       stagesim probe redis       --redis HOST:PORT [--password P]\n"
    "common: [--count N] [--interval MS] [--concurrency C] [--timeout-ms T] [--cacert FILE]\n"
    "        [--breaker SPEC] [--json] [--verbose]\n"
    "\n"
    "Probe a deployment (stagesim or a real one) and check every answer:\n"
    "  health       GET URL: the status, body fields (dotted paths into the JSON body,\n"
    "               compared as text) and the latency bound\n"
    "  golden-path  log in (password, or the E2E bypass with --e2e-key), open the WebSocket\n"
    "               with the token in the query, the Authorization header or a jwt.<token>\n"
    "               subprotocol, send a user_message after the welcome and check the five\n"
    "               events: order, fields, one run id, tool counts, the answer, the user\n"
    "  auth         login and/or E2E test-auth, refresh, validate, me\n"
    "  redis        PING, SET and GET of a key of the attempt's own (AUTH first with\n"
    "               --password)\n"
    "URLs are http, https, ws or wss; TLS certificates are checked against --cacert (for\n"
    "stagesim --tls: the \"cert\" of its READY line) or the system store. Credentials default\n"
    "to alice@example.com / alice-password, a user of stagesim's scenarios.\n"
    "\n"
    "  --count N          attempts in all (default 1)\n"
    "  --concurrency C    attempts in flight at once (default 1): a load test, every run checked\n"
    "  --interval MS      between two starts of one concurrency slot (default 0)\n"
    "  --timeout-ms T     per attempt (default 10000)\n"
    "  --breaker SPEC     run the attempts behind a circuit breaker of this spec, e.g.\n"
    "                     consecutiveFailures=3,waitDurationInOpenState=5s (docs/breaker.md):\n"
    "                     an attempt it refuses is not sent and counts as failed; its\n"
    "                     transitions are printed as they happen, on the --interval clock\n"
    "  --json             one JSON object per attempt and per transition, then a summary object\n"
    "\n"
    "Exit codes: 0 every attempt passed, 1 an attempt failed or was refused by the breaker,\n"
    "2 usage error.\n";

enum { K_HEALTH = 1, K_GOLDEN = 2, K_AUTH = 4, K_REDIS = 8, K_ALL = 15 };

static const struct {
    const char *name;
    int mask;
} kind_masks[] = {
    {"health", K_HEALTH}, {"golden-path", K_GOLDEN}, {"auth", K_AUTH}, {"redis", K_REDIS},
};

enum {
    O_COUNT = 1, O_INTERVAL, O_CONCURRENCY, O_TIMEOUT, O_CACERT, O_JSON, O_VERBOSE, O_HELP,
    O_URL, O_STATUS, O_FIELD, O_MAX_LATENCY, O_BACKEND, O_AUTH, O_EMAIL, O_PASSWORD, O_E2E_KEY,
    O_TOKEN_SOURCE, O_WS_PATH, O_REDIS, O_BREAKER,
};

static const struct {
    struct option opt;
    int kinds;   /* the probes it applies to */
} options[] = {
    {{"count", required_argument, NULL, O_COUNT}, K_ALL},
    {{"interval", required_argument, NULL, O_INTERVAL}, K_ALL},
    {{"concurrency", required_argument, NULL, O_CONCURRENCY}, K_ALL},
    {{"timeout-ms", required_argument, NULL, O_TIMEOUT}, K_ALL},
    {{"cacert", required_argument, NULL, O_CACERT}, K_HEALTH | K_GOLDEN | K_AUTH},
    {{"breaker", required_argument, NULL, O_BREAKER}, K_ALL},
    {{"json", no_argument, NULL, O_JSON}, K_ALL},
    {{"verbose", no_argument, NULL, O_VERBOSE}, K_ALL},
    {{"help", no_argument, NULL, O_HELP}, K_ALL},
    {{"url", required_argument, NULL, O_URL}, K_HEALTH},
    {{"status", required_argument, NULL, O_STATUS}, K_HEALTH},
    {{"field", required_argument, NULL, O_FIELD}, K_HEALTH},
    {{"max-latency-ms", required_argument, NULL, O_MAX_LATENCY}, K_HEALTH},
    {{"backend", required_argument, NULL, O_BACKEND}, K_GOLDEN},
    {{"auth", required_argument, NULL, O_AUTH}, K_GOLDEN | K_AUTH},
    {{"email", required_argument, NULL, O_EMAIL}, K_GOLDEN | K_AUTH},
    {{"password", required_argument, NULL, O_PASSWORD}, K_GOLDEN | K_AUTH | K_REDIS},
    {{"e2e-key", required_argument, NULL, O_E2E_KEY}, K_GOLDEN | K_AUTH},
    {{"token-source", required_argument, NULL, O_TOKEN_SOURCE}, K_GOLDEN},
    {{"ws-path", required_argument, NULL, O_WS_PATH}, K_GOLDEN},
    {{"redis", required_argument, NULL, O_REDIS}, K_REDIS},
};
#define NOPTIONS (sizeof(options) / sizeof(*options))

typedef struct cli {
    sim_probe_options opt;
    sim_health_field *fields;
    char **field_args;      /* the copies fields point into */
    size_t nfields;
    int json;
    int any_failed;
    struct ev_loop *loop;
} cli;

/* A whole number in [min, max]; -1 when s is not one. */
static int parse_number(const char *s, long long min, long long max, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int add_field(cli *c, const char *arg) {
    char *copy = sim_xstrdup(arg);
    sim_health_field f;
    if (sim_health_field_parse(copy, &f) < 0) {
        free(copy);
        return -1;
    }
    c->fields = sim_xrealloc(c->fields, (c->nfields + 1) * sizeof(*c->fields));
    c->field_args = sim_xrealloc(c->field_args, (c->nfields + 1) * sizeof(*c->field_args));
    c->fields[c->nfields] = f;
    c->field_args[c->nfields++] = copy;
    return 0;
}

/* Applies one option with its argument; -1 with the reason in err. */
static int apply(cli *c, int id, int kind, const char *arg, char *err, size_t errlen) {
    sim_probe_options *o = &c->opt;
    long long v = 0;
    static const struct {
        int id;
        long long min, max;
        const char *what;
    } numbers[] = {
        {O_COUNT, 1, 10000000, "a whole number >= 1"},
        {O_INTERVAL, 0, 86400000, "milliseconds >= 0"},
        {O_CONCURRENCY, 1, 100000, "a whole number >= 1"},
        {O_TIMEOUT, 1, 86400000, "milliseconds >= 1"},
        {O_STATUS, 100, 599, "an HTTP status, 100-599"},
        {O_MAX_LATENCY, 0, 86400000, "milliseconds >= 0"},
    };
    for (size_t i = 0; i < sizeof(numbers) / sizeof(*numbers); i++) {
        if (numbers[i].id != id) continue;
        if (parse_number(arg, numbers[i].min, numbers[i].max, &v) < 0) {
            snprintf(err, errlen, "invalid value '%s' (%s)", arg, numbers[i].what);
            return -1;
        }
    }
    switch (id) {
    case O_COUNT: o->count = (int)v; break;
    case O_INTERVAL: o->interval_ms = v; break;
    case O_CONCURRENCY: o->concurrency = (int)v; break;
    case O_TIMEOUT: o->timeout_ms = v; break;
    case O_STATUS: o->status = (int)v; break;
    case O_MAX_LATENCY: o->max_latency_ms = v; break;
    case O_CACERT: o->cacert = arg; break;
    case O_BREAKER: o->breaker = arg; break;
    case O_JSON: c->json = 1; break;
    case O_VERBOSE: sim_log_set_level(SIM_LOG_DEBUG); break;
    case O_URL: o->url = arg; break;
    case O_BACKEND: o->backend = arg; break;
    case O_AUTH: o->auth = arg; break;
    case O_EMAIL: o->email = arg; break;
    case O_E2E_KEY: o->e2e_key = arg; break;
    case O_TOKEN_SOURCE: o->token_source = arg; break;
    case O_WS_PATH: o->ws_path = arg; break;
    case O_REDIS: o->redis = arg; break;
    case O_PASSWORD:
        if (kind == K_REDIS) o->redis_password = arg;
        else o->password = arg;
        break;
    case O_FIELD:
        if (add_field(c, arg) < 0) {
            snprintf(err, errlen, "invalid value '%s' (key=value)", arg);
            return -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

static int kind_mask(const char *name) {
    for (size_t i = 0; i < sizeof(kind_masks) / sizeof(*kind_masks); i++)
        if (strcmp(name, kind_masks[i].name) == 0) return kind_masks[i].mask;
    return 0;
}

/* Reads argv into c. Returns 0, 1 for --help, or -1 after printing the
 * usage error. */
static int parse_args(cli *c, int argc, char **argv) {
    const char *probe = argv[1];
    int kind = kind_mask(probe);
    if (!kind) {
        fprintf(stderr, "stagesim probe: unknown probe '%s' (health, golden-path, auth or redis)\n",
                probe);
        return -1;
    }
    c->opt.probe = probe;
    struct option longopts[NOPTIONS + 1];
    for (size_t i = 0; i < NOPTIONS; i++) longopts[i] = options[i].opt;
    memset(&longopts[NOPTIONS], 0, sizeof(longopts[NOPTIONS]));
    optind = 2;
    opterr = 0;
    int id, index;
    while ((id = getopt_long(argc, argv, "", longopts, &index)) != -1) {
        if (id == '?' || id == ':') {
            fprintf(stderr, "stagesim probe %s: unknown or incomplete option '%s'\n", probe,
                    argv[optind - 1]);
            return -1;
        }
        if (id == O_HELP) return 1;
        if (!(options[index].kinds & kind)) {
            fprintf(stderr, "stagesim probe %s: --%s does not apply to %s\n", probe,
                    options[index].opt.name, probe);
            return -1;
        }
        char err[200];
        if (apply(c, id, kind, optarg, err, sizeof(err)) < 0) {
            fprintf(stderr, "stagesim probe %s: --%s: %s\n", probe, options[index].opt.name, err);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stagesim probe %s: unexpected argument '%s'\n", probe, argv[optind]);
        return -1;
    }
    c->opt.fields = c->fields;
    c->opt.nfields = c->nfields;
    return 0;
}

static void print_buf(sim_buf *b) {
    sim_buf_puts(b, "\n");
    fwrite(b->data, 1, b->len, stdout);
    fflush(stdout);
    sim_buf_free(b);
}

static void on_result(void *ctx, const sim_probe_result *r) {
    cli *c = ctx;
    sim_buf b = {0};
    if (c->json) sim_probe_result_json(r, c->opt.probe, &b);
    else sim_probe_result_line(r, &b);
    print_buf(&b);
}

static void on_breaker(void *ctx, const sim_probe_transition *t) {
    cli *c = ctx;
    sim_buf b = {0};
    if (c->json) sim_probe_transition_json(t, c->opt.probe, &b);
    else sim_probe_transition_line(t, &b);
    print_buf(&b);
}

static void on_done(void *ctx, const sim_probe_summary *s) {
    cli *c = ctx;
    sim_buf b = {0};
    if (c->json) sim_probe_summary_json(s, c->opt.probe, &b);
    else sim_probe_summary_line(s, c->opt.probe, &b);
    print_buf(&b);
    c->any_failed = s->failed > 0;
    ev_break(c->loop, EVBREAK_ALL);
}

static void cli_free(cli *c) {
    for (size_t i = 0; i < c->nfields; i++) free(c->field_args[i]);
    free(c->field_args);
    free(c->fields);
}

int sim_probe_main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    cli c;
    memset(&c, 0, sizeof(c));
    sim_probe_options_default(&c.opt);
    int parsed = parse_args(&c, argc, argv);
    if (parsed != 0) {
        if (parsed > 0) fputs(usage, stdout);
        cli_free(&c);
        return parsed > 0 ? 0 : 2;
    }
    c.opt.on_breaker = on_breaker;
    c.loop = EV_DEFAULT;
    char err[300];
    int code;
    sim_probe_run *run =
        sim_probe_start(c.loop, &c.opt, on_result, on_done, &c, err, sizeof(err), &code);
    if (!run) {
        fprintf(stderr, "stagesim probe %s: %s\n", c.opt.probe, err);
        cli_free(&c);
        ev_loop_destroy(c.loop);
        return code;
    }
    ev_run(c.loop, 0);
    sim_probe_free(run);
    ev_loop_destroy(c.loop);
    cli_free(&c);
    return c.any_failed ? 1 : 0;
}
