/* plexusd: options, --help and --version (GNU style: help on stdout and exit 0; a bad
 * argument is one line on stderr, a pointer to --help, and exit 2). */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plexus/plexus.h"
#include "usage.h"

#ifndef PX_VERSION
#define PX_VERSION "unknown"
#endif

static void px__help(void)
{
    printf("Usage: plexusd -c FILE [-t | -s reload|stop]\n"
           "Run a Plexus server composed from a YAML configuration: its server: section\n"
           "names the address, codecs, protocols, filters and services, each a module\n"
           "loaded from modules.path.\n"
           "\n"
           "  -c, --config=FILE  the YAML configuration (a server: section is required)\n"
           "  -t, --test         check the configuration and exit: load every module and\n"
           "                     validate every block; prints 'configuration ok', or\n"
           "                     FILE:LINE:COL: what is wrong\n"
           "  -s, --signal=NAME  reload: the running plexusd reads FILE again; stop: it\n"
           "                     stops (as SIGTERM). Found by server.pid_file; FILE is\n"
           "                     checked first, and a FILE it would refuse is not sent\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "SIGTERM or SIGINT stop the server: calls in flight get server.shutdown_grace\n"
           "to finish. SIGHUP reloads: FILE is read again and a new server generation\n"
           "serves on the same sockets while the old one finishes its calls; a FILE it\n"
           "refuses is logged and the running one keeps serving. Directories in PLEXUS_MODULE_PATH (colon-separated)\n"
           "are searched for modules first. The log goes to stderr.\n"
           "\n"
           "Exit status: 0 stopped, or the configuration is ok; 1 the configuration or the\n"
           "start failed; 2 bad arguments.\n"
           "\n"
           "See plexusd(8), plexus.yaml(5), plexus(1) and docs/CONFIG.md.\n");
}

static void px__version(void)
{
    printf("plexusd (Plexus) %s\nmodule ABI %d.%d\n", PX_VERSION, PX_ABI_MAJOR, PX_ABI_MINOR);
}

static int px__bad(const char *fmt, ...) PX_PRINTF(1, 2);
static int px__bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("plexusd: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'plexusd --help' for more information.\n", stderr);
    return 2;
}

int px_plexusd_args_parse(int argc, char **argv, px_plexusd_args *a)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"signal", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    int opt;
    opterr = 0; /* we say what was wrong ourselves, in one line */
    while ((opt = getopt_long(argc, argv, ":c:ts:hV", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': a->file = optarg; break;
        case 't': a->test_only = 1; break;
        case 's':
            if (strcmp(optarg, "reload") != 0 && strcmp(optarg, "stop") != 0)
                return px__bad("-s takes reload or stop, not '%s'", optarg);
            a->signal = optarg;
            break;
        case 'h': px__help(); return 0;
        case 'V': px__version(); return 0;
        case ':': return px__bad("option '%s' needs a value", argv[optind - 1]);
        default: {
            const char *word = argv[optind - 1]; /* what getopt refused */
            if (strncmp(word, "--", 2) != 0)
                return px__bad("unknown option '-%c'", optopt);
            if (optopt != 0) /* a known long option given a value it does not take */
                return px__bad("option '%.*s' takes no value", (int)strcspn(word, "="), word);
            return px__bad("unknown option '%s'", word);
        }
        }
    }
    if (optind < argc)
        return px__bad("unexpected argument '%s'", argv[optind]);
    if (a->test_only && a->signal)
        return px__bad("-t and -s cannot go together");
    if (a->file == NULL)
        return px__bad("missing -c FILE (the YAML configuration)");
    return -1;
}
