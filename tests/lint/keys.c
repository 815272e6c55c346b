/* Prints the table of configuration keys (config/keys.def), one a line:
 * where the key goes (global, option or match), its name, and its variable
 * or "-".  tests/lint/keys.sh holds the man pages against it. */
#include "config.h"

#include <stdio.h>

int main(void)
{
	for (const struct st_key *k = socktune_keys; k->name; k++)
		printf("%s %s %s\n",
		       k->kind == ST_KEY_GLOBAL   ? "global"
		       : k->kind == ST_KEY_OPTION ? "option"
						  : "match",
		       k->name, k->env ? k->env : "-");
	return 0;
}
