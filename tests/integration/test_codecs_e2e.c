/* One plexusd, four codecs at once: protobuf, JSON, XML and binary clients on the same
 * port with their calls interleaved, every corpus message echoed back equal through each;
 * a codec the server lacks refused by name; and `plexus call` giving the same answer
 * whichever codec the client config names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calc.pb-c.h"
#include "plexus/plexus.h"
#include "px_proc.h"
#include "px_test_calc.h"
#include "px_test_msg.h"
#include "px_time.h"

#define N_CODECS 4
#define RICH_SAMPLE 17

static const char *const codec_names[N_CODECS] = { "protobuf", "xml", "binary", "json" };

typedef struct fixture {
    px_proc srv;     /* codecs: all four */
    px_proc narrow;  /* codecs: protobuf and json only */
    char conf[N_CODECS][256];
    char narrow_conf[256];
    px_config *cfg[N_CODECS];
    px_client *cl[N_CODECS];
    char plexus[512];
} fixture;

/* The client config: the same for every codec but for the `codec:` line. */
static int write_conf(const char *path, int port, const char *codec)
{
    char upstream[256];
    snprintf(upstream, sizeof upstream,
             "      codec: %s\n"
             "      timeout: { module: fixed, connect: 1s, call: 10s }\n",
             codec);
    return px_write_client_conf(path, &port, 1, upstream);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f == NULL)
        return -1;
    for (int i = 0; i < N_CODECS; i++) {
        px_client_free(f->cl[i]);
        px_config_free(f->cfg[i]);
        unlink(f->conf[i]);
    }
    unlink(f->narrow_conf);
    int rc = f->srv.pid > 0 ? px_proc_stop(&f->srv) : 0;
    int rc2 = f->narrow.pid > 0 ? px_proc_stop(&f->narrow) : 0;
    free(f);
    return rc == 0 && rc2 == 0 ? 0 : -1;
}

static int start(fixture *f);

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *bin = getenv("PX_BINARY_DIR");
    if (f == NULL || bin == NULL) {
        fprintf(stderr, "PX_BINARY_DIR is not set: run through ctest\n");
        free(f);
        return -1;
    }
    *state = f;
    snprintf(f->plexus, sizeof f->plexus, "%s/bin/plexus", bin);
    if (start(f) != 0) { /* nothing started is left running */
        teardown(state);
        *state = NULL;
        return -1;
    }
    return 0;
}

static int start(fixture *f)
{
    if (px_proc_start(&f->srv, "codecs4",
                      "  io_threads: 2\n"
                      "  codecs: [protobuf, json, xml, binary]\n"
                      "  services:\n"
                      "    - module: calc\n"
                      "      workers: 2\n") != 0)
        return -1;
    if (px_proc_start(&f->narrow, "codecs2",
                      "  codecs: [protobuf, json]\n"
                      "  services:\n"
                      "    - module: calc\n") != 0)
        return -1;
    for (int i = 0; i < N_CODECS; i++) {
        snprintf(f->conf[i], sizeof f->conf[i], "%s/client-%s.yaml", f->srv.dir, codec_names[i]);
        px_err err = { 0 };
        if (write_conf(f->conf[i], f->srv.port, codec_names[i]) != 0 ||
            px_config_load(f->conf[i], &f->cfg[i], &err) != PX_OK ||
            px_client_new(f->cfg[i], "calc", &f->cl[i], &err) != PX_OK) {
            fprintf(stderr, "client %s: %s\n", codec_names[i], err.msg);
            return -1;
        }
    }
    snprintf(f->narrow_conf, sizeof f->narrow_conf, "%s/client-binary.yaml", f->narrow.dir);
    if (write_conf(f->narrow_conf, f->narrow.port, "binary") != 0)
        return -1;
    return 0;
}

/* ---- four clients, one port, calls interleaved -------------------------------------------- */

typedef struct tally {
    int done, ok;
    char first_error[600]; /* written once, by the first call that goes wrong */
    int errors;
} tally;

typedef struct echo_call {
    tally *t;
    const char *codec;
    const ProtobufCMessage *want;
} echo_call;

static void echo_done(void *user, px_status st, const char *msg, const ProtobufCMessage *reply)
{
    echo_call *c = user;
    char why[512] = "";
    int right = st == PX_OK && reply != NULL && px_test_msg_equal(c->want, reply, why, sizeof why);
    if (right) {
        __atomic_add_fetch(&c->t->ok, 1, __ATOMIC_RELAXED);
    } else if (__atomic_fetch_add(&c->t->errors, 1, __ATOMIC_ACQ_REL) == 0) {
        snprintf(c->t->first_error, sizeof c->t->first_error, "codec %s: %s %s", c->codec,
                 px_status_name(st), st == PX_OK ? why : msg);
    }
    __atomic_add_fetch(&c->t->done, 1, __ATOMIC_RELEASE);
}

static int wait_done(tally *t, int want, int64_t max_us)
{
    int64_t end = px_mono_us() + max_us;
    while (__atomic_load_n(&t->done, __ATOMIC_ACQUIRE) < want && px_mono_us() < end) {
        struct timespec ts = { 0, 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return __atomic_load_n(&t->done, __ATOMIC_ACQUIRE) >= want;
}

/* Rounds of one asynchronous Echo per client, all in flight together on the same port. */
static void test_four_codecs_interleaved(void **state)
{
    fixture *f = *state;
    enum { ROUNDS = 50 };
    Calc__EchoMsg rich;
    px_test_echo_sample(RICH_SAMPLE, &rich);
    tally t = { 0 };
    echo_call *calls = calloc(ROUNDS * N_CODECS, sizeof *calls);
    assert_non_null(calls);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N_CODECS; i++) {
            echo_call *c = &calls[r * N_CODECS + i];
            *c = (echo_call){ &t, codec_names[i], &rich.base };
            px_err err;
            if (px_call_async(f->cl[i], "calc.Calculator/Echo", &rich.base, &calc__echo_msg__descriptor, NULL,
                              echo_done, c, &err) != PX_OK)
                fail_msg("codec %s: px_call_async: %s", codec_names[i], err.msg);
        }
    }
    assert_true(wait_done(&t, ROUNDS * N_CODECS, 60 * 1000000));
    if (t.errors != 0)
        fail_msg("%d of %d echoes wrong; first: %s", t.errors, ROUNDS * N_CODECS, t.first_error);
    assert_int_equal(t.ok, ROUNDS * N_CODECS);
    free(calls);
}

/* Every corpus message comes back equal through every codec (blocking calls). */
static void test_corpus_through_each_codec(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < N_CODECS; i++) {
        for (size_t s = 0; s < px_test_echo_sample_count(); s++) {
            Calc__EchoMsg m;
            const char *what = px_test_echo_sample(s, &m);
            ProtobufCMessage *rep = NULL;
            px_err err;
            if (px_call(f->cl[i], "calc.Calculator/Echo", &m.base, &calc__echo_msg__descriptor, NULL, &rep,
                        &err) != PX_OK)
                fail_msg("codec %s, sample %zu (%s): %s", codec_names[i], s, what, err.msg);
            char why[512];
            if (!px_test_msg_equal(&m.base, rep, why, sizeof why))
                fail_msg("codec %s, sample %zu (%s): %s", codec_names[i], s, what, why);
            px_msg_free(rep);
        }
    }
}

/* A client naming a codec the server was not configured with hears which one. */
static void test_codec_the_server_lacks(void **state)
{
    fixture *f = *state;
    px_config *cfg;
    px_client *cl;
    px_err err;
    assert_int_equal(px_config_load(f->narrow_conf, &cfg, &err), PX_OK);
    assert_int_equal(px_client_new(cfg, "calc", &cl, &err), PX_OK);
    Calc__AddRequest req = CALC__ADD_REQUEST__INIT;
    ProtobufCMessage *rep = NULL;
    assert_int_equal(px_call(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor, NULL, &rep, &err),
                     PX_UNIMPLEMENTED);
    assert_null(rep);
    if (strstr(err.msg, "codec 'binary' is not available on server codecs2 (it has: protobuf, json)") == NULL)
        fail_msg("blocking call: %s", err.msg);
    assert_int_equal(px_call_wait(cl, "calc.Calculator/Add", &req.base, &calc__add_reply__descriptor, NULL, &rep,
                                  &err),
                     PX_UNIMPLEMENTED);
    if (strstr(err.msg, "codec 'binary'") == NULL)
        fail_msg("asynchronous call: %s", err.msg);
    px_client_free(cl);
    px_config_free(cfg);
}

/* ---- the CLI: one line of config switches the codec, the answer stays the same --------- */

static void plexus_call(fixture *f, const char *conf, const char *method, const char *json, char *out,
                        size_t cap)
{
    char *argv[] = { f->plexus, "call", "-c", (char *)conf, (char *)method, (char *)json, NULL };
    char err[4096];
    int rc = px_run(argv, out, cap, err, sizeof err);
    if (rc != 0 || err[0] != '\0')
        fail_msg("plexus call -c %s %s: exit %d, stderr: %s", conf, method, rc, err);
}

static void test_cli_same_answer_through_each_codec(void **state)
{
    fixture *f = *state;
    static const char echo_json[] =
        "{\"fDouble\":-0.5,\"fInt64\":\"-9223372036854775808\",\"fUint64\":\"18446744073709551615\","
        "\"fBool\":true,\"fString\":\"h\xc3\xa9llo <&> \\\"q\\\"\",\"fBytes\":\"AP8=\",\"rInt32\":[1,-2],"
        "\"inner\":{\"id\":3,\"children\":[{\"name\":\"c\"}]},\"color\":\"BLUE\",\"rColor\":[\"RED\",7],"
        "\"cNumber\":\"0\",\"attrs\":{\"k\":1}}";
    char first[4096] = "";
    for (int i = 0; i < N_CODECS; i++) {
        char out[4096];
        plexus_call(f, f->conf[i], "calc.Calculator/Add", "{\"a\":2,\"b\":3}", out, sizeof out);
        if (strcmp(out, "{\"sum\":\"5\"}\n") != 0)
            fail_msg("codec %s: Add answered %s", codec_names[i], out);
        plexus_call(f, f->conf[i], "calc.Calculator/Echo", echo_json, out, sizeof out);
        if (i == 0)
            strcpy(first, out);
        else if (strcmp(out, first) != 0)
            fail_msg("codec %s: Echo answered\n%s\nbut codec %s answered\n%s", codec_names[i], out,
                     codec_names[0], first);
    }
    /* The answer holds what was sent (the JSON codec's own spelling of it). */
    assert_non_null(strstr(first, "\"fInt64\":\"-9223372036854775808\""));
    assert_non_null(strstr(first, "\"cNumber\":\"0\""));
    assert_non_null(strstr(first, "\"rColor\":[\"RED\",7]"));
    assert_non_null(strstr(first, "\"attrs\":{\"k\":1}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_codecs_interleaved),
        cmocka_unit_test(test_corpus_through_each_codec),
        cmocka_unit_test(test_codec_the_server_lacks),
        cmocka_unit_test(test_cli_same_answer_through_each_codec),
    };
    return cmocka_run_group_tests_name("codecs_e2e", tests, setup, teardown);
}
