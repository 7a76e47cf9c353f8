/* plexus CLI: what the subcommands share (exit codes, usage errors, config loading). */
#ifndef PLEXUS_CLI_H
#define PLEXUS_CLI_H

#include <stdio.h>
#include "plexus/plexus.h"

/* Exit statuses: done, the operation failed, bad usage or bad input. PX_CLI_DONE is
 * not one: an option parser's "--help or --version was printed: exit 0 now". */
enum { PX_CLI_OK = 0, PX_CLI_FAIL = 1, PX_CLI_USAGE = 2, PX_CLI_DONE = -1 };

/* Each subcommand gets argv from its own name on (argv[0] = "call", ...). */
int px_cli_call(int argc, char **argv);
int px_cli_modules(int argc, char **argv);
int px_cli_check(int argc, char **argv);
int px_cli_bench(int argc, char **argv);
int px_cli_list(int argc, char **argv);
int px_cli_health(int argc, char **argv);
int px_cli_token_hash(int argc, char **argv);
int px_cli_stats(int argc, char **argv);

/* Each subcommand's --help text, on stdout (GNU style). */
void px_cli_call_help(void);
void px_cli_bench_help(void);
void px_cli_check_help(void);
void px_cli_modules_help(void);
void px_cli_list_help(void);
void px_cli_health_help(void);
void px_cli_token_hash_help(void);
void px_cli_stats_help(void);

/** The subcommand running ("call", ...): usage errors point at its --help (main.c). */
void px_cli_set_command(const char *name);

/** Prints "plexus (Plexus) VERSION" and the module ABI on stdout; returns PX_CLI_DONE. */
int px_cli_version(void);

/**
 * Prints "plexus: <what was wrong>" and "Try 'plexus [COMMAND] --help' for more
 * information." on stderr; returns PX_CLI_USAGE.
 */
int px_cli_bad_usage(const char *fmt, ...) PX_PRINTF(1, 2);

/**
 * The options every subcommand takes, for its getopt_long table (values 'h', 'V'),
 * and what to do with them: opt 'h' prints help(), 'V' the version; both return
 * PX_CLI_DONE. Any other opt is one getopt_long refused ('?' or ':', with a leading
 * ':' in optstring): says which option and why; returns PX_CLI_USAGE.
 */
#define PX_CLI_STD_LONGS {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'}
int px_cli_std_option(const char *cmd, int opt, char **argv, void (*help)(void));

/**
 * The "-c FILE" of commands that take nothing else (modules, check). Returns the
 * file, or NULL after --help / --version (*rc = PX_CLI_OK) or reporting the problem
 * (*rc set to the exit status).
 */
const char *px_cli_only_config(int argc, char **argv, void (*help)(void), int *rc);

/** Loads a config; on failure prints "plexus: FILE:LINE:COL: ..." and returns NULL. */
px_config *px_cli_load_config(const char *file);

/** The JSON codec, instantiated from the config's loader (same module path). */
typedef struct px_cli_codec {
    px_codec_handle *h;
    const px_codec_ops *ops;
    void *state;
} px_cli_codec;

/** Opens the JSON codec with its defaults (call.c); 0, or -1 after printing why. */
int px_cli_json_codec_open(px_config *cfg, px_cli_codec *c);
void px_cli_json_codec_close(px_cli_codec *c);

/**
 * The descriptor of "package.Service/Method" among the config's client.descriptors
 * (call.c); NULL after printing why on stderr, with the known methods.
 */
const ProtobufCMethodDescriptor *px_cli_find_method(const px_config *cfg, const char *method);

/** What `call` and `bench` start from: the config, the method, and its request decoded
 *  from the JSON argument with the config's JSON codec. */
typedef struct px_cli_request {
    px_config *cfg;
    const ProtobufCMethodDescriptor *md;
    px_cli_codec json;
    ProtobufCMessage *req;
} px_cli_request;

/** PX_CLI_OK, or the exit status after printing why (nothing is left open then). */
int px_cli_request_open(px_cli_request *r, const char *file, const char *method, const char *json);
/** Its two steps: the config, the method and the codec (nothing left open on failure);
 *  then the JSON decoded into r->req (on failure r stays open, r->req NULL). */
int px_cli_request_method(px_cli_request *r, const char *file, const char *method);
int px_cli_request_decode(px_cli_request *r, const char *json);
void px_cli_request_close(px_cli_request *r);

/** One -H KEY=VALUE of `call` added to m (call_meta.c): text, or for a KEY ending in
 *  -bin hex digits or @FILE. PX_CLI_OK, or PX_CLI_USAGE after printing why. */
int px_cli_meta_arg(px_meta *m, const char *arg);
/** m as "key: value" lines (binary values in hex). */
void px_cli_meta_print(const px_meta *m, FILE *to);

/** A client for one server address with no config file (remote.c): `plexus list`,
 *  `plexus health`, `plexus call HOST:PORT`. */
typedef struct px_cli_remote {
    const char *addr;
    px_config *cfg;     /* made for the address: its one upstream, default modules */
    px_client *client;
    struct px_descset *dyn; /* the descriptors reflection gave (px_cli_remote_method) */
} px_cli_remote;

/** TLS to a HOST:PORT (--tls, --cacert, --cert, --key, --server-name): what an
 *  upstream's tls: block says, for the config-less client. */
typedef struct px_cli_tls {
    int on;
    const char *ca, *cert, *key, *server_name;
} px_cli_tls;

enum { PX_CLI_OPT_TLS = 0x100, PX_CLI_OPT_CACERT, PX_CLI_OPT_CERT, PX_CLI_OPT_KEY,
       PX_CLI_OPT_SERVER_NAME };
#define PX_CLI_TLS_LONGS                                                                 \
    {"tls", no_argument, NULL, PX_CLI_OPT_TLS},                                          \
        {"cacert", required_argument, NULL, PX_CLI_OPT_CACERT},                          \
        {"cert", required_argument, NULL, PX_CLI_OPT_CERT},                              \
        {"key", required_argument, NULL, PX_CLI_OPT_KEY},                                \
        {"server-name", required_argument, NULL, PX_CLI_OPT_SERVER_NAME}
/** The TLS options' lines of a --help. */
#define PX_CLI_TLS_HELP                                                                  \
    "      --tls               TLS 1.3 to HOST:PORT, the server's certificate checked\n"  \
    "                          against the system's CAs and HOST\n"                        \
    "      --cacert=FILE       TLS, with the server's certificate checked against the\n"  \
    "                          CAs in FILE (PEM)\n"                                        \
    "      --cert=FILE, --key=FILE  a client certificate and its key (mTLS)\n"            \
    "      --server-name=NAME  the name sent (SNI) and checked instead of HOST\n"
/** Takes opt when it is a TLS option: 1, else 0. */
int px_cli_tls_option(px_cli_tls *t, int opt, const char *arg);

/** Whether a CLI argument is HOST:PORT rather than SERVICE/METHOD. */
int px_cli_is_address(const char *arg);
/** PX_CLI_OK, or the exit status after printing why. */
int px_cli_remote_open(px_cli_remote *r, const char *addr, const px_cli_tls *tls);
void px_cli_remote_close(px_cli_remote *r);
/** "package.Service/Method" described by the server's reflection service, built at run
 *  time (valid until px_cli_remote_close); NULL after printing why, *rc the exit status. */
const ProtobufCMethodDescriptor *px_cli_remote_method(px_cli_remote *r, const char *method,
                                                      const px_call_opts *opts, int *rc);

/** plexus bench -c FILE ... SERVICE/METHOD JSON: the RPC load generator (bench_rpc.c). */
int px_cli_bench_rpc(int argc, char **argv);

#endif
