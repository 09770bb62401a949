/* backend_routes.h -- the backend's HTTP routes (docs/contract.md §1), pure:
 * a sim_route table (http.h) answering a sim_http_request with a
 * sim_http_response. The one route that needs I/O (a thread's message
 * history, from Redis) is split in two: its handler tells the dispatcher
 * which thread to read, the glue reads it and calls
 * sim_backend_routes_history with the result. */
#ifndef SIM_BACKEND_ROUTES_H
#define SIM_BACKEND_ROUTES_H
#ifndef SIM_IN_BACKEND
#error "backend_routes.h is private to sim/backend/"
/* The breakers as /health/circuit-breakers shows them: an object of
 * {name, state, failure_count, failure_threshold, recovery_timeout} by name
 * (a cJSON *, the caller's). */
struct cJSON *sim_backend_routes_breakers(const sim_backend_routes *rt);

#endif

#include <stdint.h>
#include "auth.h"
#include "history.h"
#include "http.h"
#include "scenario.h"

/* A token's check done elsewhere (the auth service, for a backend that
 * validates remotely): the status (auth.h, or SIM_AUTH_UNAVAILABLE) and,
 * when OK, who. */
typedef struct sim_token_verdict {
    sim_auth_status status;
    sim_principal who;
    char why[200];              /* UNAVAILABLE: why */
} sim_token_verdict;

typedef struct sim_backend_routes {
    const sim_scenario *sc;     /* borrowed */
    sim_auth_store *auth;       /* borrowed */
    sim_history *history;       /* borrowed, may be NULL */
    /* The breakers /health/circuit-breakers shows besides Redis's (the
     * history's): the backend's own, which nothing trips in this build, and
     * the one in front of the auth service. */
    struct sim_dep_breaker *ws_breaker, *auth_breaker;
    const char *host;           /* for the discovery URLs; NULL: Host header or 127.0.0.1 */
    int backend_port;
    int auth_port;
    int tls;                    /* discovery URLs say https and wss */
    uint64_t seed;
    uint64_t threads_created;   /* ordinal for made-up thread ids */
    struct sim_threads *threads; /* owned by the backend: who owns which thread */
    int64_t start_ms;           /* now_ms at start, for the simulated start-up */
} sim_backend_routes;

typedef enum {
    SIM_ROUTE_DONE = 0,         /* resp is complete */
    SIM_ROUTE_HISTORY = 1,      /* read thread `thread_id` then call sim_backend_routes_history */
} sim_route_result;

/* Answers one request. On SIM_ROUTE_HISTORY the thread id (validated, at
 * most tidlen-1 bytes) is in thread_id and resp is untouched. */
sim_route_result sim_backend_routes_handle(sim_backend_routes *rt, const sim_http_request *req,
                                           sim_http_response *resp, char *thread_id,
                                           size_t tidlen);
/* The same, with the request's Bearer token already judged (verdict). */
sim_route_result sim_backend_routes_handle_checked(sim_backend_routes *rt,
                                                   const sim_http_request *req,
                                                   const sim_token_verdict *verdict,
                                                   sim_http_response *resp, char *thread_id,
                                                   size_t tidlen);
/* The Bearer token of a request whose route needs one, else NULL: what a
 * remote check must judge before the route runs. */
const char *sim_backend_routes_token(const sim_http_request *req);

/* Fills resp with the history of thread_id: json_array is a cJSON array of
 * stored messages (borrowed), or NULL with `error` when Redis is unavailable
 * (→ 503). */
void sim_backend_routes_history(sim_http_response *resp, const char *thread_id,
                                const void *json_array, const char *error);

/* The breakers as /health/circuit-breakers shows them: an object of
 * {name, state, failure_count, failure_threshold, recovery_timeout} by name
 * (a cJSON *, the caller's). */
struct cJSON *sim_backend_routes_breakers(const sim_backend_routes *rt);

#endif
