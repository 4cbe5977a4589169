/* target.c — the machine ppcc generates code for: triple, CPU and features (the host's by
 * default), the facts layouts and schedules may assume (CgTarget: vector width, vector
 * registers, FMA), the LLVM target machine, and the CPU attributes every function gets.
 *
 * Host CPU: LLVMGetHostCPUName/LLVMGetHostCPUFeatures (every feature of this machine). A named
 * CPU (--cpu) gets LLVM's feature set for that CPU (features string empty); its vector facts
 * come from the small table below (x86 CPUs with AVX-512 or AVX2; unknown x86 CPUs are assumed
 * to have SSE2 only, AArch64 ones NEON). A CPU name LLVM does not know is an error (LLVM would
 * only warn, and abort later for x86-64).
 *
 * AVX-512: LLVM's x86 backend prefers 256-bit vectors unless a function says otherwise, and
 * splits 512-bit vector values of functions whose min-legal-vector-width is below 512, so every
 * function gets "prefer-vector-width"="512" and "min-legal-vector-width"="512" there.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

/* $(GEN)/cg_cpus.c (from llc-16 -mcpu=help): the CPU names LLVM knows, NULL-terminated. */
extern const char *const cg_cpus_x86_64[], *const cg_cpus_aarch64[];

static void init_llvm_targets(void)
{
    static int done;
    if (done) return;
    done = 1;
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
}

static int arch_of(const char *triple, CgArch *arch)
{
    size_t n = strcspn(triple, "-");
    if (n == 6 && !strncmp(triple, "x86_64", 6)) *arch = CG_ARCH_X86_64;
    else if ((n == 7 && !strncmp(triple, "aarch64", 7)) || (n == 5 && !strncmp(triple, "arm64", 5)))
        *arch = CG_ARCH_AARCH64;
    else
        return -1;
    return 0;
}

/* Does the comma-separated LLVM feature list enable feature f ("+f")? */
static int has_feature(const char *features, const char *f)
{
    size_t n = strlen(f);
    for (const char *p = features; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n + 1 && p[0] == '+' && !strncmp(p + 1, f, n)) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static const char *const x86_avx512_cpus[] = {
    "skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server",
    "tigerlake", "rocketlake", "sapphirerapids", "graniterapids", "graniterapids-d", "emeraldrapids",
    "knl", "knm", "znver4", "x86-64-v4", NULL,
};
static const char *const x86_avx2_cpus[] = { /* AVX2 + FMA */
    "haswell", "broadwell", "skylake", "alderlake", "raptorlake", "meteorlake", "sierraforest",
    "grandridge", "core-avx2", "znver1", "znver2", "znver3", "bdver2", "bdver3", "bdver4",
    "x86-64-v3", NULL,
};
static const char *const x86_avx_cpus[] = { /* AVX without FMA */
    "sandybridge", "ivybridge", "corei7-avx", "core-avx-i", "btver2", "bdver1", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s)) return 1;
    return 0;
}

static void derive_facts(CgTargetDesc *td)
{
    CgTarget *t = &td->facts;
    memset(t, 0, sizeof *t);
    if (td->arch == CG_ARCH_AARCH64) {
        t->is_aarch64 = 1;
        t->vector_bits = 128; /* NEON */
        t->vregs = 32;
        t->has_fma = 1;
        return;
    }
    t->is_x86 = 1;
    t->vregs = 16;
    t->vector_bits = 128;
    if (td->features[0]) { /* the host: its feature list is complete */
        if (has_feature(td->features, "avx512f")) t->vector_bits = 512, t->vregs = 32;
        else if (has_feature(td->features, "avx")) t->vector_bits = 256;
        t->has_fma = has_feature(td->features, "fma");
    } else if (in_list(x86_avx512_cpus, td->cpu)) {
        t->vector_bits = 512, t->vregs = 32, t->has_fma = 1;
    } else if (in_list(x86_avx2_cpus, td->cpu)) {
        t->vector_bits = 256, t->has_fma = 1;
    } else if (in_list(x86_avx_cpus, td->cpu)) {
        t->vector_bits = 256;
    }
}

int cg_target_resolve(const char *triple, const char *cpu, CgTargetDesc *out, Diag *d)
{
    init_llvm_targets();
    memset(out, 0, sizeof *out);
    char *host_triple = LLVMGetDefaultTargetTriple();
    char *norm = LLVMNormalizeTargetTriple(triple ? triple : host_triple);
    int rc = -1;
    CgArch host_arch = CG_ARCH_COUNT;
    char *err = NULL;
    LLVMTargetRef target;
    if (strlen(norm) >= sizeof out->triple) {
        diag_error(d, "--target: triple too long");
        goto out;
    }
    snprintf(out->triple, sizeof out->triple, "%s", norm);
    if (arch_of(out->triple, &out->arch)) {
        diag_error(d, "--target %s: unsupported architecture (ppcc generates x86_64 and aarch64 code)",
                   triple ? triple : out->triple);
        goto out;
    }
    if (LLVMGetTargetFromTriple(out->triple, &target, &err)) {
        diag_error(d, "--target %s: %s", triple ? triple : out->triple, err ? err : "unknown target");
        goto out;
    }
    out->is_host_arch = arch_of(host_triple, &host_arch) == 0 && host_arch == out->arch;
    int host_cpu = cpu ? !strcmp(cpu, "host") : !triple;
    if (host_cpu && !out->is_host_arch) {
        diag_error(d, "--cpu host: the target is not this machine's architecture");
        goto out;
    }
    if (host_cpu) {
        char *name = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
        snprintf(out->cpu, sizeof out->cpu, "%s", name);
        out->features = xstrdup(feat);
        LLVMDisposeMessage(name);
        LLVMDisposeMessage(feat);
    } else {
        const char *name = cpu ? cpu : out->arch == CG_ARCH_X86_64 ? "x86-64" : "generic";
        if (strlen(name) >= sizeof out->cpu ||
            !in_list(out->arch == CG_ARCH_AARCH64 ? cg_cpus_aarch64 : cg_cpus_x86_64, name)) {
            diag_error(d, "--cpu '%.80s': not a CPU LLVM knows for %s (llc-16 -mtriple=%s -mcpu=help lists them)",
                       name, out->arch == CG_ARCH_AARCH64 ? "aarch64" : "x86_64",
                       out->arch == CG_ARCH_AARCH64 ? "aarch64" : "x86_64");
            goto out;
        }
        snprintf(out->cpu, sizeof out->cpu, "%s", name);
        out->features = xstrdup("");
    }
    derive_facts(out);
    rc = 0;
out:
    if (rc) cg_target_release(out);
    LLVMDisposeMessage(err);
    LLVMDisposeMessage(norm);
    LLVMDisposeMessage(host_triple);
    return rc;
}

void cg_target_release(CgTargetDesc *td)
{
    free(td->features);
    td->features = NULL;
}

LLVMTargetMachineRef cg_target_machine(const CgTargetDesc *td, int opt_level, Diag *d)
{
    init_llvm_targets();
    LLVMTargetRef target;
    char *err = NULL;
    if (LLVMGetTargetFromTriple(td->triple, &target, &err)) {
        diag_error(d, "target %s: %s", td->triple, err ? err : "unknown");
        LLVMDisposeMessage(err);
        return NULL;
    }
    static const LLVMCodeGenOptLevel levels[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                                 LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(target, td->triple, td->cpu, td->features,
                                                      levels[opt_level < 0 ? 0 : opt_level > 3 ? 3 : opt_level],
                                                      LLVMRelocPIC, LLVMCodeModelDefault);
    if (!tm) diag_error(d, "target %s: LLVM cannot create a target machine for CPU '%s'", td->triple, td->cpu);
    return tm;
}

static void set_str_attr(Cg *c, LLVMValueRef fn, const char *key, const char *val)
{
    unsigned kl = (unsigned)strlen(key);
    LLVMRemoveStringAttributeAtIndex(fn, LLVMAttributeFunctionIndex, key, kl);
    if (val)
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(c->ctx, key, kl, val, (unsigned)strlen(val)));
}

void cg_target_set_attributes(Cg *c)
{
    const CgTargetDesc *td = c->o->target;
    int avx512 = td->facts.is_x86 && td->facts.vector_bits >= 512;
    for (LLVMValueRef fn = LLVMGetFirstFunction(c->mod); fn; fn = LLVMGetNextFunction(fn)) {
        if (LLVMIsDeclaration(fn)) continue;
        set_str_attr(c, fn, "target-cpu", td->cpu);
        set_str_attr(c, fn, "target-features", td->features[0] ? td->features : NULL);
        set_str_attr(c, fn, "tune-cpu", NULL);
        set_str_attr(c, fn, "prefer-vector-width", avx512 ? "512" : NULL);
        set_str_attr(c, fn, "min-legal-vector-width", avx512 ? "512" : NULL);
    }
}
