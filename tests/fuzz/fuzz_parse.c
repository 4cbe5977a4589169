/* fuzz_parse.c — libFuzzer target for the text IR parser (ir/parse.c), printer (ir/print.c) and
 * verifier (ir/verify.c).
 *
 * For each input: parse it; on success verify the graph (which also runs shape inference on a
 * clone) and check the printer's round-trip invariant: the printed text parses again and prints
 * to the same bytes (a violation traps, so the fuzzer reports it). Everything is freed, so leaks
 * show up under ASan. Build and run (clang 14):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iir ir/[a-z]*.c tests/fuzz/fuzz_parse.c \
 *         -o /tmp/fuzz_parse -lm
 *   /tmp/fuzz_parse -max_total_time=120 CORPUS_DIR
 */
#include "ir/ir.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *fuzz_print(const Graph *g, unsigned flags, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f) abort();
    ir_print(g, f, flags);
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    Diag d = {{0}};
    Graph *g = ir_parse(text, &d);
    free(text);
    if (!g) {
        if (strncmp(d.msg, "line ", 5)) __builtin_trap(); /* every parse error has a position */
        return 0;
    }
    (void)ir_verify(g, &d);

    size_t n1, n2, ne;
    char *t1 = fuzz_print(g, 0, &n1);
    free(fuzz_print(g, IR_PRINT_ELIDE, &ne));
    Graph *h = ir_parse(t1, &d);
    if (!h) __builtin_trap(); /* printed text must parse */
    char *t2 = fuzz_print(h, 0, &n2);
    if (n1 != n2 || memcmp(t1, t2, n1)) __builtin_trap(); /* print(parse(print(g))) == print(g) */
    free(t1);
    free(t2);
    ir_graph_free(h);
    ir_graph_free(g);
    return 0;
}
