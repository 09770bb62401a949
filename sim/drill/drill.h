/* drill.h -- `stagesim drill FILE...`: runs each scenario's expect section
 * against an in-process simulator and reports whether every expectation
 * held (docs/drills.md). */
#ifndef SIM_DRILL_H
#define SIM_DRILL_H

/* argv[0] is "drill". Returns the exit code: 0 every expectation held, 1 one
 * did not, 2 an invalid drill or a usage error. */
int sim_drill_main(int argc, char **argv);

#endif
