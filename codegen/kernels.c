/* kernels.c — the native kernels' LLVM bitcode, embedded in ppcc at build time (one module per
 * architecture: the Makefile compiles the C files of codegen/kernels/ with clang-16,
 * llvm-link-16s them into kernels-<arch>.bc and assembles the bytes into ppcc with .incbin,
 * $(GEN)/kernels_bc.S).
 *
 * Linking: the bitcode is parsed into the model's context, given the module's triple and data
 * layout (it was compiled for the generic triple of its architecture), and linked into the model
 * module. Every function it defines then becomes internal (only ppc_model_v1 is exported): each
 * layer's task function calls a kernel's range function, which is marked always-inline so LLVM
 * specialises it on the layer's constant parameters; kernels no layer uses are deleted before
 * optimisation.
 */
#include <stdlib.h>
#include <string.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/Linker.h>

#include "codegen/codegen.h"
#include "runtime/ppc_abi.h"

/* $(GEN)/kernels_bc.S */
extern const unsigned char cg_kernels_x86_64_bc[], cg_kernels_x86_64_bc_end[];
extern const unsigned char cg_kernels_aarch64_bc[], cg_kernels_aarch64_bc_end[];

int cg_kernels_link(Cg *c, Diag *d)
{
    const unsigned char *lo, *hi;
    const char *name;
    if (c->o->target->arch == CG_ARCH_AARCH64)
        lo = cg_kernels_aarch64_bc, hi = cg_kernels_aarch64_bc_end, name = "kernels-aarch64.bc";
    else
        lo = cg_kernels_x86_64_bc, hi = cg_kernels_x86_64_bc_end, name = "kernels-x86_64.bc";
    size_t size = (size_t)(hi - lo);
    if (size == 0) return 0; /* no kernels built: every node uses the fallback */
    LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange((const char *)lo, size, name, 0);
    LLVMModuleRef kmod = NULL;
    if (LLVMParseBitcodeInContext2(c->ctx, buf, &kmod)) {
        LLVMDisposeMemoryBuffer(buf);
        return diag_error(d, "internal error: the embedded %s does not parse%s%s", name,
                          c->diag_msg[0] ? ": " : "", c->diag_msg);
    }
    LLVMSetTarget(kmod, LLVMGetTarget(c->mod));
    LLVMSetDataLayout(kmod, LLVMGetDataLayoutStr(c->mod));
    for (LLVMValueRef fn = LLVMGetFirstFunction(kmod); fn; fn = LLVMGetNextFunction(fn)) {
        if (LLVMIsDeclaration(fn)) continue;
        size_t len;
        const char *fname = LLVMGetValueName2(fn, &len);
        c->kernel_fns = xrealloc(c->kernel_fns, (size_t)(c->n_kernel_fns + 1) * sizeof *c->kernel_fns);
        c->kernel_fns[c->n_kernel_fns++] = xstrdup(fname);
    }
    int bad = LLVMLinkModules2(c->mod, kmod); /* destroys kmod */
    LLVMDisposeMemoryBuffer(buf);
    if (bad)
        return diag_error(d, "internal error: linking %s failed%s%s", name, c->diag_msg[0] ? ": " : "",
                          c->diag_msg);
    return 0;
}

LLVMValueRef cg_kernels_range_fn(Cg *c, const char *name, Diag *d)
{
    LLVMValueRef fn = name ? LLVMGetNamedFunction(c->mod, name) : NULL;
    int known = 0;
    for (int k = 0; fn && k < c->n_kernel_fns && !known; k++) known = !strcmp(c->kernel_fns[k], name);
    if (!fn || !known || LLVMIsDeclaration(fn)) {
        diag_error(d, "internal error: kernel function '%s' is not in the kernel bitcode", name ? name : "(null)");
        return NULL;
    }
    LLVMTypeRef ty = LLVMGlobalGetValueType(fn);
    LLVMTypeRef want[4] = {c->t_ptr, c->t_ptr, c->t_i64, c->t_i64}, got[4];
    int ok = LLVMGetReturnType(ty) == c->t_void && LLVMCountParamTypes(ty) == 4 && !LLVMIsFunctionVarArg(ty);
    if (ok) {
        LLVMGetParamTypes(ty, got);
        for (int k = 0; k < 4; k++) ok &= got[k] == want[k];
    }
    if (!ok) {
        diag_error(d, "internal error: kernel function '%s' does not have the range signature "
                   "void(const void *, void *const *, int64_t, int64_t)", name);
        return NULL;
    }
    /* Inline into every task so each layer is specialised on its constant parameters. */
    unsigned noinline = LLVMGetEnumAttributeKindForName("noinline", 8);
    unsigned optnone = LLVMGetEnumAttributeKindForName("optnone", 7);
    unsigned always = LLVMGetEnumAttributeKindForName("alwaysinline", 12);
    LLVMRemoveEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, noinline);
    LLVMRemoveEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, optnone);
    if (!LLVMGetEnumAttributeAtIndex(fn, LLVMAttributeFunctionIndex, always))
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(c->ctx, always, 0));
    return fn;
}

void cg_kernels_finish(Cg *c)
{
    /* Only ppc_model_v1 is exported; everything else (the kernels' non-static functions and
     * tables included) becomes internal. */
    for (LLVMValueRef fn = LLVMGetFirstFunction(c->mod); fn; fn = LLVMGetNextFunction(fn)) {
        size_t len;
        const char *name = LLVMGetValueName2(fn, &len);
        if (!LLVMIsDeclaration(fn) && strcmp(name, PPC_MODEL_SYMBOL)) {
            LLVMSetLinkage(fn, LLVMInternalLinkage);
            LLVMSetVisibility(fn, LLVMDefaultVisibility);
        }
    }
    for (LLVMValueRef gv = LLVMGetFirstGlobal(c->mod); gv; gv = LLVMGetNextGlobal(gv)) {
        size_t len;
        const char *name = LLVMGetValueName2(gv, &len);
        LLVMLinkage l = LLVMGetLinkage(gv);
        if (!LLVMIsDeclaration(gv) && strncmp(name, "llvm.", 5) && l != LLVMPrivateLinkage &&
            l != LLVMInternalLinkage) {
            LLVMSetLinkage(gv, LLVMInternalLinkage);
            LLVMSetVisibility(gv, LLVMDefaultVisibility);
        }
    }
    /* Delete unused internal functions and globals until nothing changes (kernels calling
     * kernels, tables only they read). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (LLVMValueRef fn = LLVMGetFirstFunction(c->mod), next; fn; fn = next) {
            next = LLVMGetNextFunction(fn);
            LLVMLinkage l = LLVMGetLinkage(fn);
            if ((l == LLVMInternalLinkage || l == LLVMPrivateLinkage) && !LLVMGetFirstUse(fn)) {
                LLVMDeleteFunction(fn);
                changed = 1;
            }
        }
        for (LLVMValueRef gv = LLVMGetFirstGlobal(c->mod), next; gv; gv = next) {
            next = LLVMGetNextGlobal(gv);
            LLVMLinkage l = LLVMGetLinkage(gv);
            if ((l == LLVMInternalLinkage || l == LLVMPrivateLinkage) && !LLVMGetFirstUse(gv)) {
                LLVMDeleteGlobal(gv);
                changed = 1;
            }
        }
    }
}
