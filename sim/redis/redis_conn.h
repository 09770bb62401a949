/* redis_conn.h -- connection and server commands: PING, ECHO, AUTH, HELLO, CLIENT,
 * QUIT, TIME, RESET, INFO, COMMAND, CONFIG. */
#ifndef SIM_REDIS_CONN_H
#define SIM_REDIS_CONN_H
#ifndef SIM_IN_REDIS
#error "redis_conn.h is private to sim/redis/"
#endif

#include "redis_core.h"

void redis_cmd_ping(redis_ctx *x);
void redis_cmd_echo(redis_ctx *x);
void redis_cmd_auth(redis_ctx *x);
void redis_cmd_hello(redis_ctx *x);
void redis_cmd_client(redis_ctx *x);
void redis_cmd_quit(redis_ctx *x);
void redis_cmd_time(redis_ctx *x);
void redis_cmd_reset(redis_ctx *x);
void redis_cmd_info(redis_ctx *x);
void redis_cmd_command(redis_ctx *x);
void redis_cmd_config(redis_ctx *x);

#endif
