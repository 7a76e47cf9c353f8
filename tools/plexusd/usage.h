/* plexusd: its command line (usage.c), apart from the daemon so each changes alone. */
#ifndef PX_PLEXUSD_USAGE_H
#define PX_PLEXUSD_USAGE_H

typedef struct px_plexusd_args {
    const char *file; /* -c FILE */
    int test_only;    /* -t: check the configuration and exit */
    const char *signal; /* -s reload|stop: signal the running plexusd (server.pid_file) */
} px_plexusd_args;

/**
 * Reads argv GNU style. Returns -1 when plexusd should go on with *a filled, or the
 * exit status: 0 after --help or --version (printed on stdout), 2 after a bad
 * argument (one line saying what, and where to find help, on stderr).
 */
int px_plexusd_args_parse(int argc, char **argv, px_plexusd_args *a);

#endif
