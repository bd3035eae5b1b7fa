/* cli_cmds.h - the entry points of the clmlp subcommands; argv[0] is the subcommand's name. */
#ifndef CLMLP_CLI_CMDS_H
#define CLMLP_CLI_CMDS_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_vanish(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
