/* plexus: the command-line tool; dispatches to one file per subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct px__cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    void (*help)(void);
} px__cmd;

static const px__cmd px__cmds[] = {
    {"call", px_cli_call, px_cli_call_help},
    {"list", px_cli_list, px_cli_list_help},
    {"health", px_cli_health, px_cli_health_help},
    {"bench", px_cli_bench, px_cli_bench_help},
    {"check", px_cli_check, px_cli_check_help},
    {"modules", px_cli_modules, px_cli_modules_help},
    {"token-hash", px_cli_token_hash, px_cli_token_hash_help},
    {"stats", px_cli_stats, px_cli_stats_help},
};
#define PX__N_CMDS (sizeof px__cmds / sizeof px__cmds[0])

static void px__help(void)
{
    printf("Usage: plexus COMMAND [OPTION]... [ARG]...\n"
           "  or:  plexus --help | --version\n"
           "The Plexus command-line tool: call a service, load it, check a configuration.\n"
           "\n"
           "Commands:\n"
           "  call     call one method: the request as JSON in, the reply as JSON out\n"
           "  list     the services and methods a server serves (its reflection)\n"
           "  health   whether a server, or one of its services, is serving\n"
           "  bench    RPC load (calls/s, latency, failures by status), or codec timings\n"
           "  check    check a configuration the way 'plexusd -t' does\n"
           "  modules  list the modules a configuration loads and the keys each accepts\n"
           "  token-hash  the auth_token file line for a token (stdin, or --generate)\n"
           "  stats    calls, errors, rates and latency of every method, from an admin port\n"
           "  help     this text; 'plexus help COMMAND' is 'plexus COMMAND --help'\n"
           "\n"
           "  -h, --help     print this help and exit\n"
           "  -V, --version  print the version and exit\n"
           "\n"
           "Run 'plexus COMMAND --help' for the options of a command.\n"
           "\n"
           "Exit status: 0 done; 1 the operation failed (call: 'STATUS: message' on\n"
           "stderr); 2 bad arguments or bad input.\n"
           "\n"
           "See plexus(1), plexusd(8) and plexus.yaml(5).\n");
}

static const px__cmd *px__find(const char *name)
{
    for (size_t i = 0; i < PX__N_CMDS; i++)
        if (strcmp(px__cmds[i].name, name) == 0)
            return &px__cmds[i];
    return NULL;
}

#define PX__KNOWN "call, list, health, bench, check, modules, token-hash, stats, help"

int main(int argc, char **argv)
{
    /* A server that closes mid-write must surface as a status, not kill the tool. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2)
        return px_cli_bad_usage("missing COMMAND (" PX__KNOWN ")");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        px__help();
        return PX_CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        px_cli_version();
        return PX_CLI_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            px__help();
            return PX_CLI_OK;
        }
        const px__cmd *c = px__find(argv[2]);
        if (c == NULL)
            return px_cli_bad_usage("help: unknown command '%s' (" PX__KNOWN ")", argv[2]);
        c->help();
        return PX_CLI_OK;
    }
    if (cmd[0] == '-')
        return px_cli_bad_usage("unknown option '%s' (a COMMAND comes first: " PX__KNOWN ")",
                                cmd);
    const px__cmd *c = px__find(cmd);
    if (c == NULL)
        return px_cli_bad_usage("unknown command '%s' (" PX__KNOWN ")", cmd);
    px_cli_set_command(c->name);
    int rc = c->run(argc - 1, argv + 1);
    return rc == PX_CLI_DONE ? PX_CLI_OK : rc;
}
