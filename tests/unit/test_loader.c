/* px_loader: search order, caching, listing and every refusal's message, on the fixture .so files. */
#define _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, dl_iterate_phdr */
#include <dlfcn.h>
#include <link.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "px_kinds.h"
#include "px_loader.h"

/* cmocka's assert_non_null(strstr()) hides the message; this shows it. */
#define assert_contains(hay, needle)                                                      \
    do {                                                                                  \
        if (strstr((hay), (needle)) == NULL) {                                            \
            print_error("message \"%s\"\n  lacks \"%s\"\n", (hay), (needle));             \
            fail();                                                                       \
        }                                                                                 \
    } while (0)

typedef struct fx {
    const char *fixdir; /* PX_FIXTURE_DIR: the built fixtures */
    char tmp_a[64];     /* scratch directories, removed in teardown */
    char tmp_b[64];
    char cwd[4096];
    px_loader *l;       /* searches fixdir only */
    px_err err;
    char buf[1024];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->fixdir = getenv("PX_FIXTURE_DIR");
    if (f->fixdir == NULL) {
        print_error("PX_FIXTURE_DIR is not set (run through ctest)\n");
        free(f);
        return -1;
    }
    strcpy(f->tmp_a, "/tmp/px_loader_a.XXXXXX");
    strcpy(f->tmp_b, "/tmp/px_loader_b.XXXXXX");
    if (mkdtemp(f->tmp_a) == NULL || mkdtemp(f->tmp_b) == NULL || !getcwd(f->cwd, sizeof f->cwd))
        return -1;
    f->l = px_loader_new();
    if (f->l == NULL || px_loader_add_path(f->l, f->fixdir) != 0)
        return -1;
    px_err_clear(&f->err);
    *state = f;
    return 0;
}

/* Removes the files a test put in a scratch directory, then the directory. */
static void rm_tree(const char *dir)
{
    static const char *const names[] = {"lb_good.so", "lb_garbage.so", "lb_dirmod.so", NULL};
    char p[256];
    for (int i = 0; names[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
        rmdir(p);
    }
    rmdir(dir);
}

static int teardown(void **state)
{
    fx *f = *state;
    px_loader_free(f->l);
    if (chdir(f->cwd) != 0)
        return -1;
    rm_tree(f->tmp_a);
    rm_tree(f->tmp_b);
    free(f);
    return 0;
}

static const char *fixture(fx *f, const char *file)
{
    snprintf(f->buf, sizeof f->buf, "%s/%s", f->fixdir, file);
    return f->buf;
}

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char b[8192];
    size_t n;
    while ((n = fread(b, 1, sizeof b, in)) > 0)
        assert_int_equal(fwrite(b, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* Loads a balancer fixture by name, expects refusal `st`, returns the message. */
static const char *refuse(fx *f, const char *name, px_status st)
{
    const px_module *m = NULL;
    const char *path = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, name, &m, &path, &f->err), st);
    assert_int_equal(f->err.status, st);
    assert_null(m);
    assert_int_equal(px_loader_count(f->l), 0);
    /* Every refusal says which module was asked for and which file refused. */
    char head[128], file[512];
    snprintf(head, sizeof head, "module '%s' (balancer): ", name);
    snprintf(file, sizeof file, "%s/lb_%s.so: ", f->fixdir, name);
    assert_contains(f->err.msg, head);
    assert_contains(f->err.msg, file);
    return f->err.msg;
}

static void test_kind_names(void **state)
{
    assert_string_equal(px_module_kind_name(PX_MOD_CODEC), "codec");
    assert_string_equal(px_module_kind_name(PX_MOD_BALANCER), "balancer");
    assert_string_equal(px_module_kind_name(PX_MOD_FAILOVER), "failover");
    assert_string_equal(px_module_kind_name(PX_MOD_TIMEOUT), "timeout");
    assert_string_equal(px_module_kind_name(PX_MOD_SERVICE), "service");
    assert_string_equal(px_module_kind_name(PX_MOD_REGISTRY), "registry");
    assert_string_equal(px_module_kind_name((px_module_kind)42), "unknown");
    assert_string_equal(px_module_kind_prefix(PX_MOD_CODEC), "codec_");
    assert_string_equal(px_module_kind_prefix(PX_MOD_BALANCER), "lb_");
    assert_string_equal(px_module_kind_prefix(PX_MOD_FAILOVER), "failover_");
    assert_string_equal(px_module_kind_prefix(PX_MOD_TIMEOUT), "timeout_");
    assert_string_equal(px_module_kind_prefix(PX_MOD_SERVICE), "service_");
    assert_string_equal(px_module_kind_prefix(PX_MOD_REGISTRY), "registry_");
}

/* The registry is the one list of kinds: every row is complete and unique, its number
 * fits the per-kind arrays, and the loader's names come from it. */
static void test_kind_registry(void **state)
{
    (void)state;
    size_t n;
    const px_kind *k = px_kinds_all(&n);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        assert_true(k[i].id > 0 && k[i].id < PX_KIND_LIMIT);
        assert_ptr_equal(px_kind_get(k[i].id), &k[i]);
        assert_non_null(k[i].name);
        assert_non_null(k[i].missing_op);
        assert_true(k[i].since_minor <= PX_ABI_MINOR);
        assert_string_equal(px_module_kind_name(k[i].id), k[i].name);
        assert_true(strlen(k[i].prefix) > 1 && k[i].prefix[strlen(k[i].prefix) - 1] == '_');
        for (size_t j = 0; j < i; j++) {
            assert_true(k[j].id != k[i].id);
            assert_string_not_equal(k[j].name, k[i].name);
            assert_string_not_equal(k[j].prefix, k[i].prefix);
            if (k[i].upstream.key && k[j].upstream.key)
                assert_string_not_equal(k[j].upstream.key, k[i].upstream.key);
            if (k[i].server.key && k[j].server.key)
                assert_string_not_equal(k[j].server.key, k[i].server.key);
        }
        /* A one-module kind with a default is always there; a list may be empty. */
        if (k[i].upstream.def)
            assert_non_null(k[i].upstream.key);
    }
    assert_null(px_kind_get((px_module_kind)0));
    assert_null(px_kind_get((px_module_kind)(PX_KIND_LIMIT + 3)));
}

static void test_paths(void **state)
{
    fx *f = *state;
    assert_int_equal(px_loader_add_path(f->l, f->tmp_a), 0);
    assert_int_equal(px_loader_path_count(f->l), 2);
    assert_string_equal(px_loader_path_at(f->l, 0), f->fixdir);
    assert_string_equal(px_loader_path_at(f->l, 1), f->tmp_a);
    assert_null(px_loader_path_at(f->l, 2));
    /* An empty entry would let dlopen search the system library path. */
    assert_int_equal(px_loader_add_path(f->l, ""), -1);
    assert_int_equal(px_loader_path_count(f->l), 2);
}

static void test_load_good(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    const char *path = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m, &path, &f->err), PX_OK);
    assert_non_null(m);
    assert_string_equal(m->name, "good");
    assert_int_equal(m->kind, PX_MOD_BALANCER);
    assert_int_equal(m->abi_major, PX_ABI_MAJOR);
    assert_string_equal(path, fixture(f, "lb_good.so"));
    assert_string_equal(m->directives[0].name, "limit");
    assert_string_equal(m->directives[1].name, "delay");
    assert_null(m->directives[2].name);
    assert_int_equal(px_loader_count(f->l), 1);
}

static void test_cache_hit(void **state)
{
    fx *f = *state;
    const px_module *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;
    const char *p1 = NULL, *p2 = NULL, *p4 = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m1, &p1, &f->err), PX_OK);
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m2, &p2, &f->err), PX_OK);
    assert_ptr_equal(m1, m2);
    assert_ptr_equal(p1, p2);
    /* The same file named explicitly is the same object, not a duplicate. */
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_good.so"), PX_MOD_BALANCER, &m3,
                                         &f->err),
                     PX_OK);
    assert_ptr_equal(m1, m3);
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, fixture(f, "lb_good.so"), &m4, &p4,
                                    &f->err),
                     PX_OK);
    assert_ptr_equal(m1, m4);
    assert_ptr_equal(p1, p4);
    assert_int_equal(px_loader_count(f->l), 1);
    /* Cached as a balancer: asking for a codec named "good" searches codec_good.so. */
    assert_int_equal(px_loader_load(f->l, PX_MOD_CODEC, "good", &m4, NULL, &f->err),
                     PX_NOT_FOUND);
    assert_contains(f->err.msg, "codec_good.so not found");
}

static void test_search_order(void **state)
{
    fx *f = *state;
    char copy[256], want[256];
    snprintf(copy, sizeof copy, "%s/lb_good.so", f->tmp_a);
    copy_file(fixture(f, "lb_good.so"), copy);

    /* [tmp_a, fixdir]: the first directory holding the file wins. */
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, f->tmp_a), 0);
    assert_int_equal(px_loader_add_path(l, f->fixdir), 0);
    const px_module *m = NULL;
    const char *path = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "good", &m, &path, &f->err), PX_OK);
    assert_string_equal(path, copy);
    px_loader_free(l);

    /* [tmp_b (empty, trailing slash), fixdir]: a directory without it is skipped. */
    l = px_loader_new();
    snprintf(want, sizeof want, "%s/", f->tmp_b);
    assert_int_equal(px_loader_add_path(l, want), 0);
    assert_int_equal(px_loader_add_path(l, f->fixdir), 0);
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "good", &m, &path, &f->err), PX_OK);
    assert_string_equal(path, fixture(f, "lb_good.so"));
    px_loader_free(l);
}

static void test_not_found_lists_paths(void **state)
{
    fx *f = *state;
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, f->tmp_a), 0);
    assert_int_equal(px_loader_add_path(l, f->tmp_b), 0);
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "nope", &m, NULL, &f->err),
                     PX_NOT_FOUND);
    char want[512];
    snprintf(want, sizeof want,
             "module 'nope' (balancer): lb_nope.so not found; searched: %s/lb_nope.so, "
             "%s/lb_nope.so",
             f->tmp_a, f->tmp_b);
    assert_string_equal(f->err.msg, want);
    assert_null(m);
    px_loader_free(l);

    l = px_loader_new();
    assert_int_equal(px_loader_load(l, PX_MOD_TIMEOUT, "fixed", &m, NULL, &f->err),
                     PX_NOT_FOUND);
    assert_string_equal(f->err.msg, "module 'fixed' (timeout): timeout_fixed.so not found; "
                                    "searched: (no module path configured)");
    px_loader_free(l);
}

static void test_never_from_cwd(void **state)
{
    fx *f = *state;
    /* lb_good.so sits in the current directory, which is not on the path. */
    assert_int_equal(chdir(f->fixdir), 0);
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, f->tmp_a), 0);
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "good", &m, NULL, &f->err),
                     PX_NOT_FOUND);
    assert_contains(f->err.msg, "lb_good.so not found");
    /* Named as a file, it is found there explicitly. */
    assert_int_equal(px_loader_load_file(l, "lb_good.so", 0, &m, &f->err), PX_OK);
    const char *path = NULL;
    assert_ptr_equal(px_loader_at(l, 0, &path), m);
    assert_string_equal(path, "./lb_good.so");
    px_loader_free(l);
}

static void test_refuse_not_elf(void **state)
{
    fx *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/lb_garbage.so", f->tmp_a);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("this is not an ELF shared object\n", fp);
    fclose(fp);
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, f->tmp_a), 0);
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "garbage", &m, NULL, &f->err),
                     PX_FAILED_PRECONDITION);
    char want[512];
    snprintf(want, sizeof want, "module 'garbage' (balancer): %s: cannot be loaded: ", p);
    assert_contains(f->err.msg, want);
    assert_int_equal(px_loader_count(l), 0);
    px_loader_free(l);
}

static void test_refuse_directory(void **state)
{
    fx *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/lb_dirmod.so", f->tmp_a);
    assert_int_equal(mkdir(p, 0700), 0);
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, f->tmp_a), 0);
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_BALANCER, "dirmod", &m, NULL, &f->err),
                     PX_INVALID_ARGUMENT);
    char want[512];
    snprintf(want, sizeof want, "module 'dirmod' (balancer): %s: not a regular file", p);
    assert_string_equal(f->err.msg, want);
    px_loader_free(l);
}

static void test_refuse_no_symbol(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "nosym", PX_FAILED_PRECONDITION),
                    "lb_nosym.so: no 'plexus_module' symbol: not a Plexus module");
}

static void test_refuse_tiny_symbol(void **state)
{
    fx *f = *state;
    char want[128];
    snprintf(want, sizeof want, "symbol 'plexus_module' is 4 bytes, a px_module descriptor is %zu",
             sizeof(px_module));
    assert_contains(refuse(f, "tiny", PX_FAILED_PRECONDITION), want);
}

static void test_refuse_bad_magic(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "badmagic", PX_FAILED_PRECONDITION),
                    "bad magic 0xdeadbeef in 'plexus_module' (expected 0x50584d44)");
}

static void test_refuse_bad_abi(void **state)
{
    fx *f = *state;
    char want[160];
    snprintf(want, sizeof want,
             "module ABI %d.%d is incompatible with the core's ABI %d.%d (major differs)",
             PX_ABI_MAJOR + 1, PX_ABI_MINOR, PX_ABI_MAJOR, PX_ABI_MINOR);
    assert_contains(refuse(f, "badabi", PX_FAILED_PRECONDITION), want);
}

static void test_newer_minor_loads(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "newminor", &m, NULL, &f->err),
                     PX_OK);
    assert_int_equal(m->abi_major, PX_ABI_MAJOR);
    assert_int_equal(m->abi_minor, PX_ABI_MINOR + 7);
}

static void test_refuse_bad_signature(void **state)
{
    fx *f = *state;
    char want[256];
    snprintf(want, sizeof want,
             "signature mismatch: module built as 'ptr4-long4-size4-i64_8-be', core is '%s'",
             PX_MODULE_SIGNATURE);
    assert_contains(refuse(f, "badsig", PX_FAILED_PRECONDITION), want);
}

static void test_refuse_wrong_kind(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "wrongkind", PX_INVALID_ARGUMENT),
                    "wrong kind: the module is a codec, a balancer was expected");
    /* load_file with kind 0 takes any kind. */
    const px_module *m = NULL;
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_wrongkind.so"), 0, &m, &f->err),
                     PX_OK);
    assert_int_equal(m->kind, PX_MOD_CODEC);
    assert_string_equal(m->name, "wrongkind");
    /* Once loaded, asking for the same file as a balancer is still refused. */
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_wrongkind.so"), PX_MOD_BALANCER,
                                         &m, &f->err),
                     PX_INVALID_ARGUMENT);
    assert_contains(f->err.msg, "lb_wrongkind.so: wrong kind: the module is a codec");
}

static void test_refuse_name_mismatch(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "misnamed", PX_INVALID_ARGUMENT),
                    "name mismatch: the descriptor is named 'someoneelse', expected 'misnamed'");
}

static void test_refuse_duplicate(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    char a[1100], want[2400];
    snprintf(a, sizeof a, "%s", fixture(f, "lb_dup_a.so"));
    assert_int_equal(px_loader_load_file(f->l, a, PX_MOD_BALANCER, &m, &f->err), PX_OK);
    assert_string_equal(m->name, "dup");
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_dup_b.so"), PX_MOD_BALANCER, &m,
                                         &f->err),
                     PX_ALREADY_EXISTS);
    snprintf(want, sizeof want, "%s/lb_dup_b.so: duplicate balancer 'dup': already loaded from %s",
             f->fixdir, a);
    assert_string_equal(f->err.msg, want);
    assert_int_equal(px_loader_count(f->l), 1);

    /* A copy of a loaded module is another object declaring the same name. */
    char copy[256];
    snprintf(copy, sizeof copy, "%s/lb_good.so", f->tmp_b);
    copy_file(fixture(f, "lb_good.so"), copy);
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m, NULL, &f->err), PX_OK);
    assert_int_equal(px_loader_load_file(f->l, copy, 0, &m, &f->err), PX_ALREADY_EXISTS);
    assert_contains(f->err.msg, copy);
    assert_contains(f->err.msg, "duplicate balancer 'good': already loaded from ");
    assert_contains(f->err.msg, fixture(f, "lb_good.so"));
    assert_int_equal(px_loader_count(f->l), 2);
}

static void test_refuse_writable_by_others(void **state)
{
    fx *f = *state;
    char copy[256], want[1024];
    const px_module *m;
    snprintf(copy, sizeof copy, "%s/lb_good.so", f->tmp_a);
    copy_file(fixture(f, "lb_good.so"), copy);
    assert_int_equal(chmod(copy, 0666), 0);
    assert_int_equal(px_loader_load_file(f->l, copy, 0, &m, &f->err), PX_PERMISSION_DENIED);
    snprintf(want, sizeof want,
             "%s: writable by group or others (mode 0666); refusing to load it "
             "(fix: chmod go-w %s)", copy, copy);
    assert_contains(f->err.msg, want);
    assert_int_equal(chmod(copy, 0755), 0);
    assert_int_equal(chmod(f->tmp_a, 0777), 0);
    assert_int_equal(px_loader_load_file(f->l, copy, 0, &m, &f->err), PX_PERMISSION_DENIED);
    snprintf(want, sizeof want,
             "%s: its directory %s is writable by group or others (mode 0777); refusing to "
             "load it (fix: chmod go-w %s)", copy, f->tmp_a, f->tmp_a);
    assert_contains(f->err.msg, want);
    /* A sticky shared directory (like /tmp) is fine: others cannot replace our file. */
    assert_int_equal(chmod(f->tmp_a, 01777), 0);
    assert_int_equal(px_loader_load_file(f->l, copy, 0, &m, &f->err), PX_OK);
    assert_int_equal(chmod(f->tmp_a, 0700), 0);
}

static void test_refuse_no_ops(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "noops", PX_INVALID_ARGUMENT), "balancer 'noops' has no ops table");
}

/* The kind registry's check: a module without an op its kind cannot run without. */
static void test_refuse_missing_op(void **state)
{
    fx *f = *state;
    assert_contains(refuse(f, "nopick", PX_INVALID_ARGUMENT),
                    "balancer 'nopick' has no 'pick' op, which every balancer module needs");
}

static void test_refuse_unknown_kind(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_badkind.so"), 0, &m, &f->err),
                     PX_INVALID_ARGUMENT);
    assert_contains(f->err.msg, "lb_badkind.so: unknown module kind 99");
}

static void test_refuse_bad_directives(void **state)
{
    fx *f = *state;
    const char *msg = refuse(f, "baddirs", PX_INVALID_ARGUMENT);
    assert_contains(msg, "bad directive table of balancer 'baddirs': directive 'mode'");
}

static void test_refuse_directive_offset(void **state)
{
    fx *f = *state;
    const char *msg = refuse(f, "badoffset", PX_INVALID_ARGUMENT);
    assert_contains(msg, "bad directive table of balancer 'badoffset': directive 'far' at offset");
    assert_contains(msg, "lies outside conf_size");
}

static void test_refuse_bad_arguments(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "", &m, NULL, &f->err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(f->err.msg, "module load: no module name given");
    assert_int_equal(px_loader_load(f->l, (px_module_kind)15, "good", &m, NULL, &f->err),
                     PX_INVALID_ARGUMENT);
    assert_string_equal(f->err.msg, "module 'good': unknown module kind 15");
    assert_int_equal(px_loader_load_file(f->l, "/nonexistent/lb_x.so", 0, &m, &f->err),
                     PX_NOT_FOUND);
    assert_string_equal(f->err.msg, "/nonexistent/lb_x.so: not found");
}

static void test_listing(void **state)
{
    fx *f = *state;
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m, NULL, &f->err), PX_OK);
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "newminor", &m, NULL, &f->err),
                     PX_OK);
    assert_int_equal(px_loader_load_file(f->l, fixture(f, "lb_wrongkind.so"), 0, &m, &f->err),
                     PX_OK);
    /* Refusals and cache hits add nothing. */
    assert_int_not_equal(px_loader_load(f->l, PX_MOD_BALANCER, "badmagic", &m, NULL, &f->err),
                         PX_OK);
    assert_int_equal(px_loader_load(f->l, PX_MOD_BALANCER, "good", &m, NULL, &f->err), PX_OK);

    static const char *const names[] = {"good", "newminor", "wrongkind"};
    static const char *const files[] = {"lb_good.so", "lb_newminor.so", "lb_wrongkind.so"};
    assert_int_equal(px_loader_count(f->l), 3);
    for (size_t i = 0; i < 3; i++) {
        const char *path = NULL;
        const px_module *at = px_loader_at(f->l, i, &path);
        assert_non_null(at);
        assert_string_equal(at->name, names[i]);
        assert_string_equal(path, fixture(f, files[i]));
    }
    assert_null(px_loader_at(f->l, 3, NULL));
}

/* Counts the loaded objects called libplexus.so*; remembers the last one's path. */
static int count_cores(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *slash = strrchr(info->dlpi_name, '/');
    const char *base = slash ? slash + 1 : info->dlpi_name;
    if (strncmp(base, "libplexus.so", 12) == 0) {
        int *n = data;
        (*n)++;
    }
    return 0;
}

/* A module asks for libplexus.so.1 and binds to the core this process already runs: one
 * core in the process, and it is a shared object, not a copy inside the test program. */
static void test_one_core(void **state)
{
    fx *f = *state;
    const char *mods = getenv("PX_MODULE_DIR");
    assert_non_null(mods);
    px_loader *l = px_loader_new();
    assert_int_equal(px_loader_add_path(l, mods), 0);
    const px_module *m = NULL;
    assert_int_equal(px_loader_load(l, PX_MOD_CODEC, "json", &m, NULL, &f->err), PX_OK);
    int cores = 0;
    dl_iterate_phdr(count_cores, &cores);
    assert_int_equal(cores, 1);
    Dl_info self;
    assert_int_not_equal(dladdr((void *)(uintptr_t)px_loader_new, &self), 0);
    assert_non_null(strstr(self.dli_fname, "libplexus.so"));
    px_loader_free(l);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_kind_names),
        T(test_kind_registry),
        T(test_paths),
        T(test_load_good),
        T(test_cache_hit),
        T(test_search_order),
        T(test_not_found_lists_paths),
        T(test_never_from_cwd),
        T(test_refuse_not_elf),
        T(test_refuse_directory),
        T(test_refuse_no_symbol),
        T(test_refuse_tiny_symbol),
        T(test_refuse_bad_magic),
        T(test_refuse_bad_abi),
        T(test_newer_minor_loads),
        T(test_refuse_bad_signature),
        T(test_refuse_wrong_kind),
        T(test_refuse_name_mismatch),
        T(test_refuse_duplicate),
        T(test_refuse_writable_by_others),
        T(test_refuse_no_ops),
        T(test_refuse_missing_op),
        T(test_refuse_unknown_kind),
        T(test_refuse_bad_directives),
        T(test_refuse_directive_offset),
        T(test_refuse_bad_arguments),
        T(test_listing),
        T(test_one_core),
    };
#undef T
    return cmocka_run_group_tests_name("px_loader", tests, NULL, NULL);
}
