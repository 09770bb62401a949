/* main.c -- the stagesim command line: `up` runs the simulator on one libev
 * loop until SIGINT/SIGTERM; `validate` checks a scenario file. */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "catalog.h"
#include "drill.h"
#include "fault_cli.h"
#include "listener.h"
#include "probe.h"
#include "scenario.h"
#include "sim.h"
#include "util.h"

static const char usage[] =
    "usage: stagesim up [options]\n"
    "       stagesim validate FILE|NAME\n"
    "       stagesim scenarios [NAME]       list the scenarios that come with stagesim\n"
    "       stagesim fault add RULE | ls | rm ID | reset   (see stagesim fault --help)\n"
    "       stagesim probe health|golden-path|auth|redis ...  (see stagesim probe --help)\n"
    "       stagesim drill FILE... [--json] [--junit FILE] ...  (see stagesim drill --help)\n"
    "       stagesim --help | --version\n"
    "\n"
    "up: impersonate the staging backend (HTTP + WebSocket), auth service and Redis\n"
    "on one event loop. Prints one line `READY {\"backend\":P,\"auth\":P,\"redis\":P}`\n"
    "on stdout once every listener accepts (with \"control\":P); logs go to stderr.\n"
    "\n"
    "  --backend-port N   backend HTTP + WebSocket port (default 8000; 0 picks a free one)\n"
    "  --auth-port N      auth service port (default 8081)\n"
    "  --redis-port N     Redis port (default 6380)\n"
    "  --control-port N   control API port (default 8090; loopback only unless a token is set)\n"
    "  --control-token T  require `Authorization: Bearer T` on the control API and let it\n"
    "                     listen on --bind (also from STAGESIM_CONTROL_TOKEN)\n"
    "  --bind ADDR        address to listen on (default 127.0.0.1)\n"
    "  --scenario FILE    scenario JSON, or the NAME of one that comes with stagesim\n"
    "                     (stagesim scenarios; default: the built-in golden path)\n"
    "  --seed N           overrides the scenario's seed\n"
    "  --journal FILE     write the journal (JSON lines) to FILE\n"
    "  --tls              serve https/wss (backend) and https (auth) instead of plain text\n"
    "                     (also the scenario's network.tls); Redis stays plain\n"
    "  --tls-cert FILE    PEM certificate to serve (with --tls-key; implies --tls); without\n"
    "                     it a key and a self-signed certificate for localhost, 127.0.0.1\n"
    "                     and ::1 are made at start, and READY names it as \"cert\"\n"
    "  --tls-key FILE     PEM private key of --tls-cert\n"
    "  --tls-dir DIR      where the made certificate and key go (default: a fresh private\n"
    "                     directory, removed at exit)\n"
    "  --time-scale K     run every duration stagesim owns (delays, heartbeats, start-up,\n"
    "                     fault windows, token lifetimes as it checks them) K times faster;\n"
    "                     clients' own timeouts are theirs (default 1)\n"
    "  --max-clients N    every service's connection cap (Redis's maxclients), 1-10000;\n"
    "                     default: the descriptor limit shared out (docs/errors.md)\n"
    "  --verbose          log debug messages\n"
    "\n"
    "validate: load FILE as `up` would; exit 0 if it is valid, 2 with the reason if not.\n"
    "\n"
    "Exit codes: 0 ok, 1 start-up failure (a port in use), 2 usage or scenario error.\n";

static int parse_port(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 0 || v > 65535) return -1;
    *out = (int)v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s) return -1;
    *out = v;
    return 0;
}

/* An integer in [lo, hi]. */
static int parse_count(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* A time scale: a number in [0.001, 1000000]. */
static int parse_scale(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= 0.001 && v <= 1e6)) return -1;
    *out = v;
    return 0;
}

typedef struct run_state {
    struct ev_loop *loop;
    sim *s;
    ev_signal sigint, sigterm;
} run_state;

static void stopped(void *ctx) {
    run_state *st = ctx;
    ev_signal_stop(st->loop, &st->sigint);
    ev_signal_stop(st->loop, &st->sigterm);
    /* Stopping the watchers gave the signals back their default action: a
     * second SIGTERM now (a supervisor's stop after its own) would kill the
     * process before the journal is flushed and exit 0 reached. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    ev_break(st->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)loop, (void)revents;
    run_state *st = w->data;
    sim_stop(st->s, stopped, st);
}

static int cmd_up(int argc, char **argv) {
    enum { O_BACKEND = 1, O_AUTH, O_REDIS, O_CONTROL, O_TOKEN, O_BIND, O_SCENARIO, O_SEED, O_JOURNAL,
           O_TLS, O_TLS_CERT, O_TLS_KEY, O_TLS_DIR, O_TIME_SCALE, O_MAX_CLIENTS, O_VERBOSE,
           O_HELP };
    static const struct option longopts[] = {
        {"backend-port", required_argument, NULL, O_BACKEND},
        {"auth-port", required_argument, NULL, O_AUTH},
        {"redis-port", required_argument, NULL, O_REDIS},
        {"control-port", required_argument, NULL, O_CONTROL},
        {"control-token", required_argument, NULL, O_TOKEN},
        {"bind", required_argument, NULL, O_BIND},
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"seed", required_argument, NULL, O_SEED},
        {"journal", required_argument, NULL, O_JOURNAL},
        {"tls", no_argument, NULL, O_TLS},
        {"tls-cert", required_argument, NULL, O_TLS_CERT},
        {"tls-key", required_argument, NULL, O_TLS_KEY},
        {"tls-dir", required_argument, NULL, O_TLS_DIR},
        {"time-scale", required_argument, NULL, O_TIME_SCALE},
        {"max-clients", required_argument, NULL, O_MAX_CLIENTS},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    sim_options opt;
    sim_options_default(&opt);
    char scenario[2048], err[512];
    const char *env_token = getenv("STAGESIM_CONTROL_TOKEN");
    if (env_token && *env_token) opt.control_token = env_token;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case O_BACKEND: bad = parse_port(optarg, &opt.backend_port); break;
        case O_AUTH: bad = parse_port(optarg, &opt.auth_port); break;
        case O_REDIS: bad = parse_port(optarg, &opt.redis_port); break;
        case O_CONTROL: bad = parse_port(optarg, &opt.control_port); break;
        case O_TOKEN: opt.control_token = optarg; bad = !*optarg; break;
        case O_BIND: opt.bind = optarg; break;
        case O_SCENARIO:
            if (sim_catalog_resolve(optarg, scenario, sizeof(scenario), err, sizeof(err))) {
                fprintf(stderr, "stagesim: %s\n", err);
                return 2;
            }
            opt.scenario_path = scenario;
            break;
        case O_SEED: bad = parse_u64(optarg, &opt.seed); opt.seed_set = 1; break;
        case O_JOURNAL: opt.journal_path = optarg; break;
        case O_TLS: opt.tls = 1; break;
        case O_TLS_CERT: opt.tls_cert = optarg; opt.tls = 1; bad = !*optarg; break;
        case O_TLS_KEY: opt.tls_key = optarg; opt.tls = 1; bad = !*optarg; break;
        case O_TLS_DIR: opt.tls_dir = optarg; bad = !*optarg; break;
        case O_TIME_SCALE: bad = parse_scale(optarg, &opt.time_scale); break;
        case O_MAX_CLIENTS: bad = parse_count(optarg, 1, 10000, &opt.max_clients); break;
        case O_VERBOSE: sim_log_set_level(SIM_LOG_DEBUG); break;
        case O_HELP: fputs(usage, stdout); return 0;
        default:
            fprintf(stderr, "stagesim up: unknown or incomplete option '%s'\n%s", argv[optind - 1], usage);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "stagesim up: invalid value '%s' for %s\n", optarg, argv[optind - 2]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stagesim up: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!opt.tls_cert != !opt.tls_key) {
        fprintf(stderr, "stagesim up: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (opt.tls_cert && opt.tls_dir) {
        fprintf(stderr, "stagesim up: --tls-dir is for a made certificate, not with --tls-cert\n");
        return 2;
    }

    /* As redis-server: every descriptor the machine lets us have, and past
     * the hard limit when we may, up to what every cap at its maximum needs
     * (with TLS: the scenario may ask for it); sim_start shares them out as
     * connection caps and logs the figures (caps.h). */
    sim_listener_raise_fd_limit(sim_caps_fds_wanted(1), &opt.fds_before);
    struct ev_loop *loop = EV_DEFAULT;
    int code;
    run_state st = {.loop = loop};
    st.s = sim_start(loop, &opt, err, sizeof(err), &code);
    if (!st.s) {
        fprintf(stderr, "stagesim: %s\n", err);
        ev_loop_destroy(loop);
        return code;
    }
    ev_signal_init(&st.sigint, on_signal, SIGINT);
    ev_signal_init(&st.sigterm, on_signal, SIGTERM);
    st.sigint.data = st.sigterm.data = &st;
    ev_signal_start(loop, &st.sigint);
    ev_signal_start(loop, &st.sigterm);

    char ready[8192];   /* the ports, and the certificate's path */
    sim_ready_json(st.s, ready, sizeof(ready));
    printf("READY %s\n", ready);
    fflush(stdout);

    ev_run(loop, 0);
    sim_free(st.s);
    ev_loop_destroy(loop);
    sim_info("bye");
    return 0;
}

static int cmd_validate(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: stagesim validate FILE\n");
        return 2;
    }
    char path[2048], err[512];
    if (sim_catalog_resolve(argv[1], path, sizeof(path), err, sizeof(err))) {
        fprintf(stderr, "stagesim: %s\n", err);
        return 2;
    }
    sim_scenario *sc = sim_scenario_load(path, err, sizeof(err));
    if (!sc) {
        fprintf(stderr, "stagesim: %s\n", err);
        return 2;
    }
    printf("%s: ok (scenario \"%s\", %zu users)\n", argv[1], sc->name, sc->nusers);
    sim_scenario_free(sc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("stagesim %s\n", STAGESIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "up") == 0) return cmd_up(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0) return cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "fault") == 0) return sim_fault_cli(argc - 1, argv + 1);
    if (strcmp(cmd, "scenarios") == 0) return sim_catalog_main(argc - 1, argv + 1);
    if (strcmp(cmd, "probe") == 0) return sim_probe_main(argc - 1, argv + 1);
    if (strcmp(cmd, "drill") == 0) return sim_drill_main(argc - 1, argv + 1);
    fprintf(stderr, "stagesim: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
