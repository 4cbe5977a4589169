/* test.h — Check-based unit test registration. Each tests/unit/test_*.c defines suites with
 * TEST_SUITE(name) { ... tcase_add_test(...) ... } which registers itself at load time, so
 * adding a test file needs no edit anywhere else. main.c runs every registered suite.
 */
#ifndef PPCC_TEST_H
#define PPCC_TEST_H

#include <check.h>

#include "ir/ir.h"

typedef Suite *(*SuiteFn)(void);
void test_register_suite(SuiteFn fn, const char *name);

/* TEST_SUITE(foo) { Suite *s = suite_create("foo"); ...; return s; } */
#define TEST_SUITE(name)                                                          \
    static Suite *suite_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)               \
    {                                                                             \
        test_register_suite(suite_##name, #name);                                        \
    }                                                                             \
    static Suite *suite_##name(void)

/* Seeded random floats in [lo, hi) for tests (xorshift; deterministic). */
float test_randf(unsigned long long *state, float lo, float hi);

#endif
