/* diag.c — error values and checked allocation.
 * User-facing errors are formatted into a Diag and returned up the call chain (-1); internal
 * invariant failures abort with file and line (IR_ASSERT). Allocation failure aborts too.
 */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int diag_error(Diag *d, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
        /* keep diagnostics on one line */
        for (char *p = d->msg; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return -1;
}

void ir_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ppcc: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}

static void oom(size_t n)
{
    fprintf(stderr, "ppcc: error: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) oom(n);
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}
