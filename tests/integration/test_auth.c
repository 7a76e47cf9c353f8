/* Authentication and authorization through real processes: plexusd servers whose chain
 * is auth_token (a token file made by `plexus token-hash`) then acl, called by native
 * clients whose upstream chain sends a token (auth_token from token_file or token_env)
 * and by python3-grpcio with `authorization` metadata. Every combination of no token,
 * a wrong one and a right one with a method the rules allow or deny gets its status on
 * both protocols, in clear and over TLS (server.tls, the upstream's tls, grpcio's TLS
 * channel); the handler reads the principal (fxmeta's Whoami); token files with loose
 * modes or malformed lines, bad rules and bad client settings are refused at load with
 * their exact message. */
/* Messages are cut to the buffers that show them, on purpose. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_certs.h"
#include "px_proc.h"

#define RULES                                                                            \
    "    - module: acl\n"                                                                \
    "      rules:\n"                                                                     \
    "        - allow group:admin *\n"                                                    \
    "        - deny bob calc.Calculator/Echo\n"                                          \
    "        - allow bob calc.Calculator/*\n"                                            \
    "        - allow anonymous calc.Calculator/Echo\n"

static struct {
    char dir[64], src[512], bin[512];
    char tokens[128];                   /* the server's token file (mode 0600) */
    char alice[80], bob[80];            /* their tokens, as `plexus token-hash -g` made them */
    char alice_file[128], bob_file[128], wrong_file[128];
    px_proc strict, open;               /* required: true / false */
    px_proc tls;                        /* required, behind server.tls */
    const char *certs;                  /* px_certs_shared's directory */
} F;

static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

/* `plexus token-hash --generate WHO [GROUPS]`: the token (stderr) and the line (stdout). */
static void make_token(const char *who, const char *groups, char *token, size_t cap, char *line,
                       size_t line_cap)
{
    char plexus[600], out[1024], err[256];
    snprintf(plexus, sizeof plexus, "%s/bin/plexus", F.bin);
    char *argv[] = {plexus, "token-hash", "--generate", (char *)who, (char *)groups, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strlen(err), 65); /* 64 hex digits and a newline */
    snprintf(token, cap, "%.64s", err);
    snprintf(line, line_cap, "%s", out);
}

static int setup(void **state)
{
    (void)state;
    const char *src = getenv("PX_SOURCE_DIR"), *bin = getenv("PX_BINARY_DIR");
    if (!src || !bin) {
        fprintf(stderr, "PX_SOURCE_DIR / PX_BINARY_DIR are not set: run through ctest\n");
        return -1;
    }
    snprintf(F.src, sizeof F.src, "%s", src);
    snprintf(F.bin, sizeof F.bin, "%s", bin);
    px_proc_die_with_test();
    snprintf(F.dir, sizeof F.dir, "/tmp/pxauth-XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    char la[600], lb[600], text[1400];
    make_token("alice", "admin,dev", F.alice, sizeof F.alice, la, sizeof la);
    make_token("bob", NULL, F.bob, sizeof F.bob, lb, sizeof lb);
    snprintf(text, sizeof text, "# principal groups salt sha256\n\n%s  \t\n%s", la, lb);
    snprintf(F.tokens, sizeof F.tokens, "%s/tokens", F.dir);
    write_file(F.tokens, text, 0600);
    snprintf(F.alice_file, sizeof F.alice_file, "%s/alice.token", F.dir);
    snprintf(F.bob_file, sizeof F.bob_file, "%s/bob.token", F.dir);
    snprintf(F.wrong_file, sizeof F.wrong_file, "%s/wrong.token", F.dir);
    snprintf(text, sizeof text, "%s\n", F.alice);
    write_file(F.alice_file, text, 0600);
    snprintf(text, sizeof text, "%s\n", F.bob);
    write_file(F.bob_file, text, 0400);
    /* Bob's token with its last digit changed: all but one byte right. */
    snprintf(text, sizeof text, "%.63s%c\n", F.bob, F.bob[63] == '0' ? '1' : '0');
    write_file(F.wrong_file, text, 0600);
    setenv("PX_TEST_ALICE_TOKEN", F.alice, 1);

    char yaml[2048];
    px_err cerr = {0};
    if ((F.certs = px_certs_shared(&cerr)) == NULL) {
        fprintf(stderr, "certificates: %s\n", cerr.msg);
        return -1;
    }
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf]\n"
             "  protocols: [native, grpc]\n"
             "  tls: {cert: %s/server.pem, key: %s/server.key}\n"
             "  filters:\n"
             "    - {module: auth_token, tokens: %s}\n" RULES
             "  services:\n"
             "    - module: fxmeta\n",
             F.certs, F.certs, F.tokens);
    if (px_proc_start(&F.tls, "tls", yaml) != 0)
        return -1;
    for (int strict = 0; strict < 2; strict++) {
        snprintf(yaml, sizeof yaml,
                 "  codecs: [protobuf]\n"
                 "  protocols: [native, grpc]\n"
                 "  filters:\n"
                 "    - {module: auth_token, tokens: %s, required: %s}\n" RULES
                 "  services:\n"
                 "    - module: fxmeta\n",
                 F.tokens, strict ? "true" : "false");
        if (px_proc_start(strict ? &F.strict : &F.open, strict ? "strict" : "open", yaml) != 0)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = px_proc_stop(&F.strict), rc2 = px_proc_stop(&F.open), rc3 = px_proc_stop(&F.tls);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    if (system(cmd) != 0)
        return -1;
    return rc == 0 && rc2 == 0 && rc3 == 0 ? 0 : -1;
}

/* ---- native ------------------------------------------------------------------------ */

typedef enum { NONE, WRONG, BOB, ALICE } who;

/* A native client of srv whose upstream sends who's token (from a file, or alice's from
 * the environment), over TLS to the TLS server. */
static px_client *client_of(const px_proc *srv, who w, px_config **cfg)
{
    char path[128], up[1024] = "";
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    if (w == WRONG || w == BOB)
        snprintf(up, sizeof up, "      filters: [{module: auth_token, token_file: %s}]\n",
                 w == BOB ? F.bob_file : F.wrong_file);
    else if (w == ALICE)
        snprintf(up, sizeof up,
                 "      filters: [{module: auth_token, token_env: PX_TEST_ALICE_TOKEN}]\n");
    if (srv == &F.tls)
        snprintf(up + strlen(up), sizeof up - strlen(up), "      tls: {ca: %s/ca.pem}\n",
                 F.certs);
    /* Room for a TLS handshake with both sides under valgrind. */
    snprintf(up + strlen(up), sizeof up - strlen(up),
             "      timeout: { module: fixed, connect: 20s, call: 60s }\n");
    assert_int_equal(px_write_client_conf(path, &srv->port, 1, up), 0);
    px_err err;
    px_client *c = NULL;
    if (px_config_load(path, cfg, &err) != PX_OK || px_client_new(*cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    unlink(path);
    return c;
}

/* Calls method (Whoami or Echo) as w on srv: the status; msg the error or Whoami's id. */
static px_status call_as(const px_proc *srv, who w, const char *method, char *msg, size_t cap)
{
    px_config *cfg;
    px_client *c = client_of(srv, w, &cfg);
    Calc__WhoamiRequest wr = CALC__WHOAMI_REQUEST__INIT;
    Calc__EchoMsg er = CALC__ECHO_MSG__INIT;
    int whoami = strcmp(method, "Whoami") == 0;
    char full[64];
    snprintf(full, sizeof full, "calc.Calculator/%s", method);
    ProtobufCMessage *rep = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = px_call(c, full, whoami ? &wr.base : &er.base,
                           whoami ? &calc__whoami_reply__descriptor : &calc__echo_msg__descriptor,
                           NULL, &rep, &err);
    snprintf(msg, cap, "%s", st == PX_OK ? (whoami ? ((Calc__WhoamiReply *)rep)->id : "")
                                         : err.msg);
    px_msg_free(rep);
    px_client_free(c);
    px_config_free(cfg);
    return st;
}

typedef struct auth_case {
    who w;
    const char *method;
    px_status strict, open; /* the status on each server */
} auth_case;

/* Bob may call every method of calc.Calculator but Echo; alice (group admin) anything; a call without a
 * token only Echo, and only where tokens are not required; a wrong token nothing. */
static const auth_case CASES[] = {
    {NONE, "Echo", PX_UNAUTHENTICATED, PX_OK},
    {NONE, "Whoami", PX_UNAUTHENTICATED, PX_PERMISSION_DENIED},
    {WRONG, "Echo", PX_UNAUTHENTICATED, PX_UNAUTHENTICATED},
    {WRONG, "Whoami", PX_UNAUTHENTICATED, PX_UNAUTHENTICATED},
    {BOB, "Whoami", PX_OK, PX_OK},
    {BOB, "Echo", PX_PERMISSION_DENIED, PX_PERMISSION_DENIED},
    {ALICE, "Whoami", PX_OK, PX_OK},
    {ALICE, "Echo", PX_OK, PX_OK},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])
static const char *const NAMES[] = {"-", "wrong", "bob", "alice"};

/* What a call's answer must say beside its status. */
static void check_message(const auth_case *k, px_status st, const char *msg)
{
    if (st == PX_UNAUTHENTICATED)
        assert_string_equal(msg, "missing or invalid credentials");
    else if (st == PX_PERMISSION_DENIED) {
        char want[80];
        snprintf(want, sizeof want, "calc.Calculator/%s: permission denied", k->method);
        assert_string_equal(msg, want);
    } else if (strcmp(k->method, "Whoami") == 0) {
        char want[80];
        snprintf(want, sizeof want, "principal=%s", NAMES[k->w]); /* the handler's view */
        assert_string_equal(msg, want);
    }
}

/* The server at position s of the matrix: anonymous calls allowed, required, over TLS. */
static const px_proc *server_at(int s)
{
    return s == 0 ? &F.open : s == 1 ? &F.strict : &F.tls;
}

static void test_native_matrix(void **state)
{
    (void)state;
    for (int s = 0; s < 3; s++) {
        const px_proc *srv = server_at(s);
        int strict = s > 0;
        for (size_t i = 0; i < N_CASES; i++) {
            const auth_case *k = &CASES[i];
            char msg[300];
            px_status want = strict ? k->strict : k->open;
            px_status st = call_as(srv, k->w, k->method, msg, sizeof msg);
            if (st != want)
                fail_msg("%s server, %s calls %s: %s (%s), wanted %s", srv->id, NAMES[k->w],
                         k->method, px_status_name(st), msg, px_status_name(want));
            check_message(k, st, msg);
        }
    }
}

/* The authorization value's forms, sent as plain request metadata (no client filter):
 * the scheme in any case and more than one space pass; another scheme, a bare token, an
 * empty one, or two authorization entries (even both right) are refused alike. */
static void test_header_forms(void **state)
{
    (void)state;
    px_config *cfg;
    px_client *c = client_of(&F.open, NONE, &cfg);
    char right[200], upper[200], spaces[200];
    snprintf(right, sizeof right, "Bearer %s", F.bob);
    snprintf(upper, sizeof upper, "bEARER %s", F.bob);
    snprintf(spaces, sizeof spaces, "Bearer    %s", F.bob);
    char basic[200], bare[200], prefix[200];
    snprintf(basic, sizeof basic, "Basic %s", F.bob);
    snprintf(bare, sizeof bare, "%s", F.bob);
    snprintf(prefix, sizeof prefix, "Bearer %.32s", F.bob); /* half of a right token */
    const struct {
        const char *v1, *v2;
        px_status want;
    } forms[] = {
        {right, NULL, PX_OK},   {upper, NULL, PX_OK},   {spaces, NULL, PX_OK},
        {basic, NULL, PX_UNAUTHENTICATED},  {bare, NULL, PX_UNAUTHENTICATED},
        {"Bearer ", NULL, PX_UNAUTHENTICATED}, {"Bearer", NULL, PX_UNAUTHENTICATED},
        {"", NULL, PX_UNAUTHENTICATED},     {prefix, NULL, PX_UNAUTHENTICATED},
        {right, right, PX_UNAUTHENTICATED},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        px_meta *m = px_meta_new();
        px_err err;
        assert_int_equal(px_meta_add_str(m, "authorization", forms[i].v1, &err), PX_OK);
        if (forms[i].v2)
            assert_int_equal(px_meta_add_str(m, "authorization", forms[i].v2, &err), PX_OK);
        Calc__WhoamiRequest wr = CALC__WHOAMI_REQUEST__INIT;
        px_call_opts o = {.meta = m};
        ProtobufCMessage *rep = NULL;
        px_err_clear(&err);
        px_status st = px_call(c, "calc.Calculator/Whoami", &wr.base,
                               &calc__whoami_reply__descriptor, &o, &rep, &err);
        if (st != forms[i].want)
            fail_msg("authorization '%s'%s: %s (%s)", forms[i].v1, forms[i].v2 ? " twice" : "",
                     px_status_name(st), err.msg);
        if (st == PX_OK)
            assert_string_equal(((Calc__WhoamiReply *)rep)->id, "principal=bob");
        else
            assert_string_equal(err.msg, "missing or invalid credentials");
        px_msg_free(rep);
        px_meta_free(m);
    }
    px_client_free(c);
    px_config_free(cfg);
}

/* ---- gRPC -------------------------------------------------------------------------- */

static const char *grpc_code(px_status st)
{
    return st == PX_OK ? "OK" : st == PX_UNAUTHENTICATED ? "UNAUTHENTICATED" : "PERMISSION_DENIED";
}

static void test_grpc_matrix(void **state)
{
    (void)state;
    char script[640], addr[64], out[160], ca[600], cases[N_CASES][200];
    snprintf(script, sizeof script, "%s/tests/interop/grpc_auth.py", F.src);
    snprintf(out, sizeof out, "%s/grpc.out", F.dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", F.certs);
    for (int s = 0; s < 3; s++) {
        const px_proc *srv = server_at(s);
        int strict = s > 0, n = 0;
        char *argv[7 + N_CASES];
        argv[n++] = "/usr/bin/python3";
        argv[n++] = script;
        if (srv == &F.tls) { /* a TLS channel checking the server against the CA */
            argv[n++] = "--ca";
            argv[n++] = ca;
        }
        snprintf(addr, sizeof addr, "127.0.0.1:%d", srv->port);
        argv[n++] = addr;
        argv[n++] = F.dir;
        for (size_t i = 0; i < N_CASES; i++) {
            const auth_case *k = &CASES[i];
            const char *tok = k->w == NONE    ? "-"
                              : k->w == ALICE ? F.alice
                              : k->w == BOB   ? F.bob
                                              : "0123456789abcdef";
            px_status want = strict ? k->strict : k->open;
            snprintf(cases[i], sizeof cases[i], "%s,%s,%s%s%s", k->method, tok, grpc_code(want),
                     want == PX_OK && strcmp(k->method, "Whoami") == 0 ? ",principal=" : "",
                     want == PX_OK && strcmp(k->method, "Whoami") == 0 ? NAMES[k->w] : "");
            argv[n++] = cases[i];
        }
        argv[n] = NULL;
        pid_t pid = px_spawn(argv, out);
        assert_true(pid > 0);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        char text[8192] = "";
        FILE *f = fopen(out, "r");
        if (f) {
            size_t len = fread(text, 1, sizeof text - 1, f);
            text[len] = '\0';
            fclose(f);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !strstr(text, "grpc auth ok 8"))
            fail_msg("%s server: grpc_auth.py: status %d:\n%s", srv->id, status, text);
        /* The same answers, messages included, as the native calls got. */
        for (size_t i = 0; i < N_CASES; i++) {
            const auth_case *k = &CASES[i];
            px_status want = strict ? k->strict : k->open;
            char line[400], details[80] = "";
            if (want == PX_UNAUTHENTICATED)
                snprintf(details, sizeof details, "missing or invalid credentials");
            else if (want == PX_PERMISSION_DENIED)
                snprintf(details, sizeof details, "calc.Calculator/%s: permission denied",
                         k->method);
            else if (strcmp(k->method, "Whoami") == 0)
                snprintf(details, sizeof details, "principal=%s", NAMES[k->w]);
            snprintf(line, sizeof line, "ok %s: %s\n", cases[i], details);
            if (!strstr(text, line))
                fail_msg("%s server: no line '%s' in:\n%s", srv->id, line, text);
        }
    }
}

/* ---- refused at load --------------------------------------------------------------- */

/* Loads a server config with filters_yaml under server.filters, written to dir/c.yaml;
 * the message (or "" when it loads). */
static px_status load_server(const char *filters_yaml, char *msg, size_t cap)
{
    char path[128], yaml[2048];
    snprintf(path, sizeof path, "%s/c.yaml", F.dir);
    snprintf(yaml, sizeof yaml,
             "modules:\n"
             "  path: [%s]\n"
             "server:\n"
             "  listen: 127.0.0.1:1\n"
             "  codecs: [protobuf]\n"
             "  filters:\n"
             "%s"
             "  services:\n"
             "    - module: fxmeta\n",
             getenv("PX_MODULE_DIR"), filters_yaml);
    write_file(path, yaml, 0644);
    px_config *cfg = NULL;
    px_err err;
    px_err_clear(&err);
    px_status st = px_config_load(path, &cfg, &err);
    snprintf(msg, cap, "%s", st == PX_OK ? "" : err.msg);
    px_config_free(cfg);
    return st;
}

/* A token file with text and mode under dir; its name relative to the config. */
static const char *token_file(const char *name, const char *text, mode_t mode)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", F.dir, name);
    write_file(path, text, mode);
    return name;
}

static void expect_refused(const char *filters_yaml, const char *want_fmt, ...)
{
    char msg[1024], want[1024];
    va_list ap;
    va_start(ap, want_fmt);
    vsnprintf(want, sizeof want, want_fmt, ap);
    va_end(ap);
    assert_int_not_equal(load_server(filters_yaml, msg, sizeof msg), PX_OK);
    assert_string_equal(msg, want);
}

static void test_token_file_refused(void **state)
{
    (void)state;
    static const char good[] = "bob - 000102030405060708090a0b0c0d0e0f "
                               "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    char yaml[256], msg[1024];
    /* A relative path is the config file's folder's, and a good file loads. */
    snprintf(yaml, sizeof yaml, "    - {module: auth_token, tokens: %s}\n",
             token_file("t600", good, 0600));
    assert_int_equal(load_server(yaml, msg, sizeof msg), PX_OK);

    static const struct {
        mode_t mode;
    } loose[] = {{0640}, {0604}, {0620}, {0602}, {0660}, {0644}};
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++) {
        snprintf(yaml, sizeof yaml, "    - {module: auth_token, tokens: %s}\n",
                 token_file("tloose", good, loose[i].mode));
        expect_refused(yaml,
                       "%s/c.yaml:7:16: filter 'auth_token': tokens %s/tloose: readable or "
                       "writable by group or others (mode %04o); it holds secrets: refusing "
                       "it (fix: chmod go-rwx %s/tloose)",
                       F.dir, F.dir, (unsigned)loose[i].mode, F.dir);
    }
    expect_refused("    - {module: auth_token, tokens: /dev/null}\n",
                   "%s/c.yaml:7:16: filter 'auth_token': tokens /dev/null: not a regular file",
                   F.dir);
    expect_refused("    - {module: auth_token, tokens: absent}\n",
                   "%s/c.yaml:7:16: filter 'auth_token': tokens %s/absent: cannot open: No such "
                   "file or directory (relative to the config file's folder)",
                   F.dir, F.dir);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"# only a comment\n\n", "%s/tbad: no entries (one line per token: PRINCIPAL GROUPS "
                                 "SALT_HEX SHA256_HEX)"},
        {"bob - 00\n", "%s/tbad:1: expected 4 fields: PRINCIPAL GROUPS SALT_HEX SHA256_HEX "
                       "(make one with 'plexus token-hash')"},
        {"# ok\nbob - 000102030405060708090a0b0c0d0e0f 0011\n",
         "%s/tbad:2: the hash must be 64 hex digits (SHA-256)"},
        {"\nbob - 0001020304050607 00112233445566778899aabbccddeeff00112233445566778899aabbcc"
         "ddeeff\n",
         "%s/tbad:2: the salt must be 32 hex digits (16 bytes)"},
        {"bob a,,b 000102030405060708090a0b0c0d0e0f 00112233445566778899aabbccddeeff0011223"
         "3445566778899aabbccddeeff\n",
         "%s/tbad:1: groups must be '-' or names separated by commas (printable ASCII)"},
        {"anonymous - 000102030405060708090a0b0c0d0e0f 00112233445566778899aabbccddeeff0011"
         "2233445566778899aabbccddeeff\n",
         "%s/tbad:1: the principal 'anonymous' and principals beginning 'group:' are reserved"},
        {"bob - 000102030405060708090a0b0c0d0e0f 00112233445566778899aabbccddeeff00112233445"
         "566778899aabbccddeeff extra\n",
         "%s/tbad:1: expected 4 fields: PRINCIPAL GROUPS SALT_HEX SHA256_HEX (make one with "
         "'plexus token-hash')"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char why[512];
        snprintf(yaml, sizeof yaml, "    - {module: auth_token, tokens: %s}\n",
                 token_file("tbad", bad[i].text, 0600));
        snprintf(why, sizeof why, bad[i].why, F.dir);
        expect_refused(yaml, "%s/c.yaml:7:16: filter 'auth_token': %s", F.dir, why);
    }
}

static void test_acl_rules_refused(void **state)
{
    (void)state;
    expect_refused("    - module: acl\n"
                   "      rules:\n"
                   "        - allow group:admin *\n"
                   "        - allw bob calc.Calculator/Add\n",
                   "%s/c.yaml:10:11: filter 'acl': rules item 2: 'allw' is not allow or deny",
                   F.dir);
    expect_refused("    - module: acl\n"
                   "      rules: ['allow bob calc.Calculator/Add calc/Calc/X']\n",
                   "%s/c.yaml:8:15: filter 'acl': rules item 1: 'calc/Calc/X' is not *, "
                   "package.Service/* or package.Service/Method",
                   F.dir);
    expect_refused("    - module: acl\n"
                   "      rules:\n"
                   "        - allow bob\n",
                   "%s/c.yaml:9:11: filter 'acl': rules item 1 'allow bob' is not 'allow|deny "
                   "WHO METHOD...' (e.g. 'allow group:admin *')",
                   F.dir);
    expect_refused("    - module: acl\n"
                   "      rules:\n"
                   "        - 'deny group: *'\n",
                   "%s/c.yaml:9:11: filter 'acl': rules item 1: 'group:' names no group", F.dir);
    expect_refused("    - module: acl\n"
                   "      default: maybe\n"
                   "      rules: [allow * *]\n",
                   "%s/c.yaml:8:16: server.filters[0].default: 'maybe' is not one of: deny, allow", F.dir);
    expect_refused("    - {module: acl}\n",
                   "%s/c.yaml:7:7: server.filters[0]: missing required key 'rules'", F.dir);
}

/* A client upstream's token: from exactly one of token_file and token_env, checked. */
static void test_client_token_refused(void **state)
{
    (void)state;
    char path[128], msg[1024], want[1024], up[512];
    snprintf(path, sizeof path, "%s/client.yaml", F.dir);
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"      filters: [{module: auth_token, token_env: PX_TEST_NO_SUCH_VAR}]\n",
         "filter 'auth_token': environment variable PX_TEST_NO_SUCH_VAR (token_env) is not set"},
        {"      filters: [{module: auth_token, token_env: PX_TEST_EMPTY_TOKEN}]\n",
         "filter 'auth_token': environment variable PX_TEST_EMPTY_TOKEN (token_env): the token "
         "is empty"},
        {"      filters: [{module: auth_token, token_env: PX_TEST_ALICE_TOKEN, token_file: x}]\n",
         "filter 'auth_token': set exactly one of: tokens (a server checks tokens), token_file "
         "or token_env (a client upstream sends one)"},
        {"      filters: [{module: auth_token}]\n",
         "filter 'auth_token': set exactly one of: tokens (a server checks tokens), token_file "
         "or token_env (a client upstream sends one)"},
        {"      filters: [{module: auth_token, tokens: x}]\n",
         "filter 'auth_token': tokens is for server.filters (a client upstream sends a token: "
         "token_file or token_env)"},
        {"      filters: [{module: auth_mtls}]\n",
         "filter 'auth_mtls' cannot be used here: it is a server-side filter only"},
    };
    setenv("PX_TEST_EMPTY_TOKEN", "  \n", 1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0] + 1; i++) {
        size_t n_bad = sizeof bad / sizeof bad[0];
        const char *y = i < n_bad ? bad[i].yaml : NULL, *w = i < n_bad ? bad[i].want : NULL;
        char loose[256], wbuf[1024];
        if (i == n_bad) { /* a token file others may read */
            snprintf(loose, sizeof loose, "%s/loose.token", F.dir);
            write_file(loose, "abc\n", 0644);
            snprintf(up, sizeof up, "      filters: [{module: auth_token, token_file: %s}]\n",
                     loose);
            snprintf(wbuf, sizeof wbuf,
                     "filter 'auth_token': token_file %s: readable or writable by group or "
                     "others (mode 0644); it holds secrets: refusing it (fix: chmod go-rwx %s)",
                     loose, loose);
            y = up;
            w = wbuf;
        }
        assert_int_equal(px_write_client_conf(path, &F.strict.port, 1, y), 0);
        px_config *cfg = NULL;
        px_err err;
        px_err_clear(&err);
        assert_int_not_equal(px_config_load(path, &cfg, &err), PX_OK);
        /* "FILE:LINE:COL: " then the module's words. */
        const char *after = strstr(err.msg, ": filter ");
        snprintf(want, sizeof want, "%s", w);
        snprintf(msg, sizeof msg, "%s", after ? after + 2 : err.msg);
        assert_string_equal(msg, want);
        assert_int_equal(strncmp(err.msg, path, strlen(path)), 0);
    }
    unlink(path);
}

/* token-hash reads the token from stdin and says what is wrong with a bad one. */
static void test_token_hash_stdin(void **state)
{
    (void)state;
    char cmd[900], out[1024], err[512];
    snprintf(cmd, sizeof cmd, "printf ' %s\\r\\n' | %s/bin/plexus token-hash carol ops",
             F.bob, F.bin);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(err, "");
    /* "carol ops SALT HASH\n": the token read, trimmed, hashed with a fresh salt. */
    assert_int_equal(strncmp(out, "carol ops ", 10), 0);
    assert_int_equal(strlen(out), 10 + 32 + 1 + 64 + 1);
    snprintf(cmd, sizeof cmd, "printf 'two words' | %s/bin/plexus token-hash carol", F.bin);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 2);
    assert_string_equal(err, "plexus: token-hash: stdin: the token must be one line of "
                             "printable ASCII without blanks\nTry 'plexus token-hash --help' "
                             "for more information.\n");
    snprintf(cmd, sizeof cmd, "printf x | %s/bin/plexus token-hash group:x", F.bin);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 2);
    assert_string_equal(err, "plexus: token-hash: 'group:x': the principal 'anonymous' and "
                             "principals beginning 'group:' are reserved\nTry 'plexus "
                             "token-hash --help' for more information.\n");
    snprintf(cmd, sizeof cmd, "printf short | %s/bin/plexus token-hash carol", F.bin);
    assert_int_equal(px_run(argv, out, sizeof out, err, sizeof err), 2);
    assert_string_equal(err, "plexus: token-hash: the token must be 16 to 4096 bytes (a short "
                             "one is easy to find from its hash: use --generate)\nTry 'plexus "
                             "token-hash --help' for more information.\n");
    assert_string_equal(out, "");
}

/* ---- auth_mtls: the client certificate names the caller ----------------------------- */

/* Whoami on srv over TLS, presenting client cert NAME.pem (NULL: none). */
static px_status mtls_whoami(const px_proc *srv, const char *cert, char *msg, size_t cap)
{
    char path[128], up[1024];
    snprintf(path, sizeof path, "%s/mtls-client.yaml", F.dir);
    int n = snprintf(up, sizeof up, "      tls:\n        ca: %s/ca.pem\n", F.certs);
    if (cert)
        n += snprintf(up + n, sizeof up - (size_t)n,
                      "        cert: %s/%s.pem\n        key: %s/%s.key\n", F.certs, cert,
                      F.certs, cert);
    snprintf(up + n, sizeof up - (size_t)n,
             "      timeout: { module: fixed, connect: 20s, call: 60s }\n");
    assert_int_equal(px_write_client_conf(path, &srv->port, 1, up), 0);
    px_config *cfg = NULL;
    px_client *c = NULL;
    px_err err;
    if (px_config_load(path, &cfg, &err) != PX_OK || px_client_new(cfg, "calc", &c, &err) != PX_OK)
        fail_msg("client: %s", err.msg);
    unlink(path);
    Calc__WhoamiRequest wr = CALC__WHOAMI_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    px_err_clear(&err);
    px_status st = px_call(c, "calc.Calculator/Whoami", &wr.base, &calc__whoami_reply__descriptor,
                           NULL, &rep, &err);
    snprintf(msg, cap, "%s", st == PX_OK ? ((Calc__WhoamiReply *)rep)->id : err.msg);
    px_msg_free(rep);
    px_client_free(c);
    px_config_free(cfg);
    return st;
}

static void test_mtls_principal(void **state)
{
    (void)state;
    char yaml[2048], msg[512];
    for (int uri = 0; uri < 2; uri++) {
        /* verify_client optional: a client without a certificate gets through TLS, and
         * auth_mtls (required by default) refuses its calls. */
        snprintf(yaml, sizeof yaml,
                 "  codecs: [protobuf]\n"
                 "  tls: {cert: %s/server.pem, key: %s/server.key, ca: %s/ca.pem,"
                 " verify_client: optional}\n"
                 "  filters:\n"
                 "    - {module: auth_mtls, principal: %s}\n"
                 "    - module: acl\n"
                 "      rules: ['allow %s calc.Calculator/Whoami']\n"
                 "  services:\n"
                 "    - module: fxmeta\n",
                 F.certs, F.certs, F.certs, uri ? "uri" : "cn",
                 uri ? "spiffe://plexus.test/alice" : "alice");
        px_proc srv;
        assert_int_equal(px_proc_start(&srv, "mtls", yaml), 0);
        assert_int_equal(mtls_whoami(&srv, "client", msg, sizeof msg), PX_OK);
        assert_string_equal(msg, uri ? "principal=spiffe://plexus.test/alice"
                                     : "principal=alice");
        assert_int_equal(mtls_whoami(&srv, NULL, msg, sizeof msg), PX_UNAUTHENTICATED);
        assert_string_equal(msg, "missing or invalid credentials");
        assert_int_equal(px_proc_stop(&srv), 0);
    }
    /* required: false: without a certificate the call goes on anonymous, and acl says. */
    snprintf(yaml, sizeof yaml,
             "  codecs: [protobuf]\n"
             "  tls: {cert: %s/server.pem, key: %s/server.key, ca: %s/ca.pem,"
             " verify_client: optional}\n"
             "  filters:\n"
             "    - {module: auth_mtls, required: false}\n"
             "    - module: acl\n"
             "      rules: ['allow alice calc.Calculator/Whoami']\n"
             "  services:\n"
             "    - module: fxmeta\n",
             F.certs, F.certs, F.certs);
    px_proc srv;
    assert_int_equal(px_proc_start(&srv, "mtls", yaml), 0);
    assert_int_equal(mtls_whoami(&srv, NULL, msg, sizeof msg), PX_PERMISSION_DENIED);
    assert_string_equal(msg, "calc.Calculator/Whoami: permission denied");
    assert_int_equal(mtls_whoami(&srv, "client", msg, sizeof msg), PX_OK);
    assert_int_equal(px_proc_stop(&srv), 0);
    /* Only names a principal can be: a subject (with its commas) cannot. */
    expect_refused("    - {module: auth_mtls, principal: subject}\n",
                   "%s/c.yaml:7:38: server.filters[0].principal: 'subject' is not one of: "
                   "cn, uri, dns, email", F.dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_native_matrix),
        cmocka_unit_test(test_header_forms),
        cmocka_unit_test(test_grpc_matrix),
        cmocka_unit_test(test_token_file_refused),
        cmocka_unit_test(test_acl_rules_refused),
        cmocka_unit_test(test_client_token_refused),
        cmocka_unit_test(test_token_hash_stdin),
        cmocka_unit_test(test_mtls_principal),
    };
    return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
