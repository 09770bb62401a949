/* auth_int.h -- private interface between the auth store (auth_store.c) and
 * the auth routes (auth_routes.c). Not for other modules: they use auth.h. */
#ifndef SIM_AUTH_INT_H
#define SIM_AUTH_INT_H
#ifndef SIM_IN_AUTH
#error "auth_int.h is private to sim/auth/"
#endif

#include <stddef.h>
#include "auth.h"

/* A known user: from the scenario or registered at run time. All strings
 * are owned by the store and live as long as it. */
typedef struct sim_auth_user {
    char *id;
    char *email;
    char *password;
    char *name;
    char **permissions;
    size_t npermissions;
} sim_auth_user;

/* Borrowed, valid until the store is freed; NULL when unknown. */
const sim_auth_user *sim_auth_store_by_email(const sim_auth_store *st, const char *email);
const sim_auth_user *sim_auth_store_by_id(const sim_auth_store *st, const char *id);

/* Registers a user (id derived from the email and the seed). NULL when the
 * email is taken. The returned user is borrowed. */
const sim_auth_user *sim_auth_store_register(sim_auth_store *st, const char *email,
                                             const char *password, const char *name);

/* Constant-time password check (length leaks, content does not). 1 = ok. */
int sim_auth_password_ok(const sim_auth_user *u, const char *password);

/* Issues a token for a subject. type is "access" or "refresh". permissions
 * is a cJSON array (borrowed, NULL = []). Caller frees the string. */
char *sim_auth_store_issue(sim_auth_store *st, const char *type, const char *sub,
                           const char *email, const void *permissions, int64_t now_ms);

/* Verifies a token of the given type (signature, alg, required claims, iss,
 * token_type, exp, revocation). On SIM_AUTH_OK, *claims_out (if not NULL)
 * gets the claims, a cJSON * the caller frees with cJSON_Delete. */
sim_auth_status sim_auth_store_check(sim_auth_store *st, const char *token, const char *type,
                                     int64_t now_ms, void **claims_out);

/* Revokes a jti until exp, the token's claim in epoch seconds (after which
 * the token is rejected as expired anyway, so the entry can be dropped),
 * and tells the revocation listener (auth.h) with its subject. */
void sim_auth_store_revoke(sim_auth_store *st, const char *jti, const char *sub, double exp,
                           int64_t now_ms);

/* The E2E bypass key, or NULL when not configured. */
const char *sim_auth_store_e2e_key(const sim_auth_store *st);
/* Access token lifetime the tokens carry (the scenario's access_ttl_s). */
unsigned sim_auth_store_access_ttl(const sim_auth_store *st);
size_t sim_auth_store_revoked_count(const sim_auth_store *st);

#endif
