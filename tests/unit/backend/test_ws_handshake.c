/* test_ws_handshake.c -- an upgrade's facts: the user from the token or the
 * demo user, and what ws.accept actions leave for the session. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "tap.h"
#include "util.h"
#include "ws_handshake.h"

#define NOW 1700000000000LL

static void test_users(sim_scenario *sc) {
    sim_auth_store *st = sim_auth_store_new(sc, 1);
    char *tok = sim_auth_issue_access(st, "user-alice", "alice@example.com", NOW);
    char query[2048];
    snprintf(query, sizeof(query), "token=%s", tok);

    sim_ws_handshake *hs = sim_ws_handshake_new(sc, st, "/ws", NULL, NULL, query, NOW);
    is_str(hs->path, "/ws", "path");
    is_int(hs->auth_status, SIM_AUTH_OK, "valid token");
    is_str(hs->user_id, "user-alice", "the token's user");
    is_int(hs->auth.source, SIM_WS_TOKEN_QUERY, "from the query");
    sim_ws_handshake_free(hs);

    hs = sim_ws_handshake_new(sc, st, "/ws", NULL, "Bearer nope", NULL, NOW);
    is_int(hs->auth_status, SIM_AUTH_INVALID, "bad token");
    is_str(hs->user_id, "", "nobody");
    sim_ws_handshake_free(hs);

    hs = sim_ws_handshake_new(sc, NULL, "/ws", NULL, NULL, query, NOW);
    is_int(hs->auth_status, SIM_AUTH_INVALID, "no auth store: every token invalid");
    sim_ws_handshake_free(hs);

    hs = sim_ws_handshake_new(sc, st, "/ws", NULL, NULL, NULL, NOW);
    is_int(hs->auth_status, SIM_AUTH_OK, "no token");
    is_str(hs->user_id, "demo-user-001", "demo mode");
    sim_ws_handshake_free(hs);

    sc->no_token = SIM_NO_TOKEN_REJECT;
    hs = sim_ws_handshake_new(sc, st, "/ws", NULL, NULL, NULL, NOW);
    is_str(hs->user_id, "", "no token, rejecting: nobody");
    sim_ws_handshake_free(hs);
    sc->no_token = SIM_NO_TOKEN_DEMO;

    free(tok);
    sim_auth_store_free(st);
}

static void test_accept_actions(sim_scenario *sc) {
    sim_ws_handshake *hs = sim_ws_handshake_new(sc, NULL, "/ws", NULL, NULL, NULL, NOW);
    sim_action a = {.kind = SIM_ACT_DELAY, .delay_ms = 5};
    sim_ws_handshake_accept_action(hs, &a, "supervisor", NOW);
    ok(!hs->close_code && !hs->welcome, "other kinds leave nothing");

    a = (sim_action){.kind = SIM_ACT_CLOSE};
    sim_ws_handshake_accept_action(hs, &a, "supervisor", NOW);
    is_int(hs->close_code, 1011, "close: 1011 by default");
    is_str(hs->close_reason, "", "no reason");
    char reason[200];
    memset(reason, 'r', sizeof(reason) - 1);
    reason[sizeof(reason) - 1] = '\0';
    a = (sim_action){.kind = SIM_ACT_CLOSE, .code = 4000, .text = reason};
    sim_ws_handshake_accept_action(hs, &a, "supervisor", NOW);
    is_int(hs->close_code, 4000, "the rule's code");
    is_int(strlen(hs->close_reason), 123, "reason cut to 123 bytes");

    a = (sim_action){.kind = SIM_ACT_REPLACE, .field = "agent_death", .text = "gone"};
    sim_ws_handshake_accept_action(hs, &a, "supervisor", NOW);
    is_str(hs->welcome_type, "agent_death", "the replacement's type");
    cJSON *j = cJSON_Parse(hs->welcome);
    is_str(cJSON_GetObjectItem(j, "type")->valuestring, "agent_death", "its message");
    is_str(cJSON_GetObjectItem(j, "user_id")->valuestring, "demo-user-001", "for the user");
    cJSON_Delete(j);
    sim_ws_handshake_free(hs);
}

int main(void) {
    char err[256];
    sim_log_set_level(SIM_LOG_ERROR);
    sim_scenario *sc = sim_scenario_load(NULL, err, sizeof(err));
    ok(sc != NULL, "built-in scenario");
    if (!sc) return tap_done();
    test_users(sc);
    test_accept_actions(sc);
    sim_scenario_free(sc);
    return tap_done();
}
