/* drill_main.c -- the drill command line: every file is loaded (and so
 * validated) before any runs; then each runs, its checks are judged, the
 * digest compared, and the report printed. */
#include "drill.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_html.h"
#include "drill_report.h"
#include "drill_run.h"
#include "scenario.h"
#include "util.h"

static const char usage[] =
    "usage: stagesim drill FILE... [--json] [--junit FILE] [--html FILE] [--time-scale K]\n"
    "                              [--seed N] [--expect-digest HEX|FILE] [--digest-out FILE]\n"
    "                              [--verbose]\n"
    "\n"
    "Runs each scenario's expect section against stagesim in-process: its steps (probes)\n"
    "on schedule, then every check against the attempts and the journal (docs/drills.md).\n"
    "\n"
    "  --json                 one JSON object per drill instead of the lines\n"
    "  --junit FILE           also write a JUnit XML file: a testsuite per drill, a testcase\n"
    "                         per check\n"
    "  --html FILE            also write one self-contained HTML page: each drill's checks,\n"
    "                         breakers, fault rules and the timeline of its journal\n"
    "  --time-scale K         overrides the drill's time_scale (durations stagesim owns run\n"
    "                         K times faster; not those of external clients)\n"
    "  --seed N               overrides the scenario's seed\n"
    "  --expect-digest D      the journal digest must be D (hex), or follow the chain in\n"
    "                         FILE (from --digest-out): the first differing line is named\n"
    "  --digest-out FILE      write the chain of per-line digests, one hex per line\n"
    "  --verbose              the simulator's and the probes' log lines on stderr\n"
    "\n"
    "--expect-digest and --digest-out take one FILE. Exit codes: 0 every expectation held,\n"
    "1 one did not (or could not be evaluated), 2 an invalid drill or a usage error.\n";

typedef struct drill_cli {
    int json;
    const char *junit, *html, *expect_digest, *digest_out;
    int scale_set, seed_set;
    double time_scale;
    uint64_t seed;
    char (*chain)[SIM_DRILL_HEX];   /* --expect-digest FILE */
    size_t nchain;
} drill_cli;

static int is_hex_digest(const char *s) {
    return strlen(s) == SIM_DRILL_HEX - 1 && strspn(s, "0123456789abcdef") == SIM_DRILL_HEX - 1;
}

/* --expect-digest FILE: one hex digest per line. */
static int read_chain(drill_cli *c) {
    FILE *f = fopen(c->expect_digest, "r");
    if (!f) {
        fprintf(stderr, "stagesim drill: --expect-digest: cannot open %s: %s\n", c->expect_digest,
                strerror(errno));
        return -1;
    }
    char line[256];
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!is_hex_digest(line)) {
            fprintf(stderr, "stagesim drill: --expect-digest: %s line %zu is not a SHA-256 in hex\n",
                    c->expect_digest, c->nchain + 1);
            rc = -1;
            break;
        }
        c->chain = sim_xrealloc(c->chain, (c->nchain + 1) * sizeof(*c->chain));
        memcpy(c->chain[c->nchain++], line, SIM_DRILL_HEX);
    }
    fclose(f);
    return rc;
}

static int parse_args(drill_cli *c, int argc, char **argv) {
    enum { O_JSON = 1, O_JUNIT, O_HTML, O_SCALE, O_SEED, O_EXPECT, O_OUT, O_VERBOSE, O_HELP };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, O_JSON},
        {"junit", required_argument, NULL, O_JUNIT},
        {"html", required_argument, NULL, O_HTML},
        {"time-scale", required_argument, NULL, O_SCALE},
        {"seed", required_argument, NULL, O_SEED},
        {"expect-digest", required_argument, NULL, O_EXPECT},
        {"digest-out", required_argument, NULL, O_OUT},
        {"verbose", no_argument, NULL, O_VERBOSE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    opterr = 0;
    sim_log_set_level(SIM_LOG_WARN);
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (opt) {
        case O_JSON: c->json = 1; break;
        case O_JUNIT: c->junit = optarg; break;
        case O_HTML: c->html = optarg; break;
        case O_SCALE:
            c->time_scale = strtod(optarg, &end);
            c->scale_set = 1;
            if (errno || *end || end == optarg || !(c->time_scale >= 0.001 && c->time_scale <= 1e6)) {
                fprintf(stderr, "stagesim drill: --time-scale: invalid value '%s' (a number "
                                "from 0.001 to 1000000)\n", optarg);
                return -1;
            }
            break;
        case O_SEED:
            c->seed = strtoull(optarg, &end, 10);
            c->seed_set = 1;
            if (errno || *end || end == optarg || optarg[0] == '-') {
                fprintf(stderr, "stagesim drill: --seed: invalid value '%s' (a whole number "
                                ">= 0)\n", optarg);
                return -1;
            }
            break;
        case O_EXPECT: c->expect_digest = optarg; break;
        case O_OUT: c->digest_out = optarg; break;
        case O_VERBOSE: sim_log_set_level(SIM_LOG_DEBUG); break;
        case O_HELP: fputs(usage, stdout); return 1;
        default:
            fprintf(stderr, "stagesim drill: unknown or incomplete option '%s'\n%s",
                    argv[optind - 1], usage);
            return -1;
        }
    }
    int nfiles = argc - optind;
    if (nfiles < 1) {
        fprintf(stderr, "stagesim drill: no drill FILE given\n%s", usage);
        return -1;
    }
    if ((c->expect_digest || c->digest_out) && nfiles != 1) {
        fprintf(stderr, "stagesim drill: --expect-digest and --digest-out take one FILE, not %d\n",
                nfiles);
        return -1;
    }
    if (c->expect_digest && !is_hex_digest(c->expect_digest) && read_chain(c)) return -1;
    return 0;
}

/* The digest comparison as one more verdict (docs/drills.md §7). */
static void digest_verdict(const drill_cli *c, const sim_drill_digest *d, sim_drill_verdicts *v) {
    sim_buf exp = {0}, act = {0};
    int held;
    if (!c->chain && is_hex_digest(c->expect_digest)) {
        sim_buf_printf(&exp, "digest %s", c->expect_digest);
        sim_buf_printf(&act, "digest %s", d->final);
        held = strcmp(c->expect_digest, d->final) == 0;
    } else {
        long i = sim_drill_digest_first_difference(d, c->chain, c->nchain);
        sim_buf_printf(&exp, "the chain of %zu lines in %s", c->nchain, c->expect_digest);
        held = i < 0;
        if (held)
            sim_buf_printf(&act, "the same %zu lines", d->n);
        else if ((size_t)i >= d->n)
            sim_buf_printf(&act, "canonical line %ld missing (the journal has %zu)", i + 1, d->n);
        else
            sim_buf_printf(&act, "canonical line %ld differs%s: %s", i + 1,
                           (size_t)i >= c->nchain ? " (extra)" : "", d->lines[i]);
    }
    sim_drill_verdict_add(v, SIM_EXPECT_DIGEST_CHECK, held ? SIM_VERDICT_PASS : SIM_VERDICT_FAIL,
                          exp.data, act.data);
    sim_buf_free(&exp);
    sim_buf_free(&act);
}

static int write_file(const char *path, const char *what, const sim_buf *b) {
    FILE *f = fopen(path, "w");
    if (!f || fwrite(b->data ? b->data : "", 1, b->len, f) != b->len || fclose(f)) {
        fprintf(stderr, "stagesim drill: %s: cannot write %s: %s\n", what, path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

static int write_chain(const char *path, const sim_drill_digest *d) {
    sim_buf b = {0};
    for (size_t i = 0; i < d->n; i++) sim_buf_printf(&b, "%s\n", d->chain[i]);
    int rc = write_file(path, "--digest-out", &b);
    sim_buf_free(&b);
    return rc;
}

/* Runs one loaded drill, prints its report and adds its JUnit suite (and,
 * with --html, its page data to html). Returns 0 when every expectation
 * held, 1 when one did not, 2 when it could not run as a drill. */
static int run_one(const drill_cli *c, const char *path, const sim_scenario *sc, sim_buf *junit,
                   cJSON *html) {
    sim_drill_run_options ro = {.path = path, .expect = sc->expect, .seed_set = c->seed_set,
                                .seed = c->seed,
                                .time_scale = c->scale_set ? c->time_scale : sc->expect->time_scale};
    sim_drill_evidence ev;
    char err[1024];
    int code;
    if (sim_drill_run(&ro, &ev, err, sizeof(err), &code)) {
        fprintf(stderr, "stagesim drill: %s\n", err);
        return code;
    }
    sim_drill_verdicts v = {0};
    sim_drill_evaluate(sc->expect, ev.steps, &ev.journal, &v);
    sim_drill_digest dg;
    sim_drill_digest_compute(&ev.journal, &dg);
    if (c->expect_digest) digest_verdict(c, &dg, &v);
    int rc = c->digest_out && write_chain(c->digest_out, &dg) ? 2 : 0;
    sim_drill_report r = {.name = sc->name, .file = path, .seed = c->seed_set ? c->seed : sc->seed,
                          .time_scale = ro.time_scale, .elapsed_ms = ev.elapsed_ms,
                          .digest = dg.final, .journal_lines = ev.journal.n, .verdicts = &v};
    sim_buf out = {0};
    if (c->json) sim_drill_report_json(&r, &out);
    else sim_drill_report_human(&r, &out);
    fputs(out.data, stdout);
    fflush(stdout);
    sim_buf_free(&out);
    sim_drill_junit_suite(&r, junit);
    if (html) {
        sim_buf js = {0};
        sim_drill_report_json(&r, &js);
        if (sim_drill_html_add(html, js.data, &ev.journal, sc)) rc = 2;   /* a bug: our own JSON */
        sim_buf_free(&js);
    }
    sim_drill_tally t;
    sim_drill_tally_of(&v, &t);
    if (!rc) rc = t.failures + t.errors ? 1 : 0;
    sim_drill_digest_free(&dg);
    sim_drill_verdicts_free(&v);
    sim_drill_evidence_free(&ev);
    return rc;
}

int sim_drill_main(int argc, char **argv) {
    drill_cli c = {0};
    int parsed = parse_args(&c, argc, argv);
    if (parsed) {
        free(c.chain);
        return parsed > 0 ? 0 : 2;
    }
    int nfiles = argc - optind;
    char **files = argv + optind;
    sim_scenario **sc = sim_xcalloc((size_t)nfiles, sizeof(*sc));
    int rc = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        char err[1024];
        if (!(sc[i] = sim_scenario_load(files[i], err, sizeof(err)))) {
            fprintf(stderr, "stagesim drill: %s\n", err);
            rc = 2;
        } else if (!sc[i]->expect) {
            fprintf(stderr, "stagesim drill: %s: expect: is required (a drill is a scenario "
                            "with an expect section)\n", files[i]);
            rc = 2;
        }
    }
    sim_buf junit = {0};
    cJSON *html = c.html ? cJSON_CreateArray() : NULL;
    sim_drill_junit_open(&junit);
    for (int i = 0; i < nfiles && rc != 2; i++) {
        int one = run_one(&c, files[i], sc[i], &junit, html);
        if (one > rc) rc = one;
    }
    sim_drill_junit_close(&junit);
    if (rc != 2 && c.junit && write_file(c.junit, "--junit", &junit)) rc = 2;
    sim_buf_free(&junit);
    if (html && rc != 2) {
        sim_buf page = {0};
        sim_drill_html_page(html, &page);
        if (write_file(c.html, "--html", &page)) rc = 2;
        sim_buf_free(&page);
    }
    cJSON_Delete(html);
    for (int i = 0; i < nfiles; i++) sim_scenario_free(sc[i]);
    free(sc);
    free(c.chain);
    return rc;
}
