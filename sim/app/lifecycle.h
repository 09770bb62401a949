/* lifecycle.h -- the services' life cycle (docs/lifecycle.md): crashes,
 * restarts, drains, cold redeploys and failed starts, from the scenario's
 * timeline or POST /lifecycle, each journaled as
 *   {"t_ms":..,"svc":"backend","event":"lifecycle","action":"crash","state":"down"}
 * Private to sim/app. */
#ifndef SIM_LIFECYCLE_H
#define SIM_LIFECYCLE_H
#ifndef SIM_IN_APP
#error "lifecycle.h is private to sim/app/"
#endif

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lifecycle_step.h"
#include "sim_int.h"

/* Arms the scenario's timeline. */
sim_lifecycle *sim_lifecycle_new(sim *s);
void sim_lifecycle_free(sim_lifecycle *lc);

/* Carries out a step now. 0, or the HTTP status of a refusal (409: not
 * from the state the service is in; 500: a port could not be had again)
 * with the reason in err. */
int sim_lifecycle_apply(sim_lifecycle *lc, const sim_lifecycle_step *st, char *err,
                        size_t errlen);

/* {"services":{"backend":{"state":"running","since_ms":0},"auth":..,"redis":..}} */
cJSON *sim_lifecycle_json(const sim_lifecycle *lc);

#endif
