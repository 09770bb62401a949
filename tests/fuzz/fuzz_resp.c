/* fuzz_resp.c -- libFuzzer harness: arbitrary bytes through the RESP parser
 * (split at a fuzzer-chosen point) and every parsed command through dispatch
 * on one keyspace. Built with clang only (-fsanitize=fuzzer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redis_core.h"
#include "redis_table.h"
#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int64_t now = 1700000000000LL;
    sim_redis_core *core = sim_redis_core_new(1, NULL, now);
    sim_redis_client c;
    sim_redis_client_init(core, &c, now);
    sim_resp_limits lim;
    sim_resp_limits_default(&lim);
    lim.max_query = 1 << 20;
    sim_resp_parser *p = sim_resp_parser_new(&lim);
    size_t cut = size ? data[0] % (size + 1) : 0;
    const size_t parts[2][2] = {{0, cut}, {cut, size - cut}};
    for (int k = 0; k < 2; k++) {
        if (sim_resp_feed(p, (const char *)data + parts[k][0], parts[k][1]) != 0)
            break;
        sim_resp_cmd cmd;
        int rc;
        while ((rc = sim_resp_next(p, &cmd)) == SIM_RESP_CMD) {
            /* no blocking or subscribed states pile up forever: the fuzzer
             * only needs each command to run once */
            if (c.flags & SIM_RC_BLOCKED)
                break;
            sim_redis_dispatch(&c, cmd.argc, cmd.argv, cmd.argvlen, now);
            now += 7;
            c.out.len = 0;
        }
        if (rc == SIM_RESP_ERROR)
            break;
    }
    sim_redis_core_cron(core, now + 100000);
    sim_resp_parser_free(p);
    sim_redis_client_fini(&c);
    sim_redis_core_free(core);
    return 0;
}
