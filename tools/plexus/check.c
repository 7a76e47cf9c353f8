/* plexus check -c FILE: validate a config the way plexusd -t does. */
#include <stdio.h>

#include "cli.h"

void px_cli_check_help(void)
{
    printf("Usage: plexus check -c FILE\n"
           "Check a configuration the way 'plexusd -t' does, its server and client parts:\n"
           "load every module it names and validate every block. Prints 'configuration\n"
           "ok', or FILE:LINE:COL: what is wrong.\n"
           "\n"
           "  -c, --config=FILE  the YAML configuration\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "Exit status: 0 the configuration is ok; 1 it is not; 2 bad arguments.\n");
}

int px_cli_check(int argc, char **argv)
{
    int rc = PX_CLI_OK;
    const char *file = px_cli_only_config(argc, argv, px_cli_check_help, &rc);
    if (file == NULL)
        return rc;
    /* Loading checks the schema, loads every module and validates its block. */
    px_config *cfg = px_cli_load_config(file);
    if (cfg == NULL)
        return PX_CLI_FAIL;
    printf("configuration ok\n");
    px_config_free(cfg);
    return PX_CLI_OK;
}
