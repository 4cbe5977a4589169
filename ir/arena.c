/* arena.c — bump allocator owning all of a graph's strings, attribute arrays and constant
 * data. One arena per graph; everything is freed at once. Large requests get their own block.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)

typedef struct Block {
    struct Block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} Block;

struct Arena {
    Block *head; /* current small-allocation block */
    Block *big;  /* list of dedicated large blocks */
};

Arena *arena_new(void) { return xcalloc(1, sizeof(Arena)); }

static void free_list(Block *b)
{
    while (b) {
        Block *n = b->next;
        free(b);
        b = n;
    }
}

void arena_free(Arena *a)
{
    if (!a) return;
    free_list(a->head);
    free_list(a->big);
    free(a);
}

void *arena_alloc(Arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > ARENA_CHUNK / 4) {
        Block *b = xcalloc(1, sizeof(Block) + n);
        b->cap = b->used = n;
        b->next = a->big;
        a->big = b;
        return b->data;
    }
    if (!a->head || a->head->used + n > a->head->cap) {
        Block *b = xcalloc(1, sizeof(Block) + ARENA_CHUNK);
        b->cap = ARENA_CHUNK;
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p; /* blocks are calloc'ed and never reused: already zero */
}

char *arena_strdup(Arena *a, const char *s)
{
    if (!s) return NULL;
    return arena_memdup(a, s, strlen(s) + 1);
}

void *arena_memdup(Arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n);
    if (n) memcpy(q, p, n);
    return q;
}
