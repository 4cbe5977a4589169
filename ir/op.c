/* op.c — the op table (names and arities) generated from ops.def. */
#include "ir.h"

#include <string.h>

const OpInfo ir_ops[OP_COUNT] = {
#define OP(e, name, mi, ma, mo, mao, sf, ef) [OP_##e] = {name, mi, ma, mo, mao},
#include "ops.def"
#undef OP
};

const char *ir_op_name(OpKind op) { return (op >= 0 && op < OP_COUNT) ? ir_ops[op].name : "?"; }

int ir_op_from_name(const char *name)
{
    for (int i = 0; i < OP_COUNT; i++)
        if (!strcmp(ir_ops[i].name, name)) return i;
    return -1;
}
