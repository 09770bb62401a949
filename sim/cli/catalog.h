/* catalog.h -- the scenarios that come with stagesim, found by name: a
 * `--scenario NAME` (no '/', no ".json") is looked up in
 * $STAGESIM_SCENARIO_PATH (':'-separated), then in the installed
 * share/stagesim/scenarios (beside the binary, then under the configured
 * prefix), then in the source tree stagesim was built from.
 * `stagesim scenarios [NAME]` lists them or prints one in full. */
#ifndef SIM_CATALOG_H
#define SIM_CATALOG_H

#include <stddef.h>

/* The file for a name or a path: a path is given back as it is. 0, or -1
 * with "no scenario named X (looked in ...)" in err. */
int sim_catalog_resolve(const char *name_or_path, char *out, size_t outlen, char *err,
                        size_t errlen);

/* `stagesim scenarios [NAME]`; returns the exit code. */
int sim_catalog_main(int argc, char **argv);

#endif
