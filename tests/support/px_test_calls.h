/* Test helper: calc.Calculator/Add calls through a px_client, one or many at once. */
#ifndef PX_TEST_CALLS_H
#define PX_TEST_CALLS_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/plexus.h"

/** Add(a, b) through px_call (wait 0) or px_call_wait (1): the status, the sum in *sum. */
px_status px_test_add(px_client *c, int wait, int a, int b, int64_t *sum, px_err *err);

/**
 * Echo with f_string = text (and opts: metadata) through px_call (wait 0) or
 * px_call_wait (1): the status; an OK reply whose f_string is not text is INTERNAL.
 */
px_status px_test_echo(px_client *c, int wait, const char *text, const px_call_opts *opts,
                       px_err *err);

/**
 * n Add(i, b) calls in flight at once through px_call_async (n <= 4096), waited for at
 * most timeout_us: 0 when every one was answered once, OK, with its sum i + b, and the
 * client counted n more completed and no late response; else -1 with why.
 */
int px_test_async_adds(px_client *c, int n, int b, int64_t timeout_us, char *why, size_t cap);

#endif
