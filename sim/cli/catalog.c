/* catalog.c -- scenario files by name, and the `stagesim scenarios` command. */
#include "catalog.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scenario.h"
#include "util.h"

#define MAX_DIRS 16

/* Where named scenarios are looked for, in order; returns how many. */
static size_t search_dirs(char dirs[MAX_DIRS][1024]) {
    size_t n = 0;
    const char *env = getenv("STAGESIM_SCENARIO_PATH");
    while (env && *env && n < MAX_DIRS - 3) {
        size_t len = strcspn(env, ":");
        if (len && len < 1024) {
            memcpy(dirs[n], env, len);
            dirs[n++][len] = '\0';
        }
        env += len + (env[len] == ':');
    }
    /* The installed tree is found from the binary first, so a copy of it
     * (DESTDIR, a moved prefix) uses its own scenarios. */
    char exe[896];   /* room left in dirs[n] for the relative part */
    ssize_t len = *STAGESIM_BIN_TO_DATA ? readlink("/proc/self/exe", exe, sizeof(exe) - 1) : -1;
    char *slash = len > 0 ? (exe[len] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        char rel[1024], real[PATH_MAX];
        snprintf(rel, sizeof(rel), "%s/%s/scenarios", exe, STAGESIM_BIN_TO_DATA);
        if (realpath(rel, real) && strlen(real) < 1024) snprintf(dirs[n++], 1024, "%s", real);
    }
    snprintf(dirs[n++], 1024, "%s", STAGESIM_DATADIR "/scenarios");
    snprintf(dirs[n++], 1024, "%s", STAGESIM_SOURCE_SCENARIOS);
    return n;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_name(const char *s) {
    size_t n = strlen(s);
    return n && !strchr(s, '/') && !(n > 5 && strcmp(s + n - 5, ".json") == 0);
}

int sim_catalog_resolve(const char *name_or_path, char *out, size_t outlen, char *err,
                        size_t errlen) {
    if (!is_name(name_or_path)) {
        snprintf(out, outlen, "%s", name_or_path);
        return 0;
    }
    char dirs[MAX_DIRS][1024];
    size_t n = search_dirs(dirs);
    sim_buf where = {0};
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s.json", dirs[i], name_or_path);
        if (is_file(path)) {
            snprintf(out, outlen, "%s", path);
            sim_buf_free(&where);
            return 0;
        }
        sim_buf_printf(&where, "%s%s", i ? ", " : "", dirs[i]);
    }
    snprintf(err, errlen, "no scenario named \"%s\" (looked in %s)", name_or_path, where.data);
    sim_buf_free(&where);
    return -1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the first directory that has scenarios, sorted; the caller
 * frees them and the array. */
static char **list_names(size_t *count, char *dir_out, size_t dirlen) {
    char dirs[MAX_DIRS][1024];
    size_t nd = search_dirs(dirs);
    *count = 0;
    for (size_t i = 0; i < nd; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d) continue;
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
            if (n == cap) names = sim_xrealloc(names, (cap = cap ? cap * 2 : 32) * sizeof(char *));
            names[n++] = sim_xstrndup(e->d_name, len - 5);
        }
        closedir(d);
        if (!n) continue;
        qsort(names, n, sizeof(char *), by_name);
        snprintf(dir_out, dirlen, "%s", dirs[i]);
        *count = n;
        return names;
    }
    return NULL;
}

static void print_list(const char *const *items, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%s%s", i ? "," : "", items[i]);
}

static int show(const char *name) {
    char path[2048], err[512];
    if (sim_catalog_resolve(name, path, sizeof(path), err, sizeof(err))) {
        fprintf(stderr, "stagesim scenarios: %s\n", err);
        return 2;
    }
    sim_scenario *sc = sim_scenario_load(path, err, sizeof(err));
    if (!sc) {
        fprintf(stderr, "stagesim: %s\n", err);
        return 2;
    }
    printf("%s (%s)\n", sc->name, path);
    if (sc->summary) printf("summary: %s\n", sc->summary);
    if (sc->nsymptoms) {
        printf("symptoms: ");
        print_list((const char *const *)sc->symptoms, sc->nsymptoms);
        printf("\n");
    }
    for (size_t i = 0; i < sc->nsources; i++) printf("source: %s\n", sc->sources[i]);
    printf("profile: %s, seed %llu%s\n\n%s\n", sc->profile == SIM_PROFILE_LEGACY ? "legacy" : "current",
           (unsigned long long)sc->seed, sc->tls ? ", tls" : "", sc->description);
    sim_scenario_free(sc);
    return 0;
}

int sim_catalog_main(int argc, char **argv) {
    if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))) {
        fprintf(argc > 2 ? stderr : stdout,
                "usage: stagesim scenarios         list the scenarios that come with stagesim\n"
                "       stagesim scenarios NAME    print one in full\n");
        return argc > 2 ? 2 : 0;
    }
    if (argc == 2) return show(argv[1]);
    char dir[1024];
    size_t n;
    char **names = list_names(&n, dir, sizeof(dir));
    if (!names) {
        fprintf(stderr, "stagesim scenarios: no scenarios found\n");
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[2048], err[512];
        snprintf(path, sizeof(path), "%s/%s.json", dir, names[i]);
        sim_scenario *sc = sim_scenario_load(path, err, sizeof(err));
        if (!sc) {
            fprintf(stderr, "stagesim: %s\n", err);
            rc = 2;
        } else {
            printf("%-24s ", names[i]);
            size_t w = 0;
            for (size_t k = 0; k < sc->nsymptoms; k++)
                w += (size_t)printf("%s%s", k ? "," : "", sc->symptoms[k]);
            printf("%*s %s\n", (int)(w < 12 ? 12 - w : 0), "",
                   sc->summary ? sc->summary : sc->description);
            sim_scenario_free(sc);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
