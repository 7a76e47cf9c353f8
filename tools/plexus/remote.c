/* plexus list / health, and what `plexus call HOST:PORT` needs: a client for one address
 * without a config file, and the method's descriptors from the server's reflection. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "px_health.pb-c.h"
#include "plexus/px_descset.h"
#include "px_reflection.pb-c.h"

#define PX_REFLECTION_SVC "plexus.reflection.v1.Reflection"
#define PX_HEALTH_SVC "plexus.health.v1.Health"

/* Whether the CLI's argument names a server rather than a service method. */
int px_cli_is_address(const char *arg)
{
    return strchr(arg, ':') != NULL && strchr(arg, '/') == NULL;
}

/* The module path of a config-less client: PLEXUS_MODULE_PATH is searched first anyway;
 * then, when the tool runs from a build tree (bin/ beside modules/), that modules/;
 * otherwise the installed module directory (no modules.path). */
static int px__exe_modules(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return 0;
    *slash = 0;
    if (snprintf(out, cap, "%s/../modules", exe) >= (int)cap)
        return 0;
    return access(out, R_OK | X_OK) == 0;
}

int px_cli_tls_option(px_cli_tls *t, int opt, const char *arg)
{
    switch (opt) {
    case PX_CLI_OPT_TLS: t->on = 1; return 1;
    case PX_CLI_OPT_CACERT: t->on = 1; t->ca = arg; return 1;
    case PX_CLI_OPT_CERT: t->on = 1; t->cert = arg; return 1;
    case PX_CLI_OPT_KEY: t->on = 1; t->key = arg; return 1;
    case PX_CLI_OPT_SERVER_NAME: t->on = 1; t->server_name = arg; return 1;
    default: return 0;
    }
}

/* `key: "PATH"` of the tls: block, PATH made absolute (the config is a temporary file
 * elsewhere, and paths in a config are relative to it). */
static int px__tls_path(FILE *f, const char *key, const char *path)
{
    char cwd[PATH_MAX] = "";
    if (path[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
        return -1;
    for (const char *p = path; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return -1;
    fprintf(f, "        %s: \"%s%s%s\"\n", key, cwd, cwd[0] ? "/" : "", path);
    return 0;
}

static int px__tls_block(FILE *f, const px_cli_tls *t)
{
    if (!t || !t->on)
        return 0;
    if (!t->ca && !t->cert && !t->key && !t->server_name) {
        fprintf(f, "      tls: {}\n"); /* TLS with every default (an empty tls: is none) */
        return 0;
    }
    fprintf(f, "      tls:\n");
    if ((t->ca && px__tls_path(f, "ca", t->ca) != 0) ||
        (t->cert && px__tls_path(f, "cert", t->cert) != 0) ||
        (t->key && px__tls_path(f, "key", t->key) != 0))
        return -1;
    if (t->server_name) {
        for (const char *p = t->server_name; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
                return -1;
        fprintf(f, "        server_name: \"%s\"\n", t->server_name);
    }
    return 0;
}

int px_cli_remote_open(px_cli_remote *r, const char *addr, const px_cli_tls *tls)
{
    *r = (px_cli_remote){0};
    for (const char *p = addr; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return px_cli_bad_usage("'%s' is not HOST:PORT", addr);
    const char *tmp = getenv("TMPDIR");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plexus-cli-XXXXXX.yaml", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 5);
    if (fd < 0) {
        fprintf(stderr, "plexus: cannot create a temporary config in %s: %m\n", path);
        return PX_CLI_FAIL;
    }
    FILE *f = fdopen(fd, "w");
    char mods[PATH_MAX];
    if (f == NULL) {
        close(fd);
        unlink(path);
        return PX_CLI_FAIL;
    }
    /* The one-endpoint upstream `plexus call -c` would read from a file, made here. */
    if (px__exe_modules(mods, sizeof mods) && strchr(mods, '"') == NULL &&
        strchr(mods, '\\') == NULL)
        fprintf(f, "modules:\n  path: [\"%s\"]\n", mods);
    fprintf(f, "client:\n  upstreams:\n    remote:\n      endpoints: [\"%s\"]\n", addr);
    int bad_tls = px__tls_block(f, tls);
    fclose(f);
    if (bad_tls) {
        unlink(path);
        return px_cli_bad_usage("a TLS file name or --server-name holds a quote, a "
                                "backslash or a control character");
    }
    px_err err;
    px_err_clear(&err);
    px_status st = px_config_load(path, &r->cfg, &err);
    unlink(path);
    if (st != PX_OK) {
        /* Its position is in a file the user never wrote: say what was wrong only. */
        const char *msg = err.msg, *p = NULL;
        if (strncmp(msg, path, strlen(path)) == 0)
            p = strstr(msg + strlen(path), ": ");
        fprintf(stderr, "plexus: %s: %s\n", addr, p != NULL ? p + 2 : msg);
        return PX_CLI_USAGE;
    }
    if (px_client_new(r->cfg, NULL, &r->client, &err) != PX_OK) {
        fprintf(stderr, "plexus: %s\n", err.msg);
        px_cli_remote_close(r);
        return PX_CLI_FAIL;
    }
    r->addr = addr;
    return PX_CLI_OK;
}

void px_cli_remote_close(px_cli_remote *r)
{
    px_descset_free(r->dyn);
    px_client_free(r->client);
    px_config_free(r->cfg);
    *r = (px_cli_remote){0};
}

/* One call to a built-in service; on failure prints why (with a hint when the server does
 * not serve the service at all) and returns the status. */
static px_status px__builtin_call(px_cli_remote *r, const char *method, const char *svc,
                                  const char *key, const ProtobufCMessage *req,
                                  const ProtobufCMessageDescriptor *out, const px_call_opts *o,
                                  ProtobufCMessage **reply, px_err *err)
{
    px_call_opts opts = o ? *o : (px_call_opts){0};
    opts.meta = NULL;
    opts.reply_meta = NULL;
    px_status st = px_call(r->client, method, req, out, &opts, reply, err);
    if (st == PX_UNIMPLEMENTED && strstr(err->msg, "unknown service") != NULL)
        fprintf(stderr, "plexus: %s does not serve %s (server.%s is false in its config): "
                        "UNIMPLEMENTED: %s\n", r->addr, svc, key, err->msg);
    else if (st != PX_OK && st != PX_NOT_FOUND)
        fprintf(stderr, "plexus: %s: %s: %s\n", method, px_status_name(st),
                err->msg[0] ? err->msg : px_status_message(st));
    return st;
}

const ProtobufCMethodDescriptor *px_cli_remote_method(px_cli_remote *r, const char *method,
                                                      const px_call_opts *opts, int *rc)
{
    const char *slash = strchr(method, '/');
    *rc = PX_CLI_USAGE;
    if (slash == NULL || slash == method || slash[1] == '\0') {
        fprintf(stderr, "plexus: '%s' is not SERVICE/METHOD (e.g. calc.Calculator/Add)\n",
                method);
        return NULL;
    }
    char svc[256];
    if ((size_t)(slash - method) >= sizeof svc) {
        fprintf(stderr, "plexus: service name too long in '%s'\n", method);
        return NULL;
    }
    memcpy(svc, method, (size_t)(slash - method));
    svc[slash - method] = 0;
    Plexus__Reflection__V1__FileDescriptorsRequest req =
        PLEXUS__REFLECTION__V1__FILE_DESCRIPTORS_REQUEST__INIT;
    req.service = svc;
    ProtobufCMessage *reply = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = px__builtin_call(r, PX_REFLECTION_SVC "/FileDescriptors", PX_REFLECTION_SVC,
                                    "reflection", &req.base,
                                    &plexus__reflection__v1__file_descriptors_reply__descriptor,
                                    opts, &reply, &err);
    *rc = PX_CLI_FAIL;
    if (st == PX_NOT_FOUND) {
        fprintf(stderr, "plexus: %s serves no service '%s' (plexus list %s shows what it "
                        "serves)\n", r->addr, svc, r->addr);
        return NULL;
    }
    if (st != PX_OK)
        return NULL;
    const Plexus__Reflection__V1__FileDescriptorsReply *files = (const void *)reply;
    st = px_descset_build(files->file, files->n_file, &r->dyn, &err);
    px_msg_free(reply);
    if (st != PX_OK) {
        fprintf(stderr, "plexus: %s's descriptors of %s: %s\n", r->addr, svc, err.msg);
        return NULL;
    }
    const ProtobufCMethodDescriptor *md = px_descset_method(r->dyn, svc, slash + 1);
    if (md == NULL) {
        fprintf(stderr, "plexus: unknown method '%s' of service %s at %s\n", slash + 1, svc,
                r->addr);
        *rc = PX_CLI_USAGE;
    }
    return md;
}

void px_cli_list_help(void)
{
    printf("Usage: plexus list [OPTION]... HOST:PORT\n"
           "Print the services the server at HOST:PORT serves, from its reflection service\n"
           "(plexus.reflection.v1.Reflection, on unless its config says\n"
           "server.reflection: false): each service, then each method as\n"
           "SERVICE/METHOD(INPUT) returns (OUTPUT).\n"
           "\n"
           "  -t, --timeout=DURATION  the call's budget: 250ms, 2s, ... (default: the\n"
           "                          timeout module's)\n"
           PX_CLI_TLS_HELP
           "  -h, --help              print this help and exit\n"
           "  -V, --version           print the version and exit\n"
           "\n"
           "Example:\n"
           "  plexus list 127.0.0.1:7101\n"
           "\n"
           "Exit status: 0 listed; 1 the server could not be asked, or serves no\n"
           "reflection; 2 bad arguments.\n");
}

void px_cli_health_help(void)
{
    printf("Usage: plexus health [OPTION]... HOST:PORT [SERVICE]\n"
           "Ask the server at HOST:PORT whether SERVICE (default: the server itself) is\n"
           "serving, through its health service (plexus.health.v1.Health, on unless its\n"
           "config says server.health: false). Prints SERVING, NOT_SERVING (its shutdown\n"
           "has begun) or UNKNOWN_SERVICE (it serves no such service).\n"
           "\n"
           "  -t, --timeout=DURATION  the call's budget: 250ms, 2s, ... (default: the\n"
           "                          timeout module's)\n"
           PX_CLI_TLS_HELP
           "  -h, --help              print this help and exit\n"
           "  -V, --version           print the version and exit\n"
           "\n"
           "Example:\n"
           "  plexus health 127.0.0.1:7101 calc.Calculator\n"
           "\n"
           "Exit status: 0 SERVING; 1 anything else (not serving, unknown service, no\n"
           "answer: the reason on stderr); 2 bad arguments.\n");
}

/* `ADDRESS [ARG]` after the command's options (--timeout); *timeout_us 0: the default. */
static int px__addr_args(int argc, char **argv, const char **addr, const char **arg,
                         int64_t *timeout_us, px_cli_tls *tls, void (*help)(void))
{
    static const struct option longs[] = {
        {"timeout", required_argument, NULL, 't'},
        PX_CLI_TLS_LONGS,
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    *tls = (px_cli_tls){0};
    const char *cmd = argv[0];
    int opt;
    optind = 1;
    opterr = 0;
    *timeout_us = 0;
    while ((opt = getopt_long(argc, argv, ":t:hV", longs, NULL)) != -1) {
        if (px_cli_tls_option(tls, opt, optarg))
            continue;
        if (opt != 't')
            return px_cli_std_option(cmd, opt, argv, help);
        const char *why = px_parse_duration(optarg, timeout_us);
        if (why != NULL || *timeout_us <= 0)
            return px_cli_bad_usage("%s: --timeout: '%s' %s", cmd, optarg,
                                    why ? why : "must be longer than 0");
    }
    if (optind >= argc)
        return px_cli_bad_usage("%s: missing HOST:PORT (the server's address)", cmd);
    *addr = argv[optind++];
    *arg = NULL;
    if (arg != NULL && optind < argc)
        *arg = argv[optind++];
    if (optind < argc)
        return px_cli_bad_usage("%s: unexpected argument '%s'", cmd, argv[optind]);
    return PX_CLI_OK;
}

int px_cli_list(int argc, char **argv)
{
    const char *addr, *extra;
    px_call_opts opts = {0};
    px_cli_tls tls;
    int rc = px__addr_args(argc, argv, &addr, &extra, &opts.timeout_us, &tls, px_cli_list_help);
    if (rc != PX_CLI_OK)
        return rc;
    if (extra != NULL)
        return px_cli_bad_usage("list: unexpected argument '%s'", extra);
    px_cli_remote r;
    if ((rc = px_cli_remote_open(&r, addr, &tls)) != PX_CLI_OK)
        return rc;
    Plexus__Reflection__V1__ListServicesRequest req =
        PLEXUS__REFLECTION__V1__LIST_SERVICES_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    px_err err;
    px_err_clear(&err);
    if (px__builtin_call(&r, PX_REFLECTION_SVC "/ListServices", PX_REFLECTION_SVC, "reflection",
                         &req.base, &plexus__reflection__v1__list_services_reply__descriptor,
                         &opts, &reply, &err) != PX_OK) {
        px_cli_remote_close(&r);
        return PX_CLI_FAIL;
    }
    const Plexus__Reflection__V1__ListServicesReply *l = (const void *)reply;
    for (size_t i = 0; i < l->n_services; i++) {
        const Plexus__Reflection__V1__ServiceInfo *s = l->services[i];
        printf("%s\n", s->name);
        for (size_t j = 0; j < s->n_methods; j++)
            printf("  %s/%s(%s) returns (%s)\n", s->name, s->methods[j]->name,
                   s->methods[j]->input_type, s->methods[j]->output_type);
    }
    px_msg_free(reply);
    px_cli_remote_close(&r);
    return PX_CLI_OK;
}

int px_cli_health(int argc, char **argv)
{
    const char *addr, *service;
    px_call_opts opts = {0};
    px_cli_tls tls;
    int rc = px__addr_args(argc, argv, &addr, &service, &opts.timeout_us, &tls,
                           px_cli_health_help);
    if (rc != PX_CLI_OK)
        return rc;
    px_cli_remote r;
    if ((rc = px_cli_remote_open(&r, addr, &tls)) != PX_CLI_OK)
        return rc;
    Plexus__Health__V1__HealthCheckRequest req = PLEXUS__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service ? service : "");
    ProtobufCMessage *reply = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = px__builtin_call(&r, PX_HEALTH_SVC "/Check", PX_HEALTH_SVC, "health",
                                    &req.base,
                                    &plexus__health__v1__health_check_response__descriptor,
                                    &opts, &reply, &err);
    rc = PX_CLI_FAIL;
    if (st == PX_NOT_FOUND) {
        printf("UNKNOWN_SERVICE\n");
        fprintf(stderr, "plexus: NOT_FOUND: %s\n", err.msg);
    } else if (st == PX_OK) {
        const Plexus__Health__V1__HealthCheckResponse *h = (const void *)reply;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &plexus__health__v1__health_check_response__serving_status__descriptor, h->status);
        printf("%s\n", v ? v->name : "UNKNOWN");
        if (h->status == PLEXUS__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING)
            rc = PX_CLI_OK;
    }
    px_msg_free(reply);
    px_cli_remote_close(&r);
    return rc;
}
