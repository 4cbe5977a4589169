/* pbmem.c — the protobuf-c allocator used to unpack models. Large blocks (tensor payloads:
 * raw_data, packed float_data, ...) are carved directly out of the destination graph's arena, so
 * a 500 MB model's weights are copied exactly once (file mapping -> arena) and the graph adopts
 * them in place; small blocks (messages, strings) come from the heap as usual.
 *
 * Every block carries a 16-byte header saying where it came from, so free() can tell heap
 * blocks (released) from arena blocks (left to the arena). Invariant: a message unpacked with
 * this allocator must be freed before its arena.
 */
#include "onnx_internal.h"

#include <stdlib.h>

#define PBMEM_BIG (64 * 1024) /* blocks at least this large go to the arena */

enum { TAG_HEAP = 0x50424d48u, TAG_ARENA = 0x50424d41u };

typedef struct PbHeader {
    uint64_t tag;
    const Arena *arena;
} PbHeader; /* 16 bytes: keeps the payload 16-byte aligned */

_Static_assert(sizeof(PbHeader) == 16, "pbmem header must keep 16-byte alignment");

static void *pb_alloc(void *ctx, size_t n)
{
    Arena *a = ctx;
    PbHeader *h;
    if (n >= PBMEM_BIG) {
        h = arena_alloc(a, sizeof *h + n);
        h->tag = TAG_ARENA;
    } else {
        h = malloc(sizeof *h + n);
        if (!h) return NULL;
        h->tag = TAG_HEAP;
    }
    h->arena = a;
    return h + 1;
}

static void pb_free(void *ctx, void *p)
{
    if (!p) return;
    PbHeader *h = (PbHeader *)p - 1;
    IR_ASSERT(h->tag == TAG_HEAP || h->tag == TAG_ARENA);
    if (h->tag == TAG_HEAP) free(h);
}

void pbmem_init(ProtobufCAllocator *al, Arena *arena)
{
    al->alloc = pb_alloc;
    al->free = pb_free;
    al->allocator_data = arena;
}

int pbmem_in_arena(const void *p, const Arena *arena)
{
    if (!p) return 0;
    const PbHeader *h = (const PbHeader *)p - 1;
    return h->tag == TAG_ARENA && h->arena == arena;
}
