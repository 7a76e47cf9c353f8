/* plexus CLI: usage errors, --help / --version, the shared "-c FILE" parser and config
 * loading. GNU style: help on stdout and exit 0; a usage error is one line on stderr
 * naming the command, a pointer to its --help, and exit 2. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef PX_VERSION
#define PX_VERSION "unknown"
#endif

static const char *px__command; /* NULL: before a subcommand was chosen */

void px_cli_set_command(const char *name)
{
    px__command = name;
}

int px_cli_version(void)
{
    printf("plexus (Plexus) %s\nmodule ABI %d.%d\n", PX_VERSION, PX_ABI_MAJOR, PX_ABI_MINOR);
    return PX_CLI_DONE;
}

int px_cli_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("plexus: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'plexus%s%s --help' for more information.\n", px__command ? " " : "",
            px__command ? px__command : "");
    return PX_CLI_USAGE;
}

int px_cli_std_option(const char *cmd, int opt, char **argv, void (*help)(void))
{
    if (opt == 'h') {
        help();
        return PX_CLI_DONE;
    }
    if (opt == 'V')
        return px_cli_version();
    const char *word = argv[optind - 1]; /* the word getopt just refused */
    if (opt == ':')
        return px_cli_bad_usage("%s: option '%s' needs a value", cmd, word);
    if (strncmp(word, "--", 2) != 0)
        return px_cli_bad_usage("%s: unknown option '-%c'", cmd, optopt);
    if (optopt != 0) /* a known long option given a value it does not take */
        return px_cli_bad_usage("%s: option '%.*s' takes no value", cmd,
                                (int)strcspn(word, "="), word);
    return px_cli_bad_usage("%s: unknown option '%s'", cmd, word);
}

const char *px_cli_only_config(int argc, char **argv, void (*help)(void), int *rc)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    const char *cmd = argv[0];
    const char *file = NULL;
    int opt;
    optind = 1;
    opterr = 0; /* we say what was wrong ourselves, naming the command */
    while ((opt = getopt_long(argc, argv, ":c:hV", longs, NULL)) != -1) {
        if (opt != 'c') {
            int r = px_cli_std_option(cmd, opt, argv, help);
            *rc = r == PX_CLI_DONE ? PX_CLI_OK : r;
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
