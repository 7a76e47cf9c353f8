/* plexus call: JSON in, one remote call by method name, the reply as JSON out. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct px__call_args {
    const char *file;
    const char *addr;     /* HOST:PORT instead of -c FILE: descriptors by reflection */
    const char *upstream; /* NULL: the config's only upstream */
    const char *method;   /* "package.Service/Method" */
    const char *json;
    px_call_opts opts;
    px_meta *meta;       /* -H KEY=VALUE, in order */
    int async;
    px_cli_tls tls;      /* HOST:PORT over TLS */
} px__call_args;

void px_cli_call_help(void)
{
    printf("Usage: plexus call -c FILE [OPTION]... SERVICE/METHOD [JSON]\n"
           "  or:  plexus call [OPTION]... HOST:PORT SERVICE/METHOD [JSON]\n"
           "Call one method of a service named in the configuration's client.descriptors,\n"
           "or, given a server's address instead of -c FILE, as the server's reflection\n"
           "service describes it (no configuration, .proto or service module needed; the\n"
           "JSON and protobuf codecs and the default upstream modules are loaded from the\n"
           "module path). The request is JSON (default {}); the reply is printed as JSON\n"
           "on stdout.\n"
           "\n"
           "  -c, --config=FILE       the client configuration\n"
           "  -u, --upstream=NAME     the upstream under client.upstreams (default: the\n"
           "                          only one)\n"
           "  -t, --timeout=DURATION  overrides the timeout module's budget: 250ms, 2s, ...\n"
           "      --async             go through the async client (px_call_wait), not the\n"
           "                          blocking pool\n"
           "  -H, --header=KEY=VALUE  request metadata, repeatable, sent in order; keys are\n"
           "                          lowercase a-z 0-9 - _ .; a KEY ending in -bin takes\n"
           "                          hex digits (00ff) or @FILE. The response metadata is\n"
           "                          printed on stderr as 'key: value' lines (-bin values\n"
           "                          in hex)\n"
           "With HOST:PORT:\n"
           PX_CLI_TLS_HELP
           "  -h, --help              print this help and exit\n"
           "  -V, --version           print the version and exit\n"
           "\n"
           "Examples:\n"
           "  plexus call -c conf/client.yaml calc.Calculator/Add '{\"a\":2,\"b\":3}'\n"
           "  plexus call -c conf/client.yaml -H tenant=blue calc.Calculator/Echo '{}'\n"
           "  plexus call 127.0.0.1:7101 calc.Calculator/Add '{\"a\":2,\"b\":3}'\n"
           "\n"
           "Exit status: 0 the call succeeded; 1 it failed ('STATUS: message' on stderr) or\n"
           "the configuration did not load; 2 bad arguments, an unknown upstream or method,\n"
           "or bad JSON.\n");
}

static int px__parse_args(int argc, char **argv, px__call_args *a)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"upstream", required_argument, NULL, 'u'},
        {"timeout", required_argument, NULL, 't'},
        {"async", no_argument, NULL, 'a'},
        {"header", required_argument, NULL, 'H'},
        PX_CLI_TLS_LONGS,
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    if ((a->meta = px_meta_new()) == NULL)
        return px_cli_bad_usage("call: out of memory");
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:u:t:H:hV", longs, NULL)) != -1) {
        if (px_cli_tls_option(&a->tls, opt, optarg))
            continue;
        switch (opt) {
        case 'c': a->file = optarg; break;
        case 'H': {
            int rc = px_cli_meta_arg(a->meta, optarg);
            if (rc != PX_CLI_OK)
                return rc;
            break;
        }
        case 'u': a->upstream = optarg; break;
        case 'a': a->async = 1; break;
        case 't': {
            const char *why = px_parse_duration(optarg, &a->opts.timeout_us);
            if (why != NULL)
                return px_cli_bad_usage("call: --timeout: '%s' %s", optarg, why);
            if (a->opts.timeout_us <= 0)
                return px_cli_bad_usage("call: --timeout: '%s' must be longer than 0", optarg);
            break;
        }
        default: return px_cli_std_option("call", opt, argv, px_cli_call_help);
        }
    }
    if (a->file == NULL && optind < argc && px_cli_is_address(argv[optind]))
        a->addr = argv[optind++];
    if (a->file == NULL && a->addr == NULL)
        return px_cli_bad_usage("call: missing -c FILE (the client configuration) or "
                                "HOST:PORT (a server with reflection)");
    if (a->addr != NULL && a->upstream != NULL)
        return px_cli_bad_usage("call: -u names an upstream of a -c FILE, not of HOST:PORT");
    if (a->file != NULL && a->tls.on)
        return px_cli_bad_usage("call: --tls, --cacert, --cert, --key and --server-name are "
                                "for HOST:PORT; with -c FILE the upstream's tls: block says");
    if (optind >= argc)
        return px_cli_bad_usage("call: missing SERVICE/METHOD, e.g. calc.Calculator/Add");
    a->method = argv[optind++];
    a->json = optind < argc ? argv[optind++] : "{}";
    if (optind < argc)
        return px_cli_bad_usage("call: unexpected argument '%s' after the JSON request "
                                "(quote the JSON as one argument)", argv[optind]);
    return PX_CLI_OK;
}

/* The file module m came from (for messages). */
static const char *px__module_path(const px_config *cfg, const px_module *m)
{
    for (size_t i = 0; i < px_config_module_count(cfg); i++) {
        const char *path = NULL;
        if (px_config_module(cfg, i, &path) == m)
            return path;
    }
    return "?";
}

/* Every "package.Service/Method" the config's descriptors offer, for error messages. */
static void px__list_methods(const px_config *cfg)
{
    fprintf(stderr, "known methods (client.descriptors of %s):\n", px_config_file(cfg));
    for (size_t i = 0; i < px_config_descriptor_count(cfg); i++) {
        const px_module *mod = NULL;
        const ProtobufCServiceDescriptor *sd = px_config_descriptor(cfg, i, &mod);
        if (sd == NULL) {
            fprintf(stderr, "  (service module '%s' from %s carries no .proto descriptor: "
                            "its px_service_ops.descriptor is NULL)\n",
                    mod->name, px__module_path(cfg, mod));
            continue;
        }
        for (unsigned m = 0; m < sd->n_methods; m++)
            fprintf(stderr, "  %s/%s\n", sd->name, sd->methods[m].name);
    }
}

const ProtobufCMethodDescriptor *px_cli_find_method(const px_config *cfg, const char *method)
{
    const char *slash = strchr(method, '/');
    if (slash == NULL || slash == method || slash[1] == '\0') {
        fprintf(stderr, "plexus: '%s' is not SERVICE/METHOD (e.g. calc.Calculator/Add)\n",
                method);
        return NULL;
    }
    if (px_config_descriptor_count(cfg) == 0) {
        fprintf(stderr,
                "plexus: %s: no client.descriptors: name the SERVICE modules whose methods "
                "you call (e.g. descriptors: [calc])\n",
                px_config_file(cfg));
        return NULL;
    }
    size_t svc_len = (size_t)(slash - method);
    const ProtobufCServiceDescriptor *svc = NULL;
    for (size_t i = 0; i < px_config_descriptor_count(cfg) && svc == NULL; i++) {
        const ProtobufCServiceDescriptor *sd = px_config_descriptor(cfg, i, NULL);
        if (sd != NULL && strlen(sd->name) == svc_len && strncmp(sd->name, method, svc_len) == 0)
            svc = sd;
    }
    const ProtobufCMethodDescriptor *md =
        svc ? protobuf_c_service_descriptor_get_method_by_name(svc, slash + 1) : NULL;
    if (md != NULL)
        return md;
    if (svc == NULL)
        fprintf(stderr, "plexus: unknown service '%.*s'\n", (int)svc_len, method);
    else
        fprintf(stderr, "plexus: unknown method '%s' of service %s\n", slash + 1, svc->name);
    px__list_methods(cfg);
    return NULL;
}

int px_cli_json_codec_open(px_config *cfg, px_cli_codec *c)
{
    px_err err;
    px_err_clear(&err);
    memset(c, 0, sizeof *c);
    if (px_codec_open(cfg, "json", "plexus call", &c->h, &err) != PX_OK) {
        fprintf(stderr, "plexus: cannot load the JSON codec: %s\n", err.msg);
        return -1;
    }
    c->ops = px_codec_handle_ops(c->h);
    c->state = px_codec_handle_state(c->h);
    return 0;
}

void px_cli_json_codec_close(px_cli_codec *c)
{
    px_codec_close(c->h);
    memset(c, 0, sizeof *c);
}

/* Makes the call; prints the reply as JSON, or "STATUS: message". */
static int px__run(px_client *client, const px__call_args *a,
                   const ProtobufCMethodDescriptor *md, const px_cli_codec *codec,
                   const ProtobufCMessage *req)
{
    px_err err;
    px_err_clear(&err);
    ProtobufCMessage *reply = NULL;
    px_meta *reply_meta = px_meta_new();
    px_call_opts opts = a->opts;
    opts.meta = a->meta;
    opts.reply_meta = reply_meta;
    px_status st = a->async
                       ? px_call_wait(client, a->method, req, md->output, &opts, &reply, &err)
                       : px_call(client, a->method, req, md->output, &opts, &reply, &err);
    /* The response metadata, also of an error, goes to stderr before the outcome. */
    px_cli_meta_print(reply_meta, stderr);
    px_meta_free(reply_meta);
    int rc = PX_CLI_OK;
    if (st != PX_OK) {
        fprintf(stderr, "%s: %s\n", px_status_name(st),
                err.msg[0] ? err.msg : px_status_message(st));
        rc = PX_CLI_FAIL;
    } else {
        px_buf out = {0};
        if (codec->ops->encode(codec->state, reply, &out, &err) != PX_OK) {
            fprintf(stderr, "plexus: cannot print the %s reply as JSON: %s\n",
                    md->output->name, err.msg);
            rc = PX_CLI_FAIL;
        } else {
            printf("%.*s\n", (int)out.len, (const char *)out.data);
        }
        px_buf_free(&out);
    }
    px_msg_free(reply);
    return rc;
}

/* -c FILE: the method from client.descriptors, a client of the config's upstream. */
static int px__call_config(const px__call_args *a)
{
    px_cli_request r;
    int rc = px_cli_request_open(&r, a->file, a->method, a->json);
    if (rc != PX_CLI_OK)
        return rc;
    px_err err;
    px_err_clear(&err);
    px_client *client = NULL;
    if (px_client_new(r.cfg, a->upstream, &client, &err) != PX_OK) {
        fprintf(stderr, "plexus: %s\n", err.msg);
        rc = PX_CLI_USAGE;
    } else {
        rc = px__run(client, a, r.md, &r.json, r.req);
        px_client_free(client);
    }
    px_cli_request_close(&r);
    return rc;
}

/* HOST:PORT: the method described by the server's reflection, messages built at run time. */
static int px__call_addr(const px__call_args *a)
{
    px_cli_remote r;
    int rc = px_cli_remote_open(&r, a->addr, &a->tls);
    if (rc != PX_CLI_OK)
        return rc;
    const ProtobufCMethodDescriptor *md = px_cli_remote_method(&r, a->method, &a->opts, &rc);
    px_cli_codec json;
    if (md != NULL && px_cli_json_codec_open(r.cfg, &json) == 0) {
        px_err err;
        px_err_clear(&err);
        ProtobufCMessage *req = NULL;
        if (json.ops->decode(json.state, md->input, (const uint8_t *)a->json, strlen(a->json),
                             &req, &err) != PX_OK) {
            fprintf(stderr, "plexus: bad JSON for %s: %s\n", md->input->name, err.msg);
            rc = PX_CLI_USAGE;
        } else {
            rc = px__run(r.client, a, md, &json, req);
            protobuf_c_message_free_unpacked(req, NULL);
        }
        px_cli_json_codec_close(&json);
    } else if (md != NULL) {
        rc = PX_CLI_FAIL;
    }
    px_cli_remote_close(&r);
    return rc;
}

int px_cli_request_method(px_cli_request *r, const char *file, const char *method)
{
    *r = (px_cli_request){0};
    r->cfg = px_cli_load_config(file);
    if (r->cfg == NULL)
        return PX_CLI_FAIL;
    r->md = px_cli_find_method(r->cfg, method);
    if (r->md == NULL || px_cli_json_codec_open(r->cfg, &r->json) != 0) {
        int rc = r->md == NULL ? PX_CLI_USAGE : PX_CLI_FAIL;
        px_config_free(r->cfg);
        r->cfg = NULL;
        return rc;
    }
    return PX_CLI_OK;
}

int px_cli_request_decode(px_cli_request *r, const char *json)
{
    px_err err;
    px_err_clear(&err);
    if (r->json.ops->decode(r->json.state, r->md->input, (const uint8_t *)json, strlen(json),
                            &r->req, &err) != PX_OK) {
        fprintf(stderr, "plexus: bad JSON for %s: %s\n", r->md->input->name, err.msg);
        r->req = NULL;
        return PX_CLI_USAGE;
    }
    return PX_CLI_OK;
}

int px_cli_request_open(px_cli_request *r, const char *file, const char *method, const char *json)
{
    int rc = px_cli_request_method(r, file, method);
    if (rc == PX_CLI_OK && (rc = px_cli_request_decode(r, json)) != PX_CLI_OK)
        px_cli_request_close(r);
    return rc;
}

void px_cli_request_close(px_cli_request *r)
{
    if (r->req != NULL)
        protobuf_c_message_free_unpacked(r->req, NULL);
    if (r->cfg != NULL) {
        px_cli_json_codec_close(&r->json);
        px_config_free(r->cfg);
    }
    *r = (px_cli_request){0};
}

int px_cli_call(int argc, char **argv)
{
    px__call_args a;
    int rc = px__parse_args(argc, argv, &a);
    if (rc == PX_CLI_OK)
        rc = a.addr != NULL ? px__call_addr(&a) : px__call_config(&a);
    px_meta_free(a.meta);
    return rc;
}
