/* px_log: the default sink's line format, the level filter (PLEXUS_LOG and
 * px_log_set_level), the core's name, and the embedding program's hook. */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "plexus/px_log.h"

/* Runs fn with stderr sent to a temporary file; returns what was written (static). */
static const char *captured(void (*fn)(void))
{
    static char text[4096];
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(tmp);
    size_t n = fread(text, 1, sizeof text - 1, tmp);
    text[n] = '\0';
    fclose(tmp);
    return text;
}

static void matches(const char *text, const char *pattern)
{
    regex_t re;
    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    if (rc != 0)
        fail_msg("'%s' does not match %s", text, pattern);
}

static void two_lines(void)
{
    px_log(PX_LOG_WARN, "lb_consistent_hash", "key_field '%s' is not a string", "user");
    px_log(PX_LOG_INFO, NULL, "listening on %s", "127.0.0.1:1");
}

static void test_stderr_format(void **state)
{
    px_log_set_level(PX_LOG_INFO);
    const char *out = captured(two_lines);
    const char *ts = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z";
    char want[256];
    snprintf(want, sizeof want,
             "^%s warn \\[lb_consistent_hash\\] key_field 'user' is not a string\n"
             "%s info \\[plexus\\] listening on 127\\.0\\.0\\.1:1\n$", ts, ts);
    matches(out, want);
}

static void one_debug_one_error(void)
{
    px_log(PX_LOG_DEBUG, "m", "hidden");
    px_log(PX_LOG_ERROR, "m", "shown");
}

static void test_level_filter(void **state)
{
    px_log_set_level(PX_LOG_INFO);
    assert_false(px_log_enabled(PX_LOG_DEBUG));
    assert_true(px_log_enabled(PX_LOG_ERROR));
    const char *out = captured(one_debug_one_error);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "error [m] shown"));
    px_log_set_level(PX_LOG_DEBUG);
    assert_true(px_log_enabled(PX_LOG_DEBUG));
    assert_non_null(strstr(captured(one_debug_one_error), "debug [m] hidden"));
    px_log_set_level(PX_LOG_ERROR);
    assert_false(px_log_enabled(PX_LOG_WARN));
    assert_string_equal(px_log_level_name(PX_LOG_WARN), "warn");
    assert_string_equal(px_log_level_name((px_log_level)9), "?");
}

typedef struct seen {
    pthread_mutex_t lock;
    int n;
    px_log_level lvl;
    char module[64], msg[1100];
} seen;

static void hook(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    seen *s = arg;
    pthread_mutex_lock(&s->lock);
    s->n++;
    s->lvl = lvl;
    snprintf(s->module, sizeof s->module, "%s", module);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    pthread_mutex_unlock(&s->lock);
}

static void named_line(void)
{
    px_log(PX_LOG_WARN, NULL, "from the core");
}

static void test_hook(void **state)
{
    seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    px_log_set_level(PX_LOG_INFO);
    px_log_set_hook(hook, &s);
    /* Lines go to the hook, none to stderr. */
    const char *out = captured(two_lines);
    assert_string_equal(out, "");
    assert_int_equal(s.n, 2);
    assert_int_equal(s.lvl, PX_LOG_INFO);
    assert_string_equal(s.module, "plexus");
    assert_string_equal(s.msg, "listening on 127.0.0.1:1"); /* no stamp, no newline */
    /* Filtered lines never reach it; the core's name is what px_log_set_name says. */
    px_log(PX_LOG_DEBUG, "m", "below the level");
    assert_int_equal(s.n, 2);
    px_log_set_name("plexusd s1");
    named_line();
    assert_string_equal(s.module, "plexusd s1");
    px_log_set_name(NULL);
    named_line();
    assert_string_equal(s.module, "plexus");
    /* A long message is cut, not overrun. */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    px_log(PX_LOG_ERROR, "m", "%s", big);
    assert_int_equal(strlen(s.msg), 1023);
    /* NULL restores stderr. */
    px_log_set_hook(NULL, NULL);
    assert_non_null(strstr(captured(two_lines), "warn [lb_consistent_hash]"));
    assert_int_equal(s.n, 5);
}

/* Threads log while the hook is replaced: every line reaches exactly one hook, and
 * after px_log_set_hook returns the old one is never called again. */
typedef struct counter {
    int n; /* atomic */
    int closed; /* set once replaced: a call after that is a failure */
} counter;

static void count_hook(void *arg, px_log_level lvl, const char *module, const char *msg)
{
    counter *c = arg;
    assert_false(__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE));
    __atomic_add_fetch(&c->n, 1, __ATOMIC_RELAXED);
}

#define LOGGERS 4
#define LINES 2000

static void *logger(void *arg)
{
    for (int i = 0; i < LINES; i++)
        px_log(PX_LOG_INFO, "t", "line %d", i);
    return NULL;
}

static void test_hook_swapped_under_load(void **state)
{
    px_log_set_level(PX_LOG_INFO);
    counter a = {0}, b = {0};
    px_log_set_hook(count_hook, &a);
    pthread_t th[LOGGERS];
    for (int i = 0; i < LOGGERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, logger, NULL), 0);
    px_log_set_hook(count_hook, &b);
    __atomic_store_n(&a.closed, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < LOGGERS; i++)
        pthread_join(th[i], NULL);
    px_log_set_hook(NULL, NULL);
    assert_int_equal(a.n + b.n, LOGGERS * LINES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr_format),
        cmocka_unit_test(test_level_filter),
        cmocka_unit_test(test_hook),
        cmocka_unit_test(test_hook_swapped_under_load),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
