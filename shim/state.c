/* The process-wide state every hook reads (state.h); init.c fills it in,
 * once, at the first hook or in the constructor. */
#include "state.h"

int socktune_mode = ST_MODE_UNSTARTED;
struct st_config socktune_cfg;
const char *socktune_prog = "?";
pid_t socktune_pid;
