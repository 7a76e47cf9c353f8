/* The public view of a loaded config (plexus/px_config.h) and codec instances outside a
 * call (px_codec_open): what the CLI and the codec bench are built on. Public API only. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "plexus/plexus.h"
#include "calc.pb-c.h"

static const char cfg_text[] =
    "client:\n"
    "  descriptors: [calc]\n"
    "  io_threads: 2\n"
    "  upstreams:\n"
    "    a:\n"
    "      endpoints: [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n"
    "      codec: json\n"
    "    b:\n"
    "      endpoints: [\"127.0.0.1:3\"]\n";

static px_config *load(void)
{
    char text[1024];
    snprintf(text, sizeof text, "modules:\n  path: [\"%s\"]\n%s", getenv("PX_MODULE_DIR"),
             cfg_text);
    px_err err;
    px_err_clear(&err);
    px_config *cfg = NULL;
    if (px_config_parse(text, strlen(text), "q.yaml", &cfg, &err) != PX_OK)
        print_error("%s\n", err.msg);
    assert_non_null(cfg);
    return cfg;
}

static void test_view(void **state)
{
    (void)state;
    px_config *cfg = load();
    assert_string_equal(px_config_file(cfg), "q.yaml");
    assert_int_equal(px_config_io_threads(cfg), 2);

    /* Every loaded module with its file; calc among them. */
    int saw_calc = 0, saw_json = 0;
    for (size_t i = 0; i < px_config_module_count(cfg); i++) {
        const char *path = NULL;
        const px_module *m = px_config_module(cfg, i, &path);
        assert_non_null(m);
        assert_non_null(path);
        saw_calc += m->kind == PX_MOD_SERVICE && strcmp(m->name, "calc") == 0;
        saw_json += m->kind == PX_MOD_CODEC && strcmp(m->name, "json") == 0;
    }
    assert_int_equal(saw_calc, 1);
    assert_int_equal(saw_json, 1);
    assert_null(px_config_module(cfg, px_config_module_count(cfg), NULL));

    assert_int_equal(px_config_descriptor_count(cfg), 1);
    const px_module *mod = NULL;
    const ProtobufCServiceDescriptor *sd = px_config_descriptor(cfg, 0, &mod);
    assert_non_null(sd);
    assert_string_equal(sd->name, "calc.Calculator");
    assert_string_equal(mod->name, "calc");
    assert_null(px_config_descriptor(cfg, 1, &mod));
    assert_null(mod);

    assert_int_equal(px_config_upstream_count(cfg), 2);
    assert_string_equal(px_config_upstream_name(cfg, 0), "a");
    assert_string_equal(px_config_upstream_name(cfg, 1), "b");
    assert_null(px_config_upstream_name(cfg, 2));
    assert_string_equal(px_config_upstream_codec(cfg, "a"), "json");
    assert_string_equal(px_config_upstream_codec(cfg, "b"), "protobuf");
    assert_null(px_config_upstream_codec(cfg, "nope"));
    assert_int_equal(px_config_upstream_endpoints(cfg, "a"), 2);
    assert_int_equal(px_config_upstream_endpoints(cfg, "nope"), 0);

    px_err err;
    px_err_clear(&err);
    assert_int_equal(px_config_upstream_set_connections(cfg, "a", 4, &err), PX_OK);
    assert_int_equal(px_config_upstream_set_connections(cfg, "a", 0, &err),
                     PX_INVALID_ARGUMENT);
    assert_non_null(strstr(err.msg, "out of range 1..64"));
    assert_int_equal(px_config_upstream_set_connections(cfg, "zz", 2, &err), PX_NOT_FOUND);
    assert_non_null(strstr(err.msg, "no upstream 'zz'"));
    px_config_free(cfg);
}

/* A codec run on its own: JSON in, the message, JSON out; from a config, by file, and
 * with no config at all. */
static void round_trip(px_codec_handle *h)
{
    const px_codec_ops *ops = px_codec_handle_ops(h);
    void *st = px_codec_handle_state(h);
    static const char in[] = "{\"a\":\"40\",\"b\":\"2\"}";
    ProtobufCMessage *m = NULL;
    px_err err;
    px_err_clear(&err);
    assert_int_equal(ops->decode(st, &calc__add_request__descriptor, (const uint8_t *)in,
                                 sizeof in - 1, &m, &err),
                     PX_OK);
    assert_int_equal(((Calc__AddRequest *)m)->a, 40);
    px_buf out = {0};
    assert_int_equal(ops->encode(st, m, &out, &err), PX_OK);
    assert_non_null(memmem(out.data, out.len, "\"b\"", 3));
    px_buf_free(&out);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void test_codec_open(void **state)
{
    (void)state;
    px_config *cfg = load();
    px_err err;
    px_err_clear(&err);
    px_codec_handle *h = NULL;
    assert_int_equal(px_codec_open(cfg, "json", "test", &h, &err), PX_OK);
    assert_string_equal(px_codec_handle_module(h)->name, "json");
    assert_non_null(strstr(px_codec_handle_path(h), "codec_json.so"));
    round_trip(h);
    px_codec_close(h);

    char file[1024];
    snprintf(file, sizeof file, "%s/codec_json.so", getenv("PX_MODULE_DIR"));
    assert_int_equal(px_codec_open(NULL, file, "test", &h, &err), PX_OK);
    round_trip(h);
    px_codec_close(h);

    /* Refusals say what and where; nothing is left open. */
    assert_int_not_equal(px_codec_open(cfg, "nosuch", "test", &h, &err), PX_OK);
    assert_null(h);
    assert_non_null(strstr(err.msg, "codec_nosuch.so"));
    assert_int_not_equal(px_codec_open(cfg, "calc", "test", &h, &err), PX_OK);
    assert_null(h);
    px_codec_close(NULL);
    px_config_free(cfg);
}

static void test_misc(void **state)
{
    (void)state;
    assert_string_equal(px_dir_type_name(PX_DIR_SIZE), "size");
    assert_string_equal(px_dir_type_name((px_dir_type)99), "unknown");
    assert_non_null(px_module_dir());
    assert_true(px_module_dir()[0] != '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view),
        cmocka_unit_test(test_codec_open),
        cmocka_unit_test(test_misc),
    };
    return cmocka_run_group_tests_name("px_config_query", tests, NULL, NULL);
}
