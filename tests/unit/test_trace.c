/* Trace context (core/base/px_trace.c): traceparent parsed as the W3C specification
 * says, a call's ids worked out once, the thread's context and what an outgoing call
 * and a client's filters see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "px_meta.h"
#include "px_trace.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int parses(const char *v)
{
    px_trace t;
    return px_trace_parse(v, strlen(v), &t) == 0;
}

static void test_parse(void **state)
{
    (void)state;
    px_trace t = {0};
    assert_int_equal(px_trace_parse(TP, strlen(TP), &t), 0);
    assert_string_equal(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(t.parent_id, "00f067aa0ba902b7");
    assert_string_equal(t.flags, "01");
    /* A later version may carry more fields after a '-' (§3.2.4). */
    assert_true(parses("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what"));
    assert_true(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /* Malformed: ignored, the receiver begins a trace. */
    const char *bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",     /* 00 is 55 bytes */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",       /* short */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",      /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",      /* zero trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",      /* zero parent */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* version ff */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",      /* separator */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",      /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",      /* flags */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00x",     /* no '-' after */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        px_trace u = {0};
        if (px_trace_parse(bad[i], strlen(bad[i]), &u) == 0)
            fail_msg("parsed: '%s'", bad[i]);
        assert_string_equal(u.trace_id, ""); /* untouched */
    }
}

static int is_hex_id(const char *s, size_t n)
{
    if (strlen(s) != n || strspn(s, "0123456789abcdef") != n)
        return 0;
    return strspn(s, "0") != n;
}

static void test_resolve(void **state)
{
    (void)state;
    px_meta *m = px_meta_new();
    assert_int_equal(px_meta_add_str(m, "traceparent", TP, NULL), PX_OK);
    px_trace t;
    /* Continued: the caller's trace, its span the parent, a span of its own. */
    px_trace_reset(&t, m);
    const px_trace *r = px_trace_get(&t);
    assert_string_equal(r->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(r->parent_id, "00f067aa0ba902b7");
    assert_true(is_hex_id(r->span_id, 16));
    assert_string_not_equal(r->span_id, "00f067aa0ba902b7");
    /* Worked out once: a second read gives the same span. */
    char span[17];
    memcpy(span, r->span_id, sizeof span);
    assert_string_equal(px_trace_get(&t)->span_id, span);
    /* No metadata, or a malformed traceparent: a new trace, no parent. */
    px_trace_reset(&t, NULL);
    px_trace_get(&t);
    assert_true(is_hex_id(t.trace_id, 32));
    assert_true(is_hex_id(t.span_id, 16));
    assert_string_equal(t.parent_id, "");
    assert_string_equal(t.flags, "01");
    px_meta_clear(m);
    assert_int_equal(px_meta_add_str(m, "traceparent", "00-zz", NULL), PX_OK);
    px_trace u;
    px_trace_reset(&u, m);
    px_trace_get(&u);
    assert_true(is_hex_id(u.trace_id, 32));
    assert_string_not_equal(u.trace_id, t.trace_id);
    assert_string_equal(u.parent_id, "");
    px_meta_free(m);
}

static void test_outgoing(void **state)
{
    (void)state;
    px_trace t, view;
    px_trace_reset(&t, NULL);
    /* Outside a handler: nothing is added, a client's filters see no trace. */
    assert_null(px_trace_current());
    assert_null(px_trace_outgoing(NULL));
    assert_int_equal(px_trace_of_client(&view, NULL), -1);
    px_meta *bad = px_meta_new();
    assert_int_equal(px_meta_add_str(bad, "traceparent", "00-zz", NULL), PX_OK);
    assert_int_equal(px_trace_of_client(&view, bad), -1);
    px_meta_free(bad);
    px_trace *prev = px_trace_enter(&t);
    assert_null(prev);
    const px_trace *o = px_trace_outgoing(NULL);
    assert_ptr_equal(o, &t);
    uint8_t entry[PX_TRACE_ENTRY_LEN];
    px_trace_entry(o, entry);
    size_t count = 0, at = 0;
    char what[200];
    assert_int_equal(px_meta_wire_check(entry, sizeof entry, &count, &at, what, sizeof what), 0);
    px_meta sent;
    px_meta_view(&sent, entry, sizeof entry, count);
    size_t len = 0;
    const char *v = px_meta_get(&sent, "traceparent", &len);
    assert_int_equal(len, PX_TRACEPARENT_LEN);
    /* The next hop continues this trace with this call's span as its parent. */
    px_trace next;
    assert_int_equal(px_trace_parse(v, len, &next), 0);
    assert_string_equal(next.trace_id, t.trace_id);
    assert_string_equal(next.parent_id, t.span_id);
    /* A client's filters see what is sent: the handler's trace and span. */
    assert_int_equal(px_trace_of_client(&view, &sent), 0);
    assert_string_equal(view.trace_id, t.trace_id);
    assert_string_equal(view.span_id, t.span_id);
    assert_string_equal(view.parent_id, "");
    /* The caller's own traceparent is sent as it is: nothing added, filters see it. */
    px_meta *own = px_meta_new();
    assert_int_equal(px_meta_add_str(own, "traceparent", TP, NULL), PX_OK);
    assert_null(px_trace_outgoing(own));
    assert_int_equal(px_trace_of_client(&view, own), 0);
    assert_string_equal(view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(view.span_id, "00f067aa0ba902b7");
    assert_string_equal(view.parent_id, "");
    px_meta_free(own);
    /* Answered: the rest of the handler is no longer in the call. */
    px_trace_answered(&t);
    assert_null(px_trace_current());
    assert_null(px_trace_outgoing(NULL));
    px_trace_enter(prev);
}

/* A child process makes ids of its own, not its parent's next ones. */
static void test_fork_reseeds(void **state)
{
    (void)state;
    px_trace t;
    px_trace_reset(&t, NULL);
    px_trace_get(&t); /* this thread's generator is seeded */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        px_trace c;
        px_trace_reset(&c, NULL);
        px_trace_get(&c);
        ssize_t w = write(fds[1], c.trace_id, 32);
        _exit(w == 32 ? 0 : 1);
    }
    px_trace p;
    px_trace_reset(&p, NULL);
    px_trace_get(&p);
    char child[33] = {0};
    assert_int_equal(read(fds[0], child, 32), 32);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_not_equal(child, p.trace_id);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_outgoing),
        cmocka_unit_test(test_fork_reseeds),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
