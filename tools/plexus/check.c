/* plexus check -c FILE: validate a config the way plexusd -t does. */
#include <stdio.h>

#include "cli.h"

int px_cli_check(int argc, char **argv)
{
    int rc = PX_CLI_OK;
    const char *file = px_cli_only_config(argc, argv, &rc);
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
