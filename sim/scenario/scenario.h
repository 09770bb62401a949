/* scenario.h -- everything a run needs, loaded from one JSON file (or the
 * built-in default) and validated before anything starts. Unknown keys and
 * bad values are errors that name the file, the JSON path and the reason. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "lifecycle_step.h"
#include "stagesim_breaker.h"

/* The backend's breaker in front of Redis in staging (docs/contract.md §4):
 * 5 consecutive failures open it, half-open after 60 s (by its own timer,
 * when the backend reconnects), 2 successes close it. */
#define SIM_REDIS_BREAKER "consecutiveFailures=5,waitDurationInOpenState=60s,successThreshold=2," \
    "permittedNumberOfCallsInHalfOpenState=2,automaticTransitionFromOpenToHalfOpenEnabled=true"

typedef enum { SIM_PROFILE_CURRENT, SIM_PROFILE_LEGACY } sim_profile;
/* What the backend does with a WebSocket that carries no token. */
typedef enum { SIM_NO_TOKEN_DEMO, SIM_NO_TOKEN_REJECT } sim_no_token;
/* ... and with a token that does not check out: accepted, then AUTH_FAILED
 * and close 1008 (current), or refused with HTTP 403 on the upgrade (legacy). */
typedef enum { SIM_BAD_TOKEN_CLOSE, SIM_BAD_TOKEN_REJECT } sim_bad_token;

/* What the services accept at run time, and so what a scenario may hold:
 * a JWT string claim (the user id), a login's email and password. */
#define SIM_MAX_USER_ID 127
#define SIM_MAX_EMAIL 254
#define SIM_MAX_PASSWORD 1024

typedef struct sim_user {
    char *id;
    char *email;
    char *password;
    char **permissions;
    size_t npermissions;
} sim_user;

typedef struct sim_agent_script {
    char *agent_name;          /* "supervisor" */
    char **tools;              /* tool names, one is chosen per run */
    size_t ntools;
    char **thinking;           /* reasoning texts, one is chosen per run */
    size_t nthinking;
    char *answer_template;     /* "{prompt}", "{tool}", "{agent}", "{digest}" substituted */
    uint32_t gap_ms;           /* between consecutive events of a run */
} sim_agent_script;

/* What the responses look like they came through (staging: Google's front
 * end adds Server, Via and X-Cloud-Trace-Context). */
typedef enum { SIM_FRONT_END_NONE, SIM_FRONT_END_GOOGLE } sim_front_end;

typedef struct sim_scenario {
    char *path;                /* file it came from, or "<built-in>" */
    char *name;
    char *description;
    char *summary;             /* one line for `stagesim scenarios` */
    char **symptoms;           /* "S3", ... (docs/contract.md §6) */
    size_t nsymptoms;
    char **sources;            /* the incident reports it comes from */
    size_t nsources;
    sim_profile profile;
    uint64_t seed;
    char *jwt_secret;          /* NULL: environment, else generated */
    char *e2e_key;             /* NULL: E2E_OAUTH_SIMULATION_KEY, else not configured */
    uint32_t access_ttl_s;     /* 1800 in staging */
    uint32_t refresh_ttl_s;    /* 14 days */
    uint32_t auth_leeway_s;    /* PyJWT's leeway for exp, nbf and iat (0) */
    char *backend_jwt_secret;  /* NULL: the backend checks with the auth service's secret */
    int64_t backend_clock_skew_ms; /* the backend's clock minus the auth service's (0) */
    sim_no_token no_token;     /* profile legacy: reject */
    sim_bad_token invalid_token; /* profile legacy: reject */
    char *demo_user_id;        /* "demo-user-001" */
    uint32_t heartbeat_ms;     /* idle WebSocket gets {"type":"heartbeat"} (35 s; 0 = never) */
    uint32_t heartbeat_timeout_ms; /* idle this long: closed 1011 (90 s; 0 = never) */
    uint32_t startup_complete_ms; /* simulated start-up length; 0: started already */
    uint32_t startup_app_state_ms; /* phase no_app_state until then */
    uint32_t startup_ws_wait_ms;  /* a WebSocket before `services` waits this long (3000) */
    sim_user *users;
    size_t nusers;
    sim_agent_script agent;
    char *redis_host;          /* NULL: stagesim's own Redis */
    int redis_port;
    uint32_t redis_connect_timeout_ms;
    uint32_t redis_command_timeout_ms; /* a reply later than this: failure, reconnect (2000) */
    char *redis_breaker_spec;  /* redis.breaker, as given (SIM_REDIS_BREAKER) */
    stagesim_breaker_config redis_breaker;
    void *faults;              /* cJSON array of fault rules (owned), may be NULL */
    int tls;                   /* network.tls: https and wss on the backend and auth ports */
    sim_network network;       /* network latency bands (fault.h) */
    sim_front_end front_end;
    sim_lifecycle_step *lifecycle; /* the timeline (docs/lifecycle.md), in order */
    size_t nlifecycle;
    struct sim_expect *expect; /* the drill's `expect` section (expect.h), or NULL */
} sim_scenario;

/* Loads and validates a scenario. path NULL means the built-in default.
 * On error returns NULL and writes "file: json.path: reason" into err. */
sim_scenario *sim_scenario_load(const char *path, char *err, size_t errlen);
/* Same, from a JSON text; `origin` names it in error messages. */
sim_scenario *sim_scenario_parse(const char *json, const char *origin, char *err, size_t errlen);
void sim_scenario_free(sim_scenario *sc);

/* The user with this email, or NULL. */
const sim_user *sim_scenario_user_by_email(const sim_scenario *sc, const char *email);

#endif
