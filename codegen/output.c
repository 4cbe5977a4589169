/* output.c — LLVM's optimisation pipeline and the output files.
 *
 * Optimisation: LLVMRunPasses(mod, "default<On>", tm) with loop and SLP vectorisation and loop
 * unrolling on from -O2 (as clang does). Output, always atomically (a temp file next to the
 * output, renamed at the end; removed on any error; "-" = standard output for the text
 * kinds): llvm = the module's text, asm/obj = the
 * target machine's assembly/object file, so = the object linked by the system C compiler driver:
 *     cc -shared -o OUT obj libppcfallback.a -lm -Wl,--exclude-libs,ALL -Wl,-z,defs -Wl,-z,noexecstack
 * (--exclude-libs keeps the interpreter kernels' symbols local to the model, -z defs makes a
 * missing symbol a link error instead of a load error). The driver's messages go to a temp log
 * whose first line becomes the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <llvm-c/Error.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/codegen.h"

extern char **environ;

int cg_output_optimise(Cg *c, Diag *d)
{
    int lvl = c->o->opt_level < 0 ? 0 : c->o->opt_level > 3 ? 3 : c->o->opt_level;
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMPassBuilderOptionsSetLoopVectorization(po, lvl >= 2);
    LLVMPassBuilderOptionsSetSLPVectorization(po, lvl >= 2);
    LLVMPassBuilderOptionsSetLoopInterleaving(po, lvl >= 2);
    LLVMPassBuilderOptionsSetLoopUnrolling(po, lvl >= 1);
    char pipeline[32];
    snprintf(pipeline, sizeof pipeline, "default<O%d>", lvl);
    LLVMErrorRef err = LLVMRunPasses(c->mod, pipeline, c->tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (err) {
        char *msg = LLVMGetErrorMessage(err);
        diag_error(d, "internal error: LLVM pass pipeline %s failed: %.300s", pipeline, msg);
        LLVMDisposeErrorMessage(msg);
        return -1;
    }
    return 0;
}

/* path + suffix, malloc'ed. */
static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, "%s%s", path, suffix);
    return s;
}

/* The first line of file path (for error messages), in buf. */
static const char *first_line(const char *path, char *buf, size_t n)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    if (!fgets(buf, (int)n, f)) buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* Link obj into a shared object at out with the C compiler driver. */
static int link_so(Cg *c, const char *obj, const char *out, const char *log, Diag *d)
{
    const char *cc = c->o->cc ? c->o->cc : "cc";
    if (!c->o->fallback_lib) return diag_error(d, "internal error: no libppcfallback.a given for --emit=so");
    const char *argv[] = {cc, "-shared", "-o", out, obj, c->o->fallback_lib, "-lm", "-Wl,--exclude-libs,ALL",
                          "-Wl,-z,defs", "-Wl,-z,noexecstack", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int e = posix_spawnp(&pid, cc, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e) return diag_error(d, "cannot run the C compiler driver '%s' to link: %s", cc, strerror(e));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char line[300];
        return diag_error(d, "linking with '%s -shared' failed: %s", cc, first_line(log, line, sizeof line));
    }
    return 0;
}

/* -o -: LLVM IR or assembly to standard output. */
/* Copy the finished temp file into a special output path (a device or FIFO). */
static int copy_to_special(const char *tmp, const char *out_path, Diag *d)
{
    FILE *in = fopen(tmp, "rb"), *out = in ? fopen(out_path, "wb") : NULL;
    int ok = in && out;
    char buf[65536];
    size_t r;
    while (ok && (r = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, r, out) == r;
    if (in) fclose(in);
    if (out) ok &= fclose(out) == 0;
    return ok ? 0 : diag_error(d, "cannot write '%s': %s", out_path, strerror(errno));
}

static int write_stdout(Cg *c, Diag *d)
{
    char *err = NULL;
    if (c->o->emit == CG_EMIT_LLVM) {
        char *text = LLVMPrintModuleToString(c->mod);
        size_t n = strlen(text);
        int ok = fwrite(text, 1, n, stdout) == n && fflush(stdout) == 0;
        LLVMDisposeMessage(text);
        return ok ? 0 : diag_error(d, "cannot write to standard output");
    }
    if (c->o->emit != CG_EMIT_ASM) return diag_error(d, "standard output takes only text (--emit=asm or llvm)");
    LLVMMemoryBufferRef mb = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(c->tm, c->mod, LLVMAssemblyFile, &err, &mb)) {
        diag_error(d, "cannot generate assembly: %s", err ? err : "unknown error");
        LLVMDisposeMessage(err);
        return -1;
    }
    size_t n = LLVMGetBufferSize(mb);
    int ok = fwrite(LLVMGetBufferStart(mb), 1, n, stdout) == n && fflush(stdout) == 0;
    LLVMDisposeMemoryBuffer(mb);
    return ok ? 0 : diag_error(d, "cannot write to standard output");
}

int cg_output_write(Cg *c, const char *out_path, Diag *d)
{
    if (!strcmp(out_path, "-")) return write_stdout(c, d);
    char suffix[64];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    char *tmp = with_suffix(out_path, suffix);
    char *obj = NULL, *log = NULL, *err = NULL;
    int rc = -1;
    switch (c->o->emit) {
    case CG_EMIT_LLVM:
        if (LLVMPrintModuleToFile(c->mod, tmp, &err)) {
            diag_error(d, "cannot write '%s': %s", out_path, err ? err : "unknown error");
            goto out;
        }
        break;
    case CG_EMIT_ASM:
    case CG_EMIT_OBJ:
        if (LLVMTargetMachineEmitToFile(c->tm, c->mod, tmp, c->o->emit == CG_EMIT_ASM ? LLVMAssemblyFile : LLVMObjectFile,
                                        &err)) {
            diag_error(d, "cannot write '%s': %s", out_path, err ? err : "unknown error");
            goto out;
        }
        break;
    case CG_EMIT_SO:
        obj = with_suffix(tmp, ".o");
        log = with_suffix(tmp, ".log");
        if (LLVMTargetMachineEmitToFile(c->tm, c->mod, obj, LLVMObjectFile, &err)) {
            diag_error(d, "cannot write '%s': %s", out_path, err ? err : "unknown error");
            goto out;
        }
        if (link_so(c, obj, tmp, log, d)) goto out;
        break;
    }
    if (ir_path_is_special(out_path)) { /* /dev/null, a FIFO: copy in, never rename over it */
        if (copy_to_special(tmp, out_path, d)) goto out;
        unlink(tmp);
    } else if (rename(tmp, out_path)) {
        diag_error(d, "cannot write '%s': %s", out_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (rc) unlink(tmp);
    if (obj) unlink(obj);
    if (log) unlink(log);
    LLVMDisposeMessage(err);
    free(tmp), free(obj), free(log);
    return rc;
}
