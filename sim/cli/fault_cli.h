/* fault_cli.h -- `stagesim fault ...`, the control API's command-line front. */
#ifndef SIM_FAULT_CLI_H
#define SIM_FAULT_CLI_H

/* argv[0] is "fault". Returns the process exit code. */
int sim_fault_cli(int argc, char **argv);

#endif
