/* problem.c — how the ONNX frontend reports what it cannot import.
 *
 * A plain import stops at the first problem and returns it through the Diag. `ppcc check`
 * passes OnnxImportOptions.problems: then every problem (unsupported op, attribute, dtype,
 * non-constant shape input, unfixed symbolic dim, malformed model) is appended to the caller's
 * array and the import goes on, so one run lists everything that blocks compilation.
 */
#include "onnx_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void copy_field(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int onnx_problem(OnnxCtx *c, const char *kind, const char *node, const char *op, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (c->n_problems == 0) copy_field(c->first_problem, sizeof c->first_problem, msg);
    c->n_problems++;
    if (c->collect) {
        OnnxProblem **arr = c->opt->problems;
        int *n = c->opt->n_problems;
        *arr = xrealloc(*arr, (size_t)(*n + 1) * sizeof(OnnxProblem));
        OnnxProblem *pr = &(*arr)[*n];
        memset(pr, 0, sizeof *pr);
        copy_field(pr->kind, sizeof pr->kind, kind);
        copy_field(pr->node, sizeof pr->node, node);
        copy_field(pr->op, sizeof pr->op, op);
        copy_field(pr->msg, sizeof pr->msg, msg);
        (*n)++;
    } else {
        diag_error(c->d, "%s", msg);
    }
    return -1;
}

int onnx_should_stop(const OnnxCtx *c) { return !c->collect && c->n_problems > 0; }
