/* strmap.c — a small open-addressing hash map from strings to ints, used by the ONNX frontend to
 * resolve tensor names (graph inputs, initializers, node outputs) to IR value ids in O(1).
 * Keys are copied; entries are never removed (a value can be overwritten).
 */
#include "onnx_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void strmap_init(StrMap *m) { memset(m, 0, sizeof *m); }

void strmap_free(StrMap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* Slot holding key, or the empty slot where it would go. */
static size_t find_slot(const StrMap *m, const char *key)
{
    size_t mask = m->cap - 1, i = (size_t)hash_str(key) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key)) i = (i + 1) & mask;
    return i;
}

static void grow(StrMap *m)
{
    StrMap n;
    n.cap = m->cap ? 2 * m->cap : 64;
    n.n = m->n;
    n.keys = xcalloc(n.cap, sizeof(char *));
    n.vals = xcalloc(n.cap, sizeof(int));
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = find_slot(&n, m->keys[i]);
            n.keys[j] = m->keys[i];
            n.vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    *m = n;
}

void strmap_put(StrMap *m, const char *key, int val)
{
    if (2 * (m->n + 1) > m->cap) grow(m);
    size_t i = find_slot(m, key);
    if (!m->keys[i]) {
        m->keys[i] = xstrdup(key);
        m->n++;
    }
    m->vals[i] = val;
}

int strmap_get(const StrMap *m, const char *key, int *val)
{
    if (!m->cap) return 0;
    size_t i = find_slot(m, key);
    if (!m->keys[i]) return 0;
    if (val) *val = m->vals[i];
    return 1;
}
