/* ws_handshake.c -- a WebSocket upgrade's facts, pure: token, user, and the
 * ws.accept actions that take effect after the upgrade. See ws_handshake.h. */
#include "ws_handshake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

sim_ws_handshake *sim_ws_handshake_new(const sim_scenario *sc, sim_auth_store *auth,
                                       const char *path, const char *subprotocols,
                                       const char *authorization, const char *query,
                                       int64_t now_ms) {
    sim_ws_handshake *hs = sim_xcalloc(1, sizeof(*hs));
    snprintf(hs->path, sizeof(hs->path), "%s", path ? path : "");
    sim_ws_auth_extract(subprotocols, authorization, query, &hs->auth);
    hs->auth_status = SIM_AUTH_OK;
    if (hs->auth.token) {
        sim_principal who;
        memset(&who, 0, sizeof(who));
        hs->auth_status = auth ? sim_auth_check_access(auth, hs->auth.token, now_ms, &who)
                               : SIM_AUTH_INVALID;
        if (hs->auth_status == SIM_AUTH_OK) {
            snprintf(hs->user_id, sizeof(hs->user_id), "%s", who.user_id);
            snprintf(hs->jti, sizeof(hs->jti), "%s", who.jti);
            hs->exp = who.exp;
        }
    } else if (sc->no_token == SIM_NO_TOKEN_DEMO) {
        snprintf(hs->user_id, sizeof(hs->user_id), "%s",
                 sc->demo_user_id ? sc->demo_user_id : "demo-user-001");
    }
    return hs;
}

void sim_ws_handshake_free(sim_ws_handshake *hs) {
    if (!hs) return;
    sim_ws_auth_free(&hs->auth);
    free(hs->welcome);
    free(hs->welcome_type);
    free(hs->close_reason);
    free(hs);
}

void sim_ws_handshake_accept_action(sim_ws_handshake *hs, const sim_action *a, const char *agent,
                                    int64_t now_ms) {
    if (a->kind == SIM_ACT_CLOSE) {
        hs->close_code = a->code ? a->code : 1011;
        const char *r = a->text ? a->text : "";
        free(hs->close_reason);
        hs->close_reason = sim_xstrndup(r, strnlen(r, 123));
    } else if (a->kind == SIM_ACT_REPLACE) {
        const char *type = a->field ? a->field : "error_message";
        free(hs->welcome);
        if (a->details || a->nested)
            hs->welcome = sim_ws_error_shaped(a->error_code, a->text, a->details, a->nested, now_ms);
        else
            hs->welcome = sim_ws_replacement(type, a->error_code, a->text, NULL,
                                             hs->user_id[0] ? hs->user_id : NULL, agent, now_ms);
        free(hs->welcome_type);
        hs->welcome_type = sim_xstrndup(type, strnlen(type, 255));
    }
}
