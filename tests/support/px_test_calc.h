/* Test helper: sample calc.EchoMsg values covering every field kind and its limits. */
#ifndef PX_TEST_CALC_H
#define PX_TEST_CALC_H

#include <stddef.h>
#include "calc.pb-c.h"

/** How many samples px_test_echo_sample knows. */
size_t px_test_echo_sample_count(void);

/**
 * Fills m with sample i (0 <= i < count) and returns its one-line description. The
 * sample points at static storage: never free it.
 */
const char *px_test_echo_sample(size_t i, Calc__EchoMsg *m);

/**
 * A chain of `levels` nested Inner messages under EchoMsg.inner (static storage,
 * levels <= 128), for nesting-limit tests.
 */
void px_test_echo_deep(size_t levels, Calc__EchoMsg *m);

#endif
