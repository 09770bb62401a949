/* test_redis_db.c -- unit tests for redis_db.c: Redis's glob matching. */
#include "redis_db.h"
#include "tap.h"

static void test_glob(void) {
    ok(sim_glob_match("user:*", 6, "user:1", 6, 0), "glob *");
    ok(!sim_glob_match("user:?", 6, "user:12", 7, 0), "glob ?");
    ok(sim_glob_match("h[ae]llo", 8, "hello", 5, 0), "glob class");
    ok(!sim_glob_match("h[^e]llo", 8, "hello", 5, 0), "glob negated class");
    ok(sim_glob_match("*", 1, "", 0, 0), "* matches empty");
}

int main(void) {
    test_glob();
    return tap_done();
}
