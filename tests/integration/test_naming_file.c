/* naming `file` against real plexusd calc servers: a client in this process whose upstream
 * takes its endpoints from a file (`naming: {module: file, path: ...}`), which the test
 * edits while async calls run: in place, by an atomic rename, with broken edits (kept out,
 * logged at FILE:LINE:COL), then deleted (the list stays) and written again. Every call
 * completes OK; after each applied update no new call goes to a server it left and a server
 * it added answers. Weights from a plain file spread calls 1:3 under round_robin. A missing
 * or malformed file at start fails px_client_new with its place. Prints how long each
 * update took to be applied after the write (never asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexus/plexus.h"
#include "px_cluster.h"
#include "px_time.h"

#define NSRV 3

/* Calls of 20 ms: several are in flight whenever the file changes. */
static const char *SERVER_YAML = PX_CALC_SERVER_YAML "      workers: 16\n"
                                                     "      delay: 20ms\n";

/* ---- the module's log lines, through the px_log hook ---------------------------------- */

typedef struct logcap {
    pthread_mutex_t lock;
    char text[32768]; /* naming_file's lines, one per line */
    size_t len;
    int applied, refused, gone;  /* lines of each kind so far */
    int64_t last_us;             /* when the last of those lines came */
} logcap;

static logcap cap = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void hook(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    (void)arg;
    fprintf(stderr, "  [%s %s] %s\n", px_log_level_name(lvl), module, msg);
    if (strcmp(module, "naming_file") != 0)
        return;
    pthread_mutex_lock(&cap.lock);
    int n = snprintf(cap.text + cap.len, sizeof cap.text - cap.len, "%s\n", msg);
    if (n > 0 && cap.len + (size_t)n < sizeof cap.text)
        cap.len += (size_t)n;
    cap.last_us = px_mono_us();
    if (strstr(msg, "endpoints applied")) {
        cap.applied++;
    } else if (strstr(msg, "the last good list stays")) {
        cap.refused++;
    } else if (strstr(msg, "until the file is back")) {
        cap.gone++;
    }
    pthread_mutex_unlock(&cap.lock);
}

static void counts(int *applied, int *refused, int *gone, int64_t *last_us)
{
    pthread_mutex_lock(&cap.lock);
    *applied = cap.applied;
    *refused = cap.refused;
    *gone = cap.gone;
    *last_us = cap.last_us;
    pthread_mutex_unlock(&cap.lock);
}

static int logged(const char *what)
{
    pthread_mutex_lock(&cap.lock);
    int yes = strstr(cap.text, what) != NULL;
    pthread_mutex_unlock(&cap.lock);
    return yes;
}

/* ---- servers, the file, the client ---------------------------------------------------- */

typedef struct fx {
    px_cluster c;
    char addr[NSRV][64];
    char file[256]; /* the endpoints file */
} fx;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w"); /* in place: truncate, write, close */
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* The servers' addresses as a list in the file's format: "0,2" -> two entries. */
static void list_of(const fx *f, const char *which, int yaml, char *out, size_t n)
{
    size_t at = 0;
    for (const char *p = which; *p; p++)
        if (*p >= '0' && *p < '0' + NSRV)
            at += (size_t)snprintf(out + at, n - at, yaml ? "- '%s'\n" : "%s\n", f->addr[*p - '0']);
}

/* Starts NSRV servers; the client comes later (its file must list their ports first). */
static fx *servers_up(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    pthread_mutex_lock(&cap.lock); /* each test counts its own lines */
    cap.len = 0;
    cap.text[0] = '\0';
    cap.applied = cap.refused = cap.gone = 0;
    pthread_mutex_unlock(&cap.lock);
    for (int i = 0; i < NSRV; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        assert_int_equal(px_proc_start(&f->c.srv[i], id, SERVER_YAML), 0);
        f->c.n++;
        px_host_port(f->addr[i], sizeof f->addr[i], "127.0.0.1", f->c.srv[i].port);
    }
    return f;
}

/* The client config beside the servers' first temp dir, naming the file by a path
 * relative to it; px_client_new's status, with err. */
static px_status client_up(fx *f, const char *name, const char *balancer, px_err *err)
{
    snprintf(f->file, sizeof f->file, "%s/%s", f->c.srv[0].dir, name);
    snprintf(f->c.conf, sizeof f->c.conf, "%s/client.yaml", f->c.srv[0].dir);
    FILE *y = fopen(f->c.conf, "w");
    assert_non_null(y);
    fprintf(y, "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n"
               "    calc:\n      naming: {module: file, path: %s, settle: 20ms}\n"
               "      balancer: %s\n      timeout: {module: fixed, connect: 1s, call: 5s}\n",
            getenv("PX_MODULE_DIR"), name, balancer);
    assert_int_equal(fclose(y), 0);
    px_err_clear(err);
    if (px_config_load(f->c.conf, &f->c.cfg, err) != PX_OK)
        return err->status;
    px_status st = px_client_new(f->c.cfg, "calc", &f->c.cl, err);
    if (st == PX_OK)
        assert_int_equal(px_load_init(&f->c.load, f->c.cl, 6000), 0);
    return st;
}

static void fx_down(fx *f)
{
    unlink(f->file);
    assert_int_equal(px_cluster_down(&f->c), 0);
    free(f);
}

/* The counter plexus_naming_file_reloads_total{upstream="calc",result=...}, -1 if absent. */
static long reloads(const char *result)
{
    char *text = px_metrics_text(NULL);
    assert_non_null(text);
    char key[128];
    snprintf(key, sizeof key, "plexus_naming_file_reloads_total{upstream=\"calc\",result=\"%s\"} ",
             result);
    const char *p = strstr(text, key);
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    free(text);
    return v;
}

/* ---- edits under load ------------------------------------------------------------------ */

/* Issues calls (bounded: 10 s of them) until the module has logged `applied` applied
 * lists, `refused` refused edits and `gone` missing files; prints how long after t0 (the
 * write) the last of those lines came. Returns the index of the first call issued after. */
static int calls_until(fx *f, int applied, int refused, int gone, int64_t t0, const char *what)
{
    int a = 0, r = 0, g = 0;
    int64_t at_us = 0;
    for (int k = 0; k < 500; k++) {
        counts(&a, &r, &g, &at_us);
        if (a >= applied && r >= refused && g >= gone)
            break;
        assert_int_equal(px_load_run(&f->c.load, 10, 20000, NULL, NULL), 0);
    }
    if (a < applied || r < refused || g < gone)
        fail_msg("%s: never seen (applied %d/%d, refused %d/%d, gone %d/%d)", what, a, applied,
                 r, refused, g, gone);
    print_message("  %-26s seen %.1f ms after the write\n", what, (double)(at_us - t0) / 1000.0);
    return f->c.load.issued;
}

/* Calls steady for a while: 120 over 240 ms (about 10 in flight at a time). */
static void steady(fx *f)
{
    assert_int_equal(px_load_run(&f->c.load, 120, 240000, NULL, NULL), 0);
}

/* Calls [from, to) went only to the servers in `allowed` ("02": s0 and s2), each of those
 * answered at least one, and every one completed OK. */
static void only(const fx *f, int from, int to, const char *allowed, const char *what)
{
    px_load_sum s;
    px_load_sum_up(&f->c.load, from, to, &s);
    print_message("  %-28s calls %4d: s0 %3d s1 %3d s2 %3d, failed %d\n", what, s.calls,
                  s.per_server[0], s.per_server[1], s.per_server[2], s.failed);
    assert_int_equal(s.ok, s.calls);
    for (int i = 0; i < NSRV; i++) {
        int listed = strchr(allowed, '0' + i) != NULL;
        if (listed && s.per_server[i] == 0)
            fail_msg("%s: s%d never answered", what, i);
        if (!listed && s.per_server[i] != 0)
            fail_msg("%s: %d calls went to s%d, which the list no longer has", what,
                     s.per_server[i], i);
    }
}

static void test_edits_under_load(void **state)
{
    (void)state;
    fx *f = servers_up();
    char text[512];
    list_of(f, "01", 1, text, sizeof text);
    snprintf(f->file, sizeof f->file, "%s/calc.yaml", f->c.srv[0].dir);
    write_file(f->file, text);
    px_err err;
    assert_int_equal(client_up(f, "calc.yaml", "round_robin", &err), PX_OK);
    px_load *l = &f->c.load;

    /* wrote[k]: calls issued before the k-th change was written; seen[k]: before it was
     * seen. Between seen[k] and wrote[k + 1] only the servers of the k-th list answer. */
    int wrote[8], seen[8], k = 0;
    seen[k++] = 0;
    steady(f); /* [s0, s1] */

    /* In place, while calls are in flight. */
    list_of(f, "12", 1, text, sizeof text);
    wrote[k] = l->issued;
    int64_t t = px_mono_us();
    write_file(f->file, text);
    seen[k++] = calls_until(f, 1, 0, 0, t, "in place [s1, s2]:");
    steady(f);

    /* An atomic replace: a new file renamed over the old one. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->file);
    list_of(f, "02", 1, text, sizeof text);
    write_file(tmp, text);
    wrote[k] = l->issued;
    t = px_mono_us();
    assert_int_equal(rename(tmp, f->file), 0);
    seen[k++] = calls_until(f, 2, 0, 0, t, "renamed [s0, s2]:");
    steady(f);

    /* Broken edits: bad YAML, then a bad port. The list stays; each is logged in place. */
    t = px_mono_us();
    write_file(f->file, "- 127.0.0.1:1\n- {address: 127.0.0.1:2\n");
    calls_until(f, 2, 1, 0, t, "bad YAML refused:");
    steady(f);
    char bad[300];
    snprintf(bad, sizeof bad, "- '%s'\n- '127.0.0.1:99999'\n", f->addr[1]);
    t = px_mono_us();
    write_file(f->file, bad);
    calls_until(f, 2, 2, 0, t, "bad port refused:");
    steady(f);
    char place[400];
    snprintf(place, sizeof place, "%s:3:1: did not find expected ',' or '}'", f->file);
    assert_true(logged(place));
    snprintf(place, sizeof place,
             "%s:2:3: '127.0.0.1:99999': port '99999' is not a number in 1..65535", f->file);
    assert_true(logged(place));

    /* The next good edit applies. */
    list_of(f, "1", 1, text, sizeof text);
    wrote[k] = l->issued;
    t = px_mono_us();
    write_file(f->file, text);
    seen[k++] = calls_until(f, 3, 2, 0, t, "good edit [s1]:");
    steady(f);

    /* Deleted: the list stays (and the removal is logged). */
    t = px_mono_us();
    assert_int_equal(unlink(f->file), 0);
    calls_until(f, 3, 2, 1, t, "file deleted:");
    steady(f);

    /* Written again: applied. */
    list_of(f, "20", 1, text, sizeof text);
    wrote[k] = l->issued;
    t = px_mono_us();
    write_file(f->file, text);
    seen[k++] = calls_until(f, 4, 2, 1, t, "written again [s2, s0]:");
    steady(f);
    wrote[k] = l->issued;

    assert_int_equal(px_load_drain(l, 10 * 1000000, NULL, NULL), 0);
    px_load_sum all;
    px_load_sum_up(l, 0, l->issued, &all);
    px_load_sum_print(l, 0, l->issued, &all, "all");
    assert_int_equal(all.ok, l->issued);
    assert_int_equal(all.twice, 0);
    assert_int_equal(all.never, 0);
    static const char *const lists[] = {"01", "12", "02", "1", "02"};
    static const char *const names[] = {"file [s0, s1]", "in place [s1, s2]",
                                        "renamed [s0, s2], bad edits", "good [s1], deleted",
                                        "written again [s2, s0]"};
    for (int i = 0; i < k; i++)
        only(f, seen[i], wrote[i + 1], lists[i], names[i]);
    assert_true(logged("No such file or directory"));
    assert_int_equal(reloads("ok"), 4);
    assert_int_equal(reloads("failed"), 2);
    fx_down(f);
}

/* Weights 1 and 3 from a plain file: round_robin (smooth weighted) spreads 1:3. */
static void test_weights(void **state)
{
    (void)state;
    fx *f = servers_up();
    char text[256];
    snprintf(text, sizeof text, "# weights\n%s 1\n%s 3   # the bigger one\n", f->addr[0],
             f->addr[1]);
    snprintf(f->file, sizeof f->file, "%s/calc.endpoints", f->c.srv[0].dir);
    write_file(f->file, text);
    px_err err;
    assert_int_equal(client_up(f, "calc.endpoints", "round_robin", &err), PX_OK);
    assert_int_equal(px_load_run(&f->c.load, 400, 400000, NULL, NULL), 0);
    assert_int_equal(px_load_drain(&f->c.load, 10 * 1000000, NULL, NULL), 0);
    px_load_sum s;
    px_load_sum_up(&f->c.load, 0, 400, &s);
    print_message("  weights 1:3: s0 %d s1 %d s2 %d\n", s.per_server[0], s.per_server[1],
                  s.per_server[2]);
    assert_int_equal(s.ok, 400);
    assert_int_equal(s.per_server[2], 0);
    assert_true(s.per_server[0] > 0);
    assert_true(s.per_server[1] >= 2 * s.per_server[0] && s.per_server[1] <= 4 * s.per_server[0]);
    fx_down(f);
}

/* A symbolic link swapped the way Kubernetes updates a mounted ConfigMap: the file is
 * `calc.endpoints -> ..data/calc.endpoints`, and `..data`, a link to a folder, is replaced
 * by a rename; the file itself is never written. */
static void test_symlink_swap(void **state)
{
    (void)state;
    fx *f = servers_up();
    const char *d = f->c.srv[0].dir;
    char p1[300], p2[300], link[300], data[300], tmp[300], text[256];
    snprintf(p1, sizeof p1, "%s/..v1", d);
    snprintf(p2, sizeof p2, "%s/..v2", d);
    snprintf(data, sizeof data, "%s/..data", d);
    snprintf(tmp, sizeof tmp, "%s/..data_tmp", d);
    snprintf(link, sizeof link, "%s/calc.endpoints", d);
    assert_int_equal(mkdir(p1, 0700), 0);
    assert_int_equal(mkdir(p2, 0700), 0);
    strcat(p1, "/calc.endpoints");
    strcat(p2, "/calc.endpoints");
    list_of(f, "0", 0, text, sizeof text);
    write_file(p1, text);
    list_of(f, "12", 0, text, sizeof text);
    write_file(p2, text);
    assert_int_equal(symlink("..v1", data), 0);
    assert_int_equal(symlink("..data/calc.endpoints", link), 0);
    px_err err;
    assert_int_equal(client_up(f, "calc.endpoints", "round_robin", &err), PX_OK);
    steady(f);
    int wrote = f->c.load.issued;
    int64_t t = px_mono_us();
    assert_int_equal(symlink("..v2", tmp), 0);
    assert_int_equal(rename(tmp, data), 0);
    int seen = calls_until(f, 1, 0, 0, t, "..data swapped [s1, s2]:");
    steady(f);
    assert_int_equal(px_load_drain(&f->c.load, 10 * 1000000, NULL, NULL), 0);
    only(f, 0, wrote, "0", "linked [s0]");
    only(f, seen, f->c.load.issued, "12", "..data swapped [s1, s2]");
    unlink(link);
    unlink(data);
    unlink(p1);
    unlink(p2);
    p1[strlen(p1) - strlen("/calc.endpoints")] = '\0';
    p2[strlen(p2) - strlen("/calc.endpoints")] = '\0';
    rmdir(p1);
    rmdir(p2);
    fx_down(f);
}

/* A missing or malformed file fails px_client_new with the file and the place. */
static void test_start_refused(void **state)
{
    (void)state;
    fx *f = servers_up();
    px_err err;
    char want[400];
    assert_int_not_equal(client_up(f, "missing.endpoints", "round_robin", &err), PX_OK);
    snprintf(want, sizeof want, "%s/missing.endpoints: cannot open: No such file or directory",
             f->c.srv[0].dir);
    print_message("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, want));
    px_config_free(f->c.cfg);
    f->c.cfg = NULL;

    snprintf(f->file, sizeof f->file, "%s/bad.endpoints", f->c.srv[0].dir);
    char text[256];
    snprintf(text, sizeof text, "%s\n# next\n  db1.example:7101 2\n", f->addr[0]);
    write_file(f->file, text);
    assert_int_not_equal(client_up(f, "bad.endpoints", "round_robin", &err), PX_OK);
    print_message("  %s\n", err.msg);
    snprintf(want, sizeof want, "%s:3:3: 'db1.example:7101': 'db1.example' is a host name",
             f->file);
    assert_non_null(strstr(err.msg, want));
    px_config_free(f->c.cfg);
    f->c.cfg = NULL;
    fx_down(f);
}

int main(void)
{
    px_proc_die_with_test();
    px_log_set_hook(hook, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_refused),
        cmocka_unit_test(test_edits_under_load),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_symlink_swap),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    px_log_set_hook(NULL, NULL);
    return rc;
}
