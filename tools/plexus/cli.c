/* plexus CLI: usage errors, the shared "-c FILE" parser and config loading. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int px_cli_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("plexus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n\n", stderr);
    va_end(ap);
    px_cli_usage(stderr);
    return PX_CLI_USAGE;
}

int px_cli_opt_error(const char *cmd, int ret, char **argv)
{
    const char *arg = argv[optind - 1]; /* the word getopt just refused */
    if (ret == ':')
        return px_cli_bad_usage("%s: option '%s' needs a value", cmd, arg);
    if (optopt != 0)
        return px_cli_bad_usage("%s: unknown option '-%c'", cmd, optopt);
    return px_cli_bad_usage("%s: unknown option '%s'", cmd, arg);
}

const char *px_cli_only_config(int argc, char **argv, int *rc)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    const char *file = NULL;
    int opt;
    optind = 1;
    opterr = 0; /* we say what was wrong ourselves, naming the command */
    while ((opt = getopt_long(argc, argv, ":c:", longs, NULL)) != -1) {
        if (opt != 'c') {
            *rc = px_cli_opt_error(cmd, opt, argv);
            return NULL;
        }
        file = optarg;
    }
    if (optind < argc) {
        *rc = px_cli_bad_usage("%s: unexpected argument '%s'", cmd, argv[optind]);
        return NULL;
    }
    if (file == NULL) {
        *rc = px_cli_bad_usage("%s: missing -c FILE (the YAML configuration)", cmd);
        return NULL;
    }
    return file;
}

px_config *px_cli_load_config(const char *file)
{
    px_config *cfg = NULL;
    px_err err;
    px_err_clear(&err);
    if (px_config_load(file, &cfg, &err) != PX_OK) {
        fprintf(stderr, "plexus: %s\n", err.msg);
        return NULL;
    }
    return cfg;
}
