/* main.c — runs every Check suite registered by the test_*.c files (see test.h).
 * Usage: unit_tests [SUITE-NAME...]  (default: all). Exit status 0 iff all tests pass.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>

static SuiteFn suites[256];
static const char *names[256];
static int n_suites;

void test_register_suite(SuiteFn fn, const char *name)
{
    if (n_suites < 256) {
        names[n_suites] = name;
        suites[n_suites++] = fn;
    }
}

float test_randf(unsigned long long *s, float lo, float hi)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return lo + (hi - lo) * (float)((*s >> 11) * (1.0 / 9007199254740992.0));
}

int main(int argc, char **argv)
{
    SRunner *sr = NULL;
    for (int i = 0; i < n_suites; i++) {
        int want = argc < 2;
        for (int a = 1; a < argc; a++) want |= !strcmp(argv[a], names[i]);
        if (!want) continue;
        Suite *s = suites[i]();
        if (!sr)
            sr = srunner_create(s);
        else
            srunner_add_suite(sr, s);
    }
    if (!sr) {
        fprintf(stderr, "unit_tests: no suite selected\n");
        return 1;
    }
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
