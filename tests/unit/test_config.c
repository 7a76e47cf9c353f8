/* Unit tests of px_config_load: the schema, defaults, module loading and every error's position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "plexus/px_filter.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "px_config_int.h"
#include "px_moduledir.h"

typedef struct fx {
    char dir[64];
    char path[128];
    char moddir[1024]; /* PX_MODULE_DIR, or "" when unset */
    px_config *cfg;
    px_err err;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/px_config_XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/plexus.yaml", f->dir);
    const char *m = getenv("PX_MODULE_DIR");
    snprintf(f->moddir, sizeof f->moddir, "%s", m ? m : "");
    /* Tests control the search path themselves. */
    unsetenv("PLEXUS_MODULE_PATH");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    px_config_free(f->cfg);
    unlink(f->path);
    char link[160];
    snprintf(link, sizeof link, "%s/mods", f->dir);
    unlink(link);
    rmdir(f->dir);
    unsetenv("PLEXUS_MODULE_PATH");
    free(f);
    return 0;
}

/* Writes the fixture, with every "@MODS@" replaced by the module directory. */
static void write_conf(fx *f, const char *text)
{
    FILE *out = fopen(f->path, "w");
    assert_non_null(out);
    for (const char *p = text; *p;) {
        if (strncmp(p, "@MODS@", 6) == 0) {
            fputs(f->moddir, out);
            p += 6;
        } else {
            fputc(*p++, out);
        }
    }
    fclose(out);
}

static px_status load(fx *f, const char *text)
{
    px_config_free(f->cfg);
    f->cfg = NULL;
    px_err_clear(&f->err);
    write_conf(f, text);
    return px_config_load(f->path, &f->cfg, &f->err);
}

/* Expects failure with msg, where "%s" stands for the config file's path. */
static void expect_fail(fx *f, const char *text, px_status st, const char *msg)
{
    assert_int_equal(load(f, text), st);
    assert_null(f->cfg);
    assert_int_equal(f->err.status, st);
    char want[1024];
    snprintf(want, sizeof want, msg, f->path);
    assert_string_equal(f->err.msg, want);
}

/* Skips (only) when a module the test loads has not been built. */
static void need_modules(fx *f, const char *const *files)
{
    if (f->moddir[0] == '\0') {
        print_message("PX_MODULE_DIR is not set\n");
        skip();
    }
    for (size_t i = 0; files[i]; i++) {
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", f->moddir, files[i]);
        if (access(p, R_OK) != 0) {
            print_message("%s is not built yet\n", p);
            skip();
        }
    }
}

static const char *const std_mods[] = {"codec_protobuf.so", "lb_random.so",
                                       "failover_failfast.so", "timeout_fixed.so", NULL};

/* The int64 a module's directive stored in a modref's conf. */
static int64_t conf_i64(const px_modref *ref, const char *name)
{
    for (const px_directive *d = ref->mod->directives; d && d->name; d++) {
        if (strcmp(d->name, name) == 0) {
            int64_t v;
            memcpy(&v, (const char *)ref->conf + d->offset, sizeof v);
            return v;
        }
    }
    fail_msg("module %s has no directive %s", ref->mod->name, name);
    return 0;
}

/* ---- file and top level ---- */

static void test_missing_file(void **state)
{
    fx *f = *state;
    px_config *cfg = (px_config *)1;
    assert_int_equal(px_config_load(f->path, &cfg, &f->err), PX_NOT_FOUND);
    assert_null(cfg);
    char want[256];
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", f->path);
    assert_string_equal(f->err.msg, want);
}

static void test_top_level(void **state)
{
    fx *f = *state;
    expect_fail(f, "server:\n  listen: 1.2.3.4:5\n   id: x\n", PX_INVALID_ARGUMENT,
                "%s:3:6: mapping values are not allowed in this context");
    expect_fail(f, "", PX_INVALID_ARGUMENT,
                "%s: the file is empty (it needs a server: or a client: section)");
    expect_fail(f, "- server\n", PX_INVALID_ARGUMENT,
                "%s:1:1: expected a mapping with server: and/or client: at the top, got a "
                "sequence");
    expect_fail(f, "modules:\n  path: [x]\nsever:\n  listen: 1.2.3.4:5\n", PX_INVALID_ARGUMENT,
                "%s:3:1: unknown key 'sever' (accepted: modules, server, client, admin)");
    expect_fail(f, "modules:\n  path: [x]\n", PX_INVALID_ARGUMENT,
                "%s:1:1: needs a server: or a client: section (or both)");
    expect_fail(f, "server:\n  listen: 1.2.3.4:5\nserver:\n  listen: 1.2.3.4:6\n",
                PX_INVALID_ARGUMENT, "%s:3:1: duplicate key 'server' (first defined at 1:1)");
    expect_fail(f, "base: &b 1\nserver: *b\n", PX_INVALID_ARGUMENT,
                "%s:2:9: aliases are not supported (*b): write the value out");
}

static void test_modules_section(void **state)
{
    fx *f = *state;
    expect_fail(f, "modules:\n  paths: [x]\nserver:\n  listen: 1.2.3.4:5\n", PX_INVALID_ARGUMENT,
                "%s:2:3: modules: unknown key 'paths' (accepted: path)");
    expect_fail(f, "modules:\n  path: {a: 1}\nserver:\n  listen: 1.2.3.4:5\n",
                PX_INVALID_ARGUMENT,
                "%s:2:9: modules.path: expected a list of directories, got a mapping");
    expect_fail(f, "modules:\n  path: [a, [b]]\nserver:\n  listen: 1.2.3.4:5\n",
                PX_INVALID_ARGUMENT, "%s:2:13: modules.path[1]: expected a directory");
    expect_fail(f, "modules: [a]\nserver:\n  listen: 1.2.3.4:5\n", PX_INVALID_ARGUMENT,
                "%s:1:10: modules: expected a mapping, got a sequence");
}

/* ---- server keys checked before any module is loaded ---- */

static void test_server_errors(void **state)
{
    fx *f = *state;
    expect_fail(f, "server:\n  io_threads: 2\n", PX_INVALID_ARGUMENT,
                "%s:2:3: server: missing required key 'listen'");
    expect_fail(f, "server:\n", PX_INVALID_ARGUMENT,
                "%s:1:8: server: missing required key 'listen'");
    expect_fail(f, "server:\n  listen: 127.0.0.1\n", PX_INVALID_ARGUMENT,
                "%s:2:11: server.listen: '127.0.0.1': expected host:port, e.g. 127.0.0.1:7101, "
                "[::1]:7101 or localhost:7101");
    expect_fail(f, "server:\n  listen: 127.0.0.1:70000\n", PX_INVALID_ARGUMENT,
                "%s:2:11: server.listen: '127.0.0.1:70000': port '70000' is not a number in "
                "0..65535");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  io_threads: 65\n", PX_OUT_OF_RANGE,
                "%s:3:15: server.io_threads: 65 is out of range (1..64)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  io_threads: two\n",
                PX_INVALID_ARGUMENT, "%s:3:15: server.io_threads: 'two' is not an integer");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  io_threads: {n: 2}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:15: server.io_threads: expected an integer, got a mapping");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  shutdown_grace: 10 s\n",
                PX_INVALID_ARGUMENT,
                "%s:3:19: server.shutdown_grace: '10 s' is not a duration (use e.g. 250ms, 5s)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  port: 1\n", PX_INVALID_ARGUMENT,
                "%s:3:3: server: unknown key 'port' (accepted: codecs, filters, protocols, services, limits, tls, "
                "listeners, register, listen, id, io_threads, processes, shutdown_grace, pid_file, reflection, health)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  listeners:\n    - listen: 127.0.0.1:7102\n"
                   "      protocols: [grpc]\n",
                PX_INVALID_ARGUMENT,
                "%s:5:19: server.listeners[0].protocols[0]: 'grpc' is not one of server.protocols "
                "[native] (a listener serves some of the server's protocols)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  listeners:\n    - listen: 127.0.0.1:7101\n",
                PX_INVALID_ARGUMENT,
                "%s:4:15: server.listeners[0].listen: '127.0.0.1:7101' is already a listener of "
                "this server");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  listeners:\n    - port: 1\n",
                PX_INVALID_ARGUMENT,
                "%s:4:7: server.listeners[0]: unknown key 'port' (accepted: protocols, tls, listen)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_frame: 4 megs}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:23: server.limits.max_frame: '4 megs' is not a size (use e.g. 1024, 64KB, "
                "512KiB, 4MiB, 1GiB)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_frame: 2GiB}\n",
                PX_OUT_OF_RANGE,
                "%s:3:23: server.limits.max_frame: 2GiB is out of range (1KiB..1GiB)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_frames: 1MiB}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:12: server.limits: unknown key 'max_frames' (accepted: max_frame, max_meta, "
                "max_inflight_per_conn, idle_timeout, "
                "max_connections, handshake_timeout, read_timeout, max_conn_memory, "
                "max_server_memory, max_decode_expansion)");
    /* The memory budgets: a connection must hold two whole frames, the server one
     * connection's budget. */
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_frame: 8MiB, "
                   "max_conn_memory: 8MiB}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:46: server.limits.max_conn_memory: 8388608 bytes is less than two frames "
                "of max_frame + max_meta (16809984 bytes): a large request could never be read");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_conn_memory: 32MiB, "
                   "max_server_memory: 16MiB}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:55: server.limits.max_server_memory: 16777216 bytes is less than "
                "max_conn_memory (33554432 bytes)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  limits: {max_decode_expansion: 0}\n",
                PX_OUT_OF_RANGE,
                "%s:3:34: server.limits.max_decode_expansion: 0 is out of range (1..1000)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  codecs: protobuf\n", PX_INVALID_ARGUMENT,
                "%s:3:11: server.codecs: expected a list of codec names, got a scalar");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  codecs: []\n", PX_INVALID_ARGUMENT,
                "%s:3:11: server.codecs: needs at least one codec");
}

static void test_client_errors(void **state)
{
    fx *f = *state;
    expect_fail(f, "client:\n  io_threads: 1\n", PX_INVALID_ARGUMENT,
                "%s:2:3: client: missing required key 'upstreams'");
    expect_fail(f, "client:\n  upstream: {}\n", PX_INVALID_ARGUMENT,
                "%s:2:3: client: unknown key 'upstream' (accepted: descriptors, upstreams, "
                "io_threads)");
    expect_fail(f, "client:\n  descriptors: calc\n  upstreams: {u: {endpoints: [1.2.3.4:1]}}\n",
                PX_INVALID_ARGUMENT,
                "%s:2:16: client.descriptors: expected a list of service names, got a scalar");
    expect_fail(f, "client:\n  upstreams: {}\n", PX_INVALID_ARGUMENT,
                "%s:2:14: client.upstreams: expected a mapping of NAME: {endpoints: [...]}, with "
                "at least one upstream");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      pool_size: 4\n", PX_INVALID_ARGUMENT,
                "%s:4:7: upstreams.calc: missing required key 'endpoints'");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: []\n", PX_INVALID_ARGUMENT,
                "%s:4:18: upstreams.calc.endpoints: expected a non-empty list of host:port");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [1.2.3.4:1, b]\n",
                PX_INVALID_ARGUMENT,
                "%s:4:30: endpoints[1]: 'b': expected host:port, e.g. 127.0.0.1:7101, [::1]:7101 "
                "or localhost:7101");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [1.2.3.4:1, 1.2.3.4:1]\n",
                PX_INVALID_ARGUMENT, "%s:4:30: endpoints[1]: '1.2.3.4:1' is listed twice");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [{address: 1.2.3.4:1, weight: 0}]\n",
                PX_OUT_OF_RANGE, "%s:4:48: endpoints[0].weight: 0 is out of range (1..10000)");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [{weight: 2}]\n",
                PX_INVALID_ARGUMENT, "%s:4:19: endpoints[0]: missing required key 'address'");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [[1.2.3.4:1]]\n",
                PX_INVALID_ARGUMENT,
                "%s:4:19: endpoints[0]: expected host:port or {address: host:port, weight: N}");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [1.2.3.4:1]\n      pool_size: 0\n",
                PX_OUT_OF_RANGE, "%s:5:18: upstreams.calc.pool_size: 0 is out of range (1..1024)");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: [1.2.3.4:1]\n      retries: 2\n",
                PX_INVALID_ARGUMENT,
                "%s:5:7: upstreams.calc: unknown key 'retries' (accepted: codec, balancer, failover, timeout, "
                "filters, protocol, naming, endpoints, health, limits, tls, connections_per_endpoint, pool_size, "
                "max_endpoints)");
    expect_fail(f, "client:\n  upstreams:\n    'my calc':\n      endpoints: [1.2.3.4:1]\n",
                PX_INVALID_ARGUMENT,
                "%s:3:5: upstreams: name 'my calc' may only use letters, digits, '_', '-' and "
                "'.'");
    expect_fail(f, "client:\n  upstreams:\n    calc: [1.2.3.4:1]\n", PX_INVALID_ARGUMENT,
                "%s:3:11: upstreams.calc: expected a mapping with endpoints:, got a sequence");
}

/* ---- addresses: parsed and resolved once, here, refused at the value's position ---- */

/* Expects a refusal at FILE:LINE:COL: whose message starts with msg ("%s": the path):
 * a failed lookup ends with the resolver's own words, which vary with the network. */
static void expect_fail_prefix(fx *f, const char *text, const char *msg)
{
    px_status st = load(f, text);
    assert_true(st == PX_INVALID_ARGUMENT || st == PX_UNAVAILABLE);
    assert_null(f->cfg);
    char want[1024];
    snprintf(want, sizeof want, msg, f->path);
    if (strncmp(f->err.msg, want, strlen(want)) != 0)
        fail_msg("expected a message starting with \"%s\", got \"%s\"", want, f->err.msg);
}

/* tls: blocks: files checked at load, each refusal at its key. */
static void test_tls_errors(void **state)
{
    fx *f = *state;
    expect_fail_prefix(f, "server:\n  listen: 127.0.0.1:7101\n  tls: {cert: nothere.pem, key: k}\n",
                       "%s:3:15: server.tls.cert: /");
    assert_non_null(strstr(f->err.msg, "/nothere.pem: No such file or directory"));
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  tls: {cert: c.pem}\n",
                PX_INVALID_ARGUMENT, "%s:3:8: server.tls: a server needs cert and key");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  tls: {verify: false}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:9: server.tls: unknown key 'verify' (accepted: alpn, cert, key, min_version, "
                "ciphers, ciphersuites, ca, verify_client, reload_check)");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  tls: {min_version: 1.1}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:22: server.tls.min_version: '1.1' is not one of: 1.2, 1.3");
    expect_fail(f, "server:\n  listen: 127.0.0.1:7101\n  tls: yes\n", PX_INVALID_ARGUMENT,
                "%s:3:8: server.tls: expected a mapping {cert: ..., key: ...}, got a scalar");
}

static void test_addresses(void **state)
{
    fx *f = *state;
    /* The three of the report (issue 10, item 7) and a bad port, in server.listen... */
    expect_fail(f, "server:\n  listen: 999.1.1.1:21011\n", PX_INVALID_ARGUMENT,
                "%s:2:11: server.listen: '999.1.1.1:21011': '999.1.1.1' is not a valid IPv4 "
                "address");
    expect_fail_prefix(f, "server:\n  listen: example.invalid:21011\n",
                       "%s:2:11: server.listen: 'example.invalid:21011': cannot resolve "
                       "'example.invalid': ");
    /* (port 0 is a listener's "any free port", but an endpoint's mistake) */
    expect_fail(f, "server:\n  listen: '[::1]:-1'\n", PX_INVALID_ARGUMENT,
                "%s:2:11: server.listen: '[::1]:-1': port '-1' is not a number in 0..65535");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: ['[::1]:0']\n",
                PX_INVALID_ARGUMENT,
                "%s:4:19: endpoints[0]: '[::1]:0': port '0' is not a number in 1..65535");
    expect_fail(f, "server:\n  listen: '[::1]'\n", PX_INVALID_ARGUMENT,
                "%s:2:11: server.listen: '[::1]': expected [IPv6]:port, e.g. [::1]:7101");
    /* ...and in client endpoints, plain or {address, weight}. */
    expect_fail(f, "client:\n  upstreams:\n    calc:\n"
                   "      endpoints: [127.0.0.1:1, 999.1.1.1:21011]\n",
                PX_INVALID_ARGUMENT,
                "%s:4:32: endpoints[1]: '999.1.1.1:21011': '999.1.1.1' is not a valid IPv4 "
                "address");
    expect_fail_prefix(f, "client:\n  upstreams:\n    calc:\n      endpoints:\n"
                          "        - {address: example.invalid:21011, weight: 2}\n",
                       "%s:5:21: endpoints[0]: 'example.invalid:21011': cannot resolve "
                       "'example.invalid': ");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: ['[::1]:65536']\n",
                PX_INVALID_ARGUMENT,
                "%s:4:19: endpoints[0]: '[::1]:65536': port '65536' is not a number in "
                "1..65535");
    expect_fail(f, "client:\n  upstreams:\n    calc:\n      endpoints: ['::1:7101']\n",
                PX_INVALID_ARGUMENT,
                "%s:4:19: endpoints[0]: '::1:7101': an IPv6 address goes in brackets, e.g. "
                "[::1]:7101");
}

static void test_addresses_resolved(void **state)
{
    fx *f = *state;
    need_modules(f, std_mods);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\n"
                             "server: {listen: '[::1]:21011'}\n"
                             "client:\n"
                             "  upstreams:\n"
                             "    u: {endpoints: ['[::1]:7101', localhost:7102, 10.0.0.1:7103]}\n"),
                     PX_OK);
    const px_addr *l = &f->cfg->server.listen_addr;
    assert_int_equal(l->ss.ss_family, AF_INET6);
    assert_int_equal(l->len, sizeof(struct sockaddr_in6));
    assert_int_equal(ntohs(((const struct sockaddr_in6 *)&l->ss)->sin6_port), 21011);
    const px_upstream_conf *u = &f->cfg->client.upstreams[0];
    const char *want[] = {"[::1]:7101", "127.0.0.1:7102", "10.0.0.1:7103"};
    for (size_t i = 0; i < 3; i++) {
        char name[PX_NET_NAME_MAX];
        px_net_name((const struct sockaddr *)&u->addrs[i].ss, u->addrs[i].len, name, sizeof name);
        assert_string_equal(name, want[i]);
    }
    assert_string_equal(u->endpoints[1], "localhost:7102"); /* the text stays as written */
}

/* ---- module loading ---- */

static void test_unknown_module(void **state)
{
    fx *f = *state;
    /* Relative module paths are relative to the config file's directory; the installed
     * module directory is searched after modules.path. */
    const char *inst = px_moduledir_installed();
    char msg[2048];
    snprintf(msg, sizeof msg,
             "%%s:4:32: module 'nope' (codec): codec_nope.so not found; searched: %s/./mods/"
             "codec_nope.so, %s/codec_nope.so",
             f->dir, inst);
    expect_fail(f, "modules:\n  path: [./mods]\nserver:\n  {listen: 1.2.3.4:1, codecs: [nope]}\n",
                PX_NOT_FOUND, msg);
    /* {module: NAME}: the error points at the name. */
    snprintf(msg, sizeof msg,
             "%%s:4:41: module 'nope' (codec): codec_nope.so not found; searched: %s/mods/"
             "codec_nope.so, %s/codec_nope.so",
             f->dir, inst);
    expect_fail(f, "modules:\n  path: mods\nserver:\n  {listen: 1.2.3.4:1, codecs: [{module: nope}]}\n",
                PX_NOT_FOUND, msg);
    /* PLEXUS_MODULE_PATH comes first, empty entries skipped; absolute paths stay. */
    setenv("PLEXUS_MODULE_PATH", "/px/a::/px/b", 1);
    snprintf(msg, sizeof msg,
             "%%s:5:12: module 'nope' (codec): codec_nope.so not found; searched: "
             "/px/a/codec_nope.so, /px/b/codec_nope.so, /px/c/codec_nope.so, %s/codec_nope.so",
             inst);
    expect_fail(f, "modules:\n  path: [/px/c]\nserver:\n  listen: 1.2.3.4:1\n  codecs: [nope]\n",
                PX_NOT_FOUND, msg);
    unsetenv("PLEXUS_MODULE_PATH");
    /* No modules.path: only the installed module directory, which for a program in the
     * build tree is the build's own (tests see it as PX_MODULE_DIR). */
    if (f->moddir[0] != '\0')
        assert_string_equal(inst, f->moddir);
    snprintf(msg, sizeof msg,
             "%%s:3:12: module 'nope' (codec): codec_nope.so not found; searched: "
             "%s/codec_nope.so",
             inst);
    expect_fail(f, "server:\n  listen: 1.2.3.4:1\n  codecs: [nope]\n", PX_NOT_FOUND, msg);
    expect_fail(f, "server:\n  listen: 1.2.3.4:1\n  codecs: [{mod: x}]\n", PX_INVALID_ARGUMENT,
                "%s:3:12: server.codecs[0]: missing required key 'module'");
    expect_fail(f, "server:\n  listen: 1.2.3.4:1\n  codecs: [[x]]\n", PX_INVALID_ARGUMENT,
                "%s:3:12: server.codecs[0]: expected a module name or {module: NAME, ...}, got "
                "a sequence");
    expect_fail(f, "server:\n  listen: 1.2.3.4:1\n  codecs: [{module: ~}]\n", PX_INVALID_ARGUMENT,
                "%s:3:21: server.codecs[0]: expected a module name");
}

static void test_full_config(void **state)
{
    fx *f = *state;
    need_modules(f, std_mods);
    char link[160];
    snprintf(link, sizeof link, "%s/mods", f->dir);
    assert_int_equal(symlink(f->moddir, link), 0);
    assert_int_equal(load(f, "modules:\n"
                             "  path: [mods]\n"
                             "server:\n"
                             "  listen: 127.0.0.1:7101\n"
                             "  id: s1\n"
                             "  io_threads: 2\n"
                             "  codecs: [{module: protobuf}]\n"
                             "  limits: {max_frame: 1MiB, max_meta: 4KiB, max_inflight_per_conn: 8,"
                             " idle_timeout: 1m}\n"
                             "  shutdown_grace: 2.5s\n"
                             "client:\n"
                             "  io_threads: 3\n"
                             "  upstreams:\n"
                             "    calc:\n"
                             "      endpoints: [127.0.0.1:7101, {address: '[::1]:7102', weight: 2}]\n"
                             "      codec: protobuf\n"
                             "      balancer: {module: random, seed: 7}\n"
                             "      failover: {module: failfast}\n"
                             "      timeout: {module: fixed, connect: 100ms, call: 300ms}\n"
                             "      health: {max_fails: 5, fail_window: 20s, ejection: 2s,"
                             " max_ejection: 1m, max_ejected_percent: 30}\n"
                             "      connections_per_endpoint: 2\n"
                             "      pool_size: 8\n"
                             "      limits: {max_frame: 64KiB, max_meta: 1KiB}\n"
                             "    plain:\n"
                             "      endpoints: [localhost:9000]\n"),
                     PX_OK);
    const px_config *c = f->cfg;
    assert_string_equal(c->file, f->path);
    assert_int_equal(px_loader_path_count(c->loader), 2);
    char want[200];
    snprintf(want, sizeof want, "%s/mods", f->dir);
    assert_string_equal(px_loader_path_at(c->loader, 0), want);
    assert_string_equal(px_loader_path_at(c->loader, 1), px_moduledir_installed());

    const px_server_conf *s = &c->server;
    assert_true(s->present);
    assert_string_equal(s->listen, "127.0.0.1:7101");
    assert_string_equal(s->id, "s1");
    assert_int_equal(s->io_threads, 2);
    assert_int_equal(s->mods[PX_MOD_CODEC].n, 1);
    assert_string_equal(s->mods[PX_MOD_CODEC].refs[0].mod->name, "protobuf");
    assert_int_equal(s->mods[PX_MOD_CODEC].refs[0].mod->kind, PX_MOD_CODEC);
    assert_int_equal(s->mods[PX_MOD_CODEC].refs[0].line, 7);
    assert_int_equal(s->mods[PX_MOD_CODEC].refs[0].col, 21);
    assert_non_null(strstr(s->mods[PX_MOD_CODEC].refs[0].path, "codec_protobuf.so"));
    /* server.health and server.reflection default to true: the built-in services. */
    assert_int_equal(s->n_services, 2);
    assert_string_equal(s->services[0].module.mod->name, "px_health");
    assert_string_equal(s->services[1].module.mod->name, "px_reflection");
    assert_string_equal(s->services[1].module.path, "(built-in)");
    assert_int_equal(s->limits.max_frame, 1u << 20);
    assert_int_equal(s->limits.max_meta, 4096);
    assert_int_equal(s->limits.max_inflight_per_conn, 8);
    assert_int_equal(s->limits.idle_timeout_us, 60000000);
    assert_int_equal(s->shutdown_grace_us, 2500000);

    const px_client_conf *cl = &c->client;
    assert_int_equal(cl->io_threads, 3);
    assert_int_equal(cl->n_upstreams, 2);
    const px_upstream_conf *u = &cl->upstreams[0];
    assert_string_equal(u->name, "calc");
    assert_int_equal(u->n_endpoints, 2);
    assert_string_equal(u->endpoints[0], "127.0.0.1:7101");
    assert_string_equal(u->endpoints[1], "[::1]:7102");
    assert_int_equal(u->weights[0], 1);
    assert_int_equal(u->weights[1], 2);
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_CODEC)->mod->name, "protobuf");
    assert_ptr_equal(px_modlist_one(u->mods, PX_MOD_CODEC)->mod, s->mods[PX_MOD_CODEC].refs[0].mod); /* the loader's cache */
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_BALANCER)->mod->name, "random");
    assert_int_equal(conf_i64(px_modlist_one(u->mods, PX_MOD_BALANCER), "seed"), 7);
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_FAILOVER)->mod->name, "failfast");
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_TIMEOUT)->mod->name, "fixed");
    assert_int_equal(conf_i64(px_modlist_one(u->mods, PX_MOD_TIMEOUT), "connect"), 100000);
    assert_int_equal(conf_i64(px_modlist_one(u->mods, PX_MOD_TIMEOUT), "call"), 300000);
    assert_int_equal(px_modlist_one(u->mods, PX_MOD_TIMEOUT)->line, 18);
    assert_int_equal(px_modlist_one(u->mods, PX_MOD_TIMEOUT)->col, 25);
    assert_int_equal(u->health.max_fails, 5);
    assert_int_equal(u->health.fail_window_us, 20000000);
    assert_int_equal(u->health.ejection_us, 2000000);
    assert_int_equal(u->health.max_ejection_us, 60000000);
    assert_int_equal(u->health.max_ejected_percent, 30);
    assert_int_equal(u->connections_per_endpoint, 2);
    assert_int_equal(u->pool_size, 8);
    assert_int_equal(u->limits.max_frame, 64u << 10);
    assert_int_equal(u->limits.max_meta, 1024);
    assert_int_equal(u->limits.max_inflight_per_conn, 1024);
    assert_int_equal(u->limits.idle_timeout_us, 0);
    assert_int_equal(u->limits.max_queued_per_conn, 65536); /* the default */

    /* Instances: random has create/destroy, fixed's state is its conf. */
    px_module_env env = {.config_file = c->file, .server_id = "", .scope = "calc"};
    void *st = NULL;
    assert_int_equal(px_modref_create(px_modlist_one(u->mods, PX_MOD_BALANCER), &env, &st, &f->err), PX_OK);
    assert_non_null(st);
    px_modref_destroy(px_modlist_one(u->mods, PX_MOD_BALANCER), st);
    assert_int_equal(px_modref_create(px_modlist_one(u->mods, PX_MOD_TIMEOUT), &env, &st, &f->err), PX_OK);
    assert_ptr_equal(st, px_modlist_one(u->mods, PX_MOD_TIMEOUT)->conf);
    px_modref_destroy(px_modlist_one(u->mods, PX_MOD_TIMEOUT), st);
    px_modref empty = {0};
    assert_int_equal(px_modref_create(&empty, &env, &st, &f->err), PX_FAILED_PRECONDITION);
    assert_string_equal(f->err.msg, "no module configured in this slot");
    assert_null(st);
}

static void test_defaults(void **state)
{
    fx *f = *state;
    need_modules(f, std_mods);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\n"
                             "server: {listen: 127.0.0.1:7101}\n"
                             "client:\n"
                             "  upstreams:\n"
                             "    u: {endpoints: [1.2.3.4:1]}\n"),
                     PX_OK);
    const px_server_conf *s = &f->cfg->server;
    assert_string_equal(s->id, "127.0.0.1:7101");
    assert_int_equal(s->io_threads, 1);
    assert_int_equal(s->mods[PX_MOD_CODEC].n, 1);
    assert_string_equal(s->mods[PX_MOD_CODEC].refs[0].mod->name, "protobuf");
    assert_int_equal(s->mods[PX_MOD_CODEC].refs[0].line, 2); /* defaults point at their section */
    assert_int_equal(s->mods[PX_MOD_CODEC].refs[0].col, 9);
    assert_int_equal(s->limits.max_frame, 4u << 20);
    assert_int_equal(s->limits.max_meta, 16u << 10);
    assert_int_equal(s->limits.max_inflight_per_conn, 1024);
    assert_int_equal(s->limits.idle_timeout_us, 0);
    assert_int_equal(s->shutdown_grace_us, 10000000);
    const px_client_conf *cl = &f->cfg->client;
    assert_int_equal(cl->io_threads, 1);
    const px_upstream_conf *u = &cl->upstreams[0];
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_CODEC)->mod->name, "protobuf");
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_BALANCER)->mod->name, "random");
    assert_int_equal(conf_i64(px_modlist_one(u->mods, PX_MOD_BALANCER), "seed"), 0);
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_FAILOVER)->mod->name, "failfast");
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_TIMEOUT)->mod->name, "fixed");
    assert_int_equal(conf_i64(px_modlist_one(u->mods, PX_MOD_TIMEOUT), "call"), 1000000);
    assert_int_equal(u->health.max_fails, 3);
    assert_int_equal(u->health.fail_window_us, 10000000);
    assert_int_equal(u->health.ejection_us, 1000000);
    assert_int_equal(u->health.max_ejection_us, 30000000);
    assert_int_equal(u->health.max_ejected_percent, 50);
    assert_int_equal(u->connections_per_endpoint, 1);
    assert_int_equal(u->pool_size, 4);
    assert_int_equal(u->weights[0], 1);
    assert_int_equal(u->limits.max_frame, 4u << 20);
    assert_int_equal(u->limits.max_meta, 16u << 10);
    assert_int_equal(f->cfg->server.n_services, 2); /* px_health, px_reflection */

    /* Client only: no server section. */
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\nclient: {upstreams: {u: {endpoints: [1.2.3.4:1]}}}\n"),
                     PX_OK);
    assert_false(f->cfg->server.present);
    assert_null(f->cfg->server.listen);
    assert_int_equal(f->cfg->client.n_upstreams, 1);
}

static void test_module_block_errors(void **state)
{
    fx *f = *state;
    need_modules(f, std_mods);
#define UP "modules: {path: [@MODS@]}\nclient:\n  upstreams:\n    calc:\n      endpoints: [1.2.3.4:1]\n"
    expect_fail(f, UP "      timeout: {module: fixed, call: 5 parsecs}\n", PX_INVALID_ARGUMENT,
                "%s:6:38: timeout.call: '5 parsecs' is not a duration (use e.g. 250ms, 5s)");
    expect_fail(f, UP "      timeout:\n        module: fixed\n        call: 2h\n", PX_OUT_OF_RANGE,
                "%s:8:15: timeout.call: 2h is out of range (1ms..1h)");
    expect_fail(f, UP "      balancer: {module: random, sed: 1}\n", PX_INVALID_ARGUMENT,
                "%s:6:34: balancer: unknown key 'sed' (accepted: module, seed)");
    expect_fail(f, UP "      balancer: {module: random, seed: [1]}\n", PX_INVALID_ARGUMENT,
                "%s:6:40: balancer.seed: expected an integer, got a sequence");
    expect_fail(f, UP "      failover: {module: failfast, retries: 2}\n", PX_INVALID_ARGUMENT,
                "%s:6:36: failover: unknown key 'retries' (accepted: module)");
    char msg[1200];
    snprintf(msg, sizeof msg,
             "%%s:6:17: module 'least' (balancer): lb_least.so not found; searched: "
             "%s/lb_least.so",
             f->moddir);
    expect_fail(f, UP "      balancer: least\n", PX_NOT_FOUND, msg);
    snprintf(msg, sizeof msg,
             "%%s:6:25: module 'nope' (timeout): timeout_nope.so not found; searched: "
             "%s/timeout_nope.so",
             f->moddir);
    expect_fail(f, UP "      timeout: {module: nope, call: 1s}\n", PX_NOT_FOUND, msg);
    expect_fail(f, UP "      codec: [protobuf]\n", PX_INVALID_ARGUMENT,
                "%s:6:14: codec: expected a module name or {module: NAME, ...}, got a sequence");
    expect_fail(f, UP "      health: {max_fails: -1}\n", PX_OUT_OF_RANGE,
                "%s:6:27: health.max_fails: -1 is out of range (0..1000000)");
    expect_fail(f, UP "      health: {ejection: 1m}\n", PX_INVALID_ARGUMENT,
                "%s:6:26: health: ejection (60000000us) is longer than max_ejection (30000000us)");
    expect_fail(f, UP "      health: {probe: 1s}\n", PX_INVALID_ARGUMENT,
                "%s:6:16: health: unknown key 'probe' (accepted: max_fails, fail_window, "
                "ejection, max_ejection, max_ejected_percent, probe_interval, probe_timeout)");
    expect_fail(f, UP "      limits: {idle_timeout: 1s}\n", PX_INVALID_ARGUMENT,
                "%s:6:16: limits: unknown key 'idle_timeout' (accepted: max_frame, max_meta, "
                "max_queued_per_conn)");
    expect_fail(f, UP "      limits: {max_queued_per_conn: 0}\n", PX_OUT_OF_RANGE,
                "%s:6:37: limits.max_queued_per_conn: 0 is out of range (1..16777216)");
    expect_fail(f,
                "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n"
                "  codecs: [protobuf, {module: protobuf}]\n",
                PX_INVALID_ARGUMENT,
                "%s:4:31: server.codecs[1]: codec 'protobuf' is listed twice (first at 4:12)");
    snprintf(msg, sizeof msg,
             "%%s:4:23: module 'nope' (service): service_nope.so not found; searched: "
             "%s/service_nope.so",
             f->moddir);
    expect_fail(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n  services: [{module: nope}]\n",
                PX_NOT_FOUND, msg);
    expect_fail(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n  services: {calc: 1}\n",
                PX_INVALID_ARGUMENT,
                "%s:4:13: server.services: expected a list of {module: NAME, ...}, got a mapping");
#undef UP
}

/* server.reflection / server.health: the built-in services, on unless switched off; a
 * service list that names one already keeps it once; a bad value at FILE:LINE:COL. */
static void test_builtin_services(void **state)
{
    fx *f = *state;
    static const char *const mods[] = {"codec_protobuf.so", NULL};
    need_modules(f, mods);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n"
                             "  reflection: false\n  health: false\n"),
                     PX_OK);
    assert_int_equal(f->cfg->server.n_services, 0);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n"
                             "  health: false\n  services: [px_reflection]\n"),
                     PX_OK);
    assert_int_equal(f->cfg->server.n_services, 1);
    assert_string_equal(f->cfg->server.services[0].module.mod->name, "px_reflection");
    expect_fail(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n  reflection: maybe\n",
                PX_INVALID_ARGUMENT,
                "%s:4:15: server.reflection: 'maybe' is not a boolean (use true or false)");
}

static void test_services(void **state)
{
    fx *f = *state;
    static const char *const mods[] = {"codec_protobuf.so", "service_calc.so", NULL};
    need_modules(f, mods);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\n"
                             "server:\n"
                             "  listen: 127.0.0.1:7101\n"
                             "  services:\n"
                             "    - module: calc\n"
                             "      workers: 4\n"
                             "      max_sleep: 5s\n"),
                     PX_OK);
    const px_server_conf *s = &f->cfg->server;
    assert_int_equal(s->n_services, 3); /* calc, then the built-in px_health, px_reflection */
    assert_string_equal(s->services[0].module.mod->name, "calc");
    assert_int_equal(s->services[0].workers, 4);
    assert_int_equal(conf_i64(&s->services[0].module, "max_sleep"), 5000000);
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n  services: [calc]\n"),
                     PX_OK);
    assert_int_equal(f->cfg->server.services[0].workers, 0);
    assert_int_equal(conf_i64(&f->cfg->server.services[0].module, "max_sleep"), 60000000);
    /* client.descriptors: SERVICE modules loaded for their descriptors only. */
    assert_int_equal(load(f, "modules: {path: [@MODS@]}\nclient:\n  descriptors: [calc]\n"
                             "  upstreams: {u: {endpoints: [1.2.3.4:1]}}\n"),
                     PX_OK);
    assert_int_equal(f->cfg->client.n_descriptors, 1);
    assert_string_equal(f->cfg->client.descriptors[0].mod->name, "calc");
    assert_int_equal(f->cfg->client.descriptors[0].mod->kind, PX_MOD_SERVICE);
    assert_int_equal(f->cfg->client.descriptors[0].line, 3);
    assert_int_equal(f->cfg->client.descriptors[0].col, 17);
    expect_fail(f, "modules: {path: [@MODS@]}\nclient:\n  descriptors: [calc, calc]\n"
                   "  upstreams: {u: {endpoints: [1.2.3.4:1]}}\n",
                PX_INVALID_ARGUMENT,
                "%s:3:23: client.descriptors[1]: service 'calc' is listed twice (first at 3:17)");
#define SV "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n  services:\n"
    expect_fail(f, SV "    - {module: calc, workers: 257}\n", PX_OUT_OF_RANGE,
                "%s:5:31: server.services[0].workers: 257 is out of range (0..256)");
    expect_fail(f, SV "    - {module: calc, threads: 2}\n", PX_INVALID_ARGUMENT,
                "%s:5:22: server.services[0]: unknown key 'threads' (accepted: module, workers, "
                "filters, max_sleep, delay)");
    expect_fail(f, SV "    - calc\n    - {module: calc}\n", PX_INVALID_ARGUMENT,
                "%s:6:16: server.services[1]: service 'calc' is listed twice (first at 5:7)");
#undef SV
}

/* FILTER modules: server.filters, a service's filters after them, upstream filters;
 * every mistake at FILE:LINE:COL. */
static void test_filters(void **state)
{
    fx *f = *state;
    const char *mods[] = {"codec_protobuf.so", "filter_access_log.so", "filter_deadline_floor.so",
                          "service_calc.so", NULL};
    need_modules(f, mods);
    char log[600];
    snprintf(log, sizeof log, "%s/access.log", f->dir);
    char text[2000];
    snprintf(text, sizeof text,
             "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n"
             "  filters: [{module: access_log, path: %s}]\n"
             "  services:\n    - module: calc\n      filters: [{module: deadline_floor, "
             "min_remaining: 5ms}]\n", log);
    assert_int_equal(load(f, text), PX_OK);
    unlink(log); /* the module's create() at load made it */
    const px_server_conf *s = &f->cfg->server;
    assert_int_equal(s->mods[PX_MOD_FILTER].n, 1);
    assert_string_equal(s->mods[PX_MOD_FILTER].refs[0].mod->name, "access_log");
    assert_int_equal(s->services[0].filters.n, 1);
    assert_string_equal(s->services[0].filters.refs[0].mod->name, "deadline_floor");
    assert_int_equal(conf_i64(&s->services[0].filters.refs[0], "min_remaining"), 5000);
#define SF "modules: {path: [@MODS@]}\nserver:\n  listen: 1.2.3.4:1\n"
    expect_fail(f, SF "  filters: [{module: access_log, file: x}]\n", PX_INVALID_ARGUMENT,
                "%s:4:34: server.filters[0]: unknown key 'file' (accepted: module, path)");
    /* The same filter twice is two instances (two logs, say). */
    assert_int_equal(load(f, SF "  filters: [deadline_floor, {module: deadline_floor, cap: 1s}]\n"),
                     PX_OK);
    assert_int_equal(f->cfg->server.mods[PX_MOD_FILTER].n, 2);
    assert_int_equal(conf_i64(&f->cfg->server.mods[PX_MOD_FILTER].refs[1], "cap"), 1000000);
    expect_fail(f, SF "  filters: access_log\n", PX_INVALID_ARGUMENT,
                "%s:4:12: server.filters: expected a list of filter names, got a scalar");
    /* The module's create() refuses at load: a log that cannot be opened. */
    expect_fail(f, SF "  filters: [{module: access_log, path: /nonexistent/dir/a.log}]\n",
                PX_FAILED_PRECONDITION,
                "%s:4:22: filter 'access_log': cannot open access log /nonexistent/dir/a.log: "
                "No such file or directory");
    /* A relative log path is relative to the config file's folder, printed resolved. */
    char rel[1200];
    snprintf(rel, sizeof rel,
             "%%s:4:22: filter 'access_log': cannot open access log %s/nodir/a.log: No such file "
             "or directory (relative to the config file's folder)",
             f->dir);
    expect_fail(f, SF "  filters: [{module: access_log, path: nodir/a.log}]\n",
                PX_FAILED_PRECONDITION, rel);
    assert_int_equal(load(f, SF "  filters: [{module: access_log, path: a.log}]\n"), PX_OK);
    snprintf(rel, sizeof rel, "%s/a.log", f->dir);
    assert_int_equal(access(rel, F_OK), 0);
    unlink(rel);
    char msg[1200];
    snprintf(msg, sizeof msg, "%%s:5:48: module 'nope' (filter): filter_nope.so not found; "
             "searched: %s/filter_nope.so", f->moddir);
    expect_fail(f, SF "  services:\n    - {module: calc, filters: [deadline_floor, nope]}\n",
                PX_NOT_FOUND, msg);
    /* At most PX_FILTER_MAX_CHAIN filters per call, the server's and a service's together. */
    char many[3000] = SF "  filters: [deadline_floor]\n  services:\n    - module: calc\n"
                         "      filters: [access_log";
    for (int i = 0; i < PX_FILTER_MAX_CHAIN; i++)
        strcat(many, ", {module: deadline_floor}");
    strcat(many, "]\n");
    expect_fail_prefix(f, many, "%s:7:16: server.services[0].filters: 17 filters here and 1 in "
                                "server.filters: a call passes through at most 16");
#undef SF
    snprintf(text, sizeof text,
             "modules: {path: [@MODS@]}\nclient:\n  upstreams:\n    calc:\n"
             "      endpoints: [1.2.3.4:1]\n      filters: [deadline_floor]\n");
    assert_int_equal(load(f, text), PX_OK);
    const px_upstream_conf *u = &f->cfg->client.upstreams[0];
    assert_int_equal(u->mods[PX_MOD_FILTER].n, 1);
    assert_string_equal(u->mods[PX_MOD_FILTER].refs[0].mod->name, "deadline_floor");
    /* A server-side filter on a client upstream is refused where it is named. */
    const char *srv_only[] = {"filter_fxsrv.so", NULL};
    need_modules(f, srv_only);
    expect_fail(f, "modules: {path: [@MODS@]}\nclient:\n  upstreams:\n    calc:\n"
                   "      endpoints: [1.2.3.4:1]\n      filters: [deadline_floor, fxsrv]\n",
                PX_INVALID_ARGUMENT,
                "%s:6:33: filters: filter 'fxsrv' cannot be used here: it is a server-side "
                "filter only");
}

/* naming: the default static module serves endpoints: and needs it; another naming
 * module may do without; max_endpoints bounds the list. */
static void test_naming(void **state)
{
    fx *f = *state;
    need_modules(f, std_mods);
    const char *fixdir = getenv("PX_FIXTURE_DIR");
    if (fixdir == NULL) {
        print_message("PX_FIXTURE_DIR is not set\n");
        skip();
    }
#define UP "modules: {path: [@MODS@]}\nclient:\n  upstreams:\n    calc:\n"
    assert_int_equal(load(f, UP "      endpoints: [127.0.0.1:1, {address: 127.0.0.1:2, weight: 3}]\n"),
                     PX_OK);
    const px_upstream_conf *u = &f->cfg->client.upstreams[0];
    const px_modref *naming = px_modlist_one(u->mods, PX_MOD_NAMING);
    assert_non_null(naming);
    assert_string_equal(naming->mod->name, "static");
    assert_int_equal(u->max_endpoints, 1024);
    assert_int_equal(u->n_endpoints, 2);
    /* plexus modules lists it as built in. */
    int found = 0;
    for (size_t i = 0; i < px_loader_count(f->cfg->loader); i++) {
        const char *path;
        const px_module *m = px_loader_at(f->cfg->loader, i, &path);
        if (m->kind == PX_MOD_NAMING && strcmp(m->name, "static") == 0)
            found = strcmp(path, "(built-in)") == 0;
    }
    assert_true(found);
    expect_fail(f, UP "      naming: static\n      pool_size: 4\n", PX_INVALID_ARGUMENT,
                "%s:5:7: upstreams.calc: missing required key 'endpoints' (naming 'static' "
                "serves that list)");
    assert_int_equal(load(f, UP "      naming: zk\n      endpoints: [127.0.0.1:1]\n"),
                     PX_NOT_FOUND);
    assert_non_null(strstr(f->err.msg, ":5:15: module 'zk' (naming): naming_zk.so not found"));
    expect_fail(f, UP "      max_endpoints: 2\n      endpoints: [127.0.0.1:1, 127.0.0.1:2, "
                      "127.0.0.1:3]\n",
                PX_INVALID_ARGUMENT,
                "%s:6:18: upstreams.calc.endpoints: 3 endpoints is more than max_endpoints (2)");
    expect_fail(f, UP "      max_endpoints: 0\n      endpoints: [127.0.0.1:1]\n", PX_OUT_OF_RANGE,
                "%s:5:22: upstreams.calc.max_endpoints: 0 is out of range (1..16384)");
    /* A naming module that does not serve endpoints: makes the list optional. */
    char text[1024];
    snprintf(text, sizeof text, UP "      naming: {module: '%s/naming_fxdrive.so'}\n"
                                   "      max_endpoints: 8\n",
             fixdir);
    assert_int_equal(load(f, text), PX_OK);
    u = &f->cfg->client.upstreams[0];
    assert_int_equal(u->n_endpoints, 0);
    assert_int_equal(u->max_endpoints, 8);
    assert_string_equal(px_modlist_one(u->mods, PX_MOD_NAMING)->mod->name, "fxdrive");
#undef UP
}

/* server.register: the core's keys (weight, advertise) and the module's; advertise is
 * required by a wildcard listener and must be a numeric address. */
static void test_register(void **state)
{
    fx *f = *state;
    const char *const mods[] = {"codec_protobuf.so", "registry_zookeeper.so", NULL};
    need_modules(f, mods);
#define SRV(listen) "modules: {path: [@MODS@]}\nserver:\n  listen: '" listen "'\n"
#define REG "  register:\n    module: zookeeper\n    servers: 'z1:2181,z2:2181'\n" \
            "    service: calc\n"
    assert_int_equal(load(f, SRV("127.0.0.1:7101")), PX_OK);
    assert_null(f->cfg->server.registry.mod);
    assert_int_equal(load(f, SRV("127.0.0.1:7101") REG), PX_OK);
    const px_server_conf *sc = &f->cfg->server;
    assert_string_equal(sc->registry.mod->name, "zookeeper");
    assert_int_equal(sc->registry.mod->kind, PX_MOD_REGISTRY);
    assert_int_equal(sc->registry.line, 5);
    assert_int_equal(sc->register_weight, 1);
    assert_null(sc->register_advertise);
    assert_int_equal(load(f, SRV("[::]:7101") REG "    weight: 40\n    advertise: fd00::5\n"),
                     PX_OK);
    assert_int_equal(f->cfg->server.register_weight, 40);
    assert_string_equal(f->cfg->server.register_advertise, "fd00::5");
    assert_int_equal(load(f, SRV("[::]:7101") REG "    advertise: '[fd00::5]'\n"), PX_OK);
    expect_fail(f, SRV("[::]:7101") REG, PX_INVALID_ARGUMENT,
                "%s:5:5: server.register: missing key 'advertise': server.listen '[::]:7101' "
                "listens on every address, so the one to publish must be given");
    expect_fail(f, SRV("127.0.0.1:7101") "  listeners: [{listen: '0.0.0.0:0'}]\n" REG,
                PX_INVALID_ARGUMENT,
                "%s:6:5: server.register: missing key 'advertise': a listener '0.0.0.0:0' "
                "listens on every address, so the one to publish must be given");
    expect_fail(f, SRV("127.0.0.1:7101") REG "    advertise: '::'\n", PX_INVALID_ARGUMENT,
                "%s:8:16: server.register.advertise: '::' is a wildcard address: publish one "
                "clients can dial");
    expect_fail(f, SRV("127.0.0.1:7101") REG "    weight: 10001\n", PX_OUT_OF_RANGE,
                "%s:8:13: server.register.weight: 10001 is out of range (1..10000)");
    expect_fail(f, SRV("127.0.0.1:7101") "  register:\n    module: zookeeper\n"
                   "    servers: 'z:1'\n    service: a/b\n", PX_INVALID_ARGUMENT,
                "%s:5:13: registry 'zookeeper': service: expected a name without '/' (it is "
                "one path component)");
    expect_fail(f, SRV("127.0.0.1:7101") "  register: zookeeper\n", PX_INVALID_ARGUMENT,
                "%s:4:13: server.register: expected {module: NAME, ...}, got a scalar");
#undef REG
#undef SRV
}

/* A module file named by a relative path is relative to the config file, not to the
 * current directory, and a miss prints where the path led and why. */
static void test_relative_module_file(void **state)
{
    fx *f = *state;
    const char *fixdir = getenv("PX_FIXTURE_DIR");
    if (fixdir == NULL || fixdir[0] != '/') {
        print_message("PX_FIXTURE_DIR is not set\n");
        skip();
    }
    /* f->dir is /tmp/px_config_XXXXXX: two levels up is the root. */
    char text[2048], msg[2048];
    snprintf(text, sizeof text,
             "modules: {path: []}\nclient:\n  upstreams:\n    u:\n      endpoints: [127.0.0.1:1]\n"
             "      balancer: ../..%s/lb_good.so\n",
             fixdir);
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir("/usr"), 0); /* a current directory the path means nothing in */
    px_status st = load(f, text);
    if (st != PX_OK)
        print_message("%s\n", f->err.msg);
    assert_int_equal(st, PX_OK);
    const px_modref *lb = px_modlist_one(f->cfg->client.upstreams[0].mods, PX_MOD_BALANCER);
    assert_string_equal(lb->mod->name, "good");
    snprintf(msg, sizeof msg, "%s/../..%s/lb_good.so", f->dir, fixdir);
    assert_string_equal(lb->path, msg);

    /* Not there: the resolved path, and what it was relative to. */
    snprintf(msg, sizeof msg,
             "%%s:6:17: module '../nowhere/lb_x.so' (balancer): %s/../nowhere/lb_x.so: not found "
             "(a module file is relative to the config file's folder)",
             f->dir);
    expect_fail(f,
                "modules: {path: []}\nclient:\n  upstreams:\n    u:\n      endpoints: [127.0.0.1:1]\n"
                "      balancer: ../nowhere/lb_x.so\n",
                PX_NOT_FOUND, msg);

    /* The config file named relative to the current directory: messages are absolute. */
    assert_int_equal(chdir(f->dir), 0);
    px_config_free(f->cfg);
    f->cfg = NULL;
    assert_int_equal(px_config_load("plexus.yaml", &f->cfg, &f->err), PX_NOT_FOUND);
    snprintf(msg, sizeof msg,
             "plexus.yaml:6:17: module '../nowhere/lb_x.so' (balancer): %s/../nowhere/lb_x.so: "
             "not found (a module file is relative to the config file's folder)",
             f->dir);
    assert_string_equal(f->err.msg, msg);
    assert_int_equal(chdir(cwd), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_missing_file),     T(test_top_level),      T(test_modules_section),
        T(test_server_errors),    T(test_client_errors),  T(test_unknown_module),
        T(test_full_config),      T(test_defaults),       T(test_builtin_services),       T(test_module_block_errors),
        T(test_filters),
        T(test_services),         T(test_addresses),      T(test_addresses_resolved),
        T(test_naming),           T(test_relative_module_file), T(test_tls_errors),
        T(test_register),
    };
#undef T
    return cmocka_run_group_tests_name("px_config", tests, NULL, NULL);
}
