/* wire.c -- the names of services, crossing points and actions, as rules
 * spell them and the journal writes them. */
#include "wire.h"

const char *sim_action_name(sim_action_kind kind) {
    static const char *names[SIM_ACT_COUNT] = {
        [SIM_ACT_PASS] = "pass", [SIM_ACT_DROP] = "drop", [SIM_ACT_DELAY] = "delay",
        [SIM_ACT_CLOSE] = "close", [SIM_ACT_ABORT] = "abort", [SIM_ACT_HANG] = "hang",
        [SIM_ACT_REPLY] = "reply", [SIM_ACT_DUPLICATE] = "duplicate", [SIM_ACT_MALFORM] = "malform",
        [SIM_ACT_REPLACE] = "replace", [SIM_ACT_STALL] = "stall", [SIM_ACT_MISROUTE] = "misroute",
        [SIM_ACT_HOLD] = "hold", [SIM_ACT_PARTIAL] = "partial", [SIM_ACT_REFUSE] = "refuse",
        [SIM_ACT_EMPTY] = "empty", [SIM_ACT_SLOW] = "slow", [SIM_ACT_UNRESOLVED] = "unresolved",
        [SIM_ACT_MARK] = "mark",
    };
    return kind < SIM_ACT_COUNT && names[kind] ? names[kind] : "unknown";
}

const char *sim_service_name(sim_service service) {
    static const char *names[] = {"backend", "auth", "redis", "control"};
    return (size_t)service < sizeof(names) / sizeof(names[0]) ? names[service] : "unknown";
}

const char *sim_wire_point_name(sim_wire_point point) {
    static const char *names[] = {"accept", "request", "send", "close", "connect"};
    return (size_t)point < sizeof(names) / sizeof(names[0]) ? names[point] : "unknown";
}
