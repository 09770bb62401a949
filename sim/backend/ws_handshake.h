/* ws_handshake.h -- what a WebSocket upgrade finds out before its session
 * starts, pure: whose token it carries (docs/contract.md §2.2), who the user
 * is, and what a fault rule at ws.accept asked for. Filled by the pre-read
 * or by CONFIRM_UPGRADE, handed to the session at ESTABLISHED. */
#ifndef SIM_WS_HANDSHAKE_H
#define SIM_WS_HANDSHAKE_H
#ifndef SIM_IN_BACKEND
#error "ws_handshake.h is private to sim/backend/"
#endif

#include <stdint.h>

#include "auth.h"
#include "scenario.h"
#include "wire.h"
#include "ws_proto.h"

typedef struct sim_ws_handshake {
    char path[256];
    sim_ws_auth auth;             /* owned: the token, its source, the subprotocol to echo */
    sim_auth_status auth_status;  /* the token's check; SIM_AUTH_OK without a token */
    char user_id[128];            /* "" when nobody: a bad token, or no token when rejected */
    /* Over the backend's connection cap: the upgrade goes through, then
     * 1013, before anything else (docs/errors.md). */
    int over_cap;
    char jti[64];                 /* the good token's, "" without one */
    int remote;                   /* judged by the auth service (auth.validation "remote") */
    double exp;                   /* its exp claim, epoch s */
    /* A CLOSE at ws.accept: the upgrade goes through, then this close. */
    int close_code;               /* 0: none */
    char *close_reason;           /* owned; at most 123 bytes (docs/libraries.md §2.9) */
    /* A REPLACE at ws.accept: sent instead of the welcome. Both copied: the
     * rule may be gone by then. Allocated only then: every session keeps
     * its handshake. */
    char *welcome;                /* owned, NULL: the usual welcome */
    char *welcome_type;           /* owned, with welcome */
} sim_ws_handshake;

/* Finds the token (subprotocol, then Authorization, then the query), checks
 * it against `auth` at now_ms (revocation included: the store is shared with
 * the auth service) and decides the user: the token's, or the scenario's
 * demo user when there is no token and the scenario accepts that. auth may
 * be NULL (every token is then invalid); the strings may be NULL. Caller
 * frees with sim_ws_handshake_free. */
sim_ws_handshake *sim_ws_handshake_new(const sim_scenario *sc, sim_auth_store *auth,
                                       const char *path, const char *subprotocols,
                                       const char *authorization, const char *query,
                                       int64_t now_ms);
void sim_ws_handshake_free(sim_ws_handshake *hs);

/* Records what a CLOSE or a REPLACE action at ws.accept does once the
 * upgrade is through (a close instead of the session; a message instead of
 * the welcome, built now for agent `agent`). Other kinds are the caller's:
 * they happen before the upgrade. */
void sim_ws_handshake_accept_action(sim_ws_handshake *hs, const sim_action *a, const char *agent,
                                    int64_t now_ms);

#endif
