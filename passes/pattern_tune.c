/* pattern_tune.c — the pieces of `ppcc --tune` that the pattern-group pass uses: the tuning
 * cache (a text file, one line per layer: KEY CHOICE SPARSE_MS DENSE_MS, where KEY names the
 * CPU, the layer's shape and its sparsity signature, and CHOICE is "dense" or a tile
 * "flat,R,U") and the extraction of one layer into a graph of its own, which the timing hook
 * (PassContext.pattern_time, ppcc's compiler/tune.c) compiles and runs.
 * Unparsable cache lines are ignored (and dropped when the file is written again); the file is
 * written atomically, only when something was added.
 */
#include "passes/pattern_tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct PatTuneEntry {
    char key[PAT_TUNE_KEY];
    char choice[32];
    double ms_sparse, ms_dense;
} PatTuneEntry;

struct PatTuneCache {
    char *path;
    PatTuneEntry *e;
    int n, cap, dirty;
};

PatTuneCache *pat_cache_load(const char *path, Diag *d)
{
    PatTuneCache *c = xcalloc(1, sizeof *c);
    if (!path) return c;
    c->path = xmalloc(strlen(path) + 1);
    strcpy(c->path, path);
    FILE *f = fopen(path, "r");
    if (!f) return c; /* a new cache */
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        PatTuneEntry e;
        if (sscanf(line, "%511s %31s %lf %lf", e.key, e.choice, &e.ms_sparse, &e.ms_dense) != 4) continue;
        pat_cache_put(c, e.key, e.choice, e.ms_sparse, e.ms_dense);
    }
    if (ferror(f)) {
        fclose(f);
        pat_cache_free(c);
        diag_error(d, "--tuning-cache: cannot read %s", path);
        return NULL;
    }
    fclose(f);
    c->dirty = 0;
    return c;
}

int pat_cache_get(const PatTuneCache *c, const char *key, char *choice, size_t n, double *ms_sparse, double *ms_dense)
{
    for (int i = c->n - 1; i >= 0; i--)
        if (!strcmp(c->e[i].key, key)) {
            snprintf(choice, n, "%s", c->e[i].choice);
            *ms_sparse = c->e[i].ms_sparse, *ms_dense = c->e[i].ms_dense;
            return 1;
        }
    return 0;
}

void pat_cache_put(PatTuneCache *c, const char *key, const char *choice, double ms_sparse, double ms_dense)
{
    if (strlen(key) >= PAT_TUNE_KEY || strchr(key, ' ')) return;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->e = xrealloc(c->e, (size_t)c->cap * sizeof *c->e);
    }
    PatTuneEntry *e = &c->e[c->n++];
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->choice, sizeof e->choice, "%s", choice);
    e->ms_sparse = ms_sparse, e->ms_dense = ms_dense;
    c->dirty = 1;
}

int pat_cache_save(PatTuneCache *c, Diag *d)
{
    if (!c->path || !c->dirty) return 0;
    size_t cap = 4096 + (size_t)c->n * 640, len = 0;
    char *buf = xmalloc(cap);
    len += (size_t)snprintf(buf + len, cap - len,
                            "# ppcc --tune cache: KEY CHOICE SPARSE_MS DENSE_MS (docs/codegen.md §7)\n");
    for (int i = 0; i < c->n; i++) {
        int dup = 0; /* keep the last entry of a key */
        for (int j = i + 1; j < c->n && !dup; j++) dup = !strcmp(c->e[i].key, c->e[j].key);
        if (!dup)
            len += (size_t)snprintf(buf + len, cap - len, "%s %s %.4f %.4f\n", c->e[i].key, c->e[i].choice,
                                    c->e[i].ms_sparse, c->e[i].ms_dense);
    }
    int rc = ir_write_file_atomic(c->path, buf, len, d);
    free(buf);
    if (!rc) c->dirty = 0;
    return rc;
}

void pat_cache_free(PatTuneCache *c)
{
    if (!c) return;
    free(c->path);
    free(c->e);
    free(c);
}

Graph *pat_isolate(const Graph *g, int node)
{
    Graph *s = ir_graph_clone(g);
    const Node *n = &s->nodes[node];
    int out = n->out[0];
    s->n_inputs = 0;
    s->n_outputs = 0;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0 || s->values[v].kind == VAL_CONST) continue;
        int dup = 0;
        for (int j = 0; j < s->n_inputs; j++) dup |= s->inputs[j] == v;
        if (!dup) ir_graph_add_input(s, v);
    }
    ir_graph_add_output(s, out);
    for (int i = 0; i < s->n_nodes; i++) s->nodes[i].dead = i != node;
    ir_graph_compact(s);
    return s;
}
