/* test_drill_breaker.c -- a step's breaker: outcomes in, its transitions as
 * journal lines out, with the observed and the eligible time. */
#include <stdio.h>
#include <string.h>

#include "drill_breaker.h"
#include "tap.h"

int main(void) {
    sim_drill_breaker *b = sim_drill_breaker_new(
        "consecutiveFailures=2,waitDurationInOpenState=1s,successThreshold=1", "chat", 5000);
    sim_drill_breaker_outcome(b, 5100, 0, 10);
    char *const *lines;
    is_int(sim_drill_breaker_lines(b, &lines), 0, "one failure: still closed");
    sim_drill_breaker_outcome(b, 5200, 0, 10);
    sim_drill_breaker_outcome(b, 5900, 1, 10);   /* refused: OPEN until 6200 */
    sim_drill_breaker_outcome(b, 6500, 1, 10);   /* observed half-open, then closes */
    is_int(sim_drill_breaker_lines(b, &lines), 3, "open, half open, closed");
    is_str(lines[0], "{\"t_ms\":200,\"svc\":\"drill\",\"event\":\"breaker\",\"breaker\":\"chat\","
           "\"from\":\"closed\",\"to\":\"open\",\"eligible_ms\":200,\"reason\":\"consecutive_failures\"}",
           "opened at the second failure");
    is_str(lines[1], "{\"t_ms\":1500,\"svc\":\"drill\",\"event\":\"breaker\",\"breaker\":\"chat\","
           "\"from\":\"open\",\"to\":\"half_open\",\"eligible_ms\":1200,\"reason\":\"wait_elapsed\"}",
           "half open when observed, eligible at open + wait");
    ok(strstr(lines[2], "\"to\":\"closed\"") && strstr(lines[2], "\"success_threshold\""),
       "closed by the success");
    sim_drill_breaker_free(b);
    return tap_done();
}
