/* redis_pubsub.h -- pub/sub: SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE,
 * PUNSUBSCRIBE, PUBLISH, PUBSUB. */
#ifndef SIM_REDIS_PUBSUB_H
#define SIM_REDIS_PUBSUB_H
#ifndef SIM_IN_REDIS
#error "redis_pubsub.h is private to sim/redis/"
#endif

#include "redis_core.h"

/* Sets the core's pub/sub hook (pubsub_reset). */
void redis_pubsub_init(sim_redis_core *core);

void redis_cmd_subscribe(redis_ctx *x);
void redis_cmd_unsubscribe(redis_ctx *x);
void redis_cmd_psubscribe(redis_ctx *x);
void redis_cmd_punsubscribe(redis_ctx *x);
void redis_cmd_publish(redis_ctx *x);
void redis_cmd_pubsub(redis_ctx *x);

#endif
