/* breaker_line.c -- a breaker transition's journal members (breaker_line.h). */
#include "breaker_line.h"

#include "utf8.h"

const char *sim_breaker_state_lower(stagesim_breaker_state s) {
    static const char *const names[] = {
        [STAGESIM_BREAKER_CLOSED] = "closed",           [STAGESIM_BREAKER_OPEN] = "open",
        [STAGESIM_BREAKER_HALF_OPEN] = "half_open",     [STAGESIM_BREAKER_FORCED_OPEN] = "forced_open",
        [STAGESIM_BREAKER_DISABLED] = "disabled",       [STAGESIM_BREAKER_METRICS_ONLY] = "metrics_only",
    };
    sim_assert((unsigned)s < sizeof(names) / sizeof(names[0]));
    return names[s];
}

void sim_breaker_line_members(sim_buf *b, const char *name, stagesim_breaker_state from,
                              stagesim_breaker_state to, int64_t eligible_rel_ms,
                              stagesim_breaker_reason reason) {
    sim_json_member(b, "breaker", name);
    sim_buf_printf(b, ",\"from\":\"%s\",\"to\":\"%s\",\"eligible_ms\":%lld,\"reason\":\"%s\"",
                   sim_breaker_state_lower(from), sim_breaker_state_lower(to),
                   (long long)eligible_rel_ms, stagesim_breaker_reason_name(reason));
}
