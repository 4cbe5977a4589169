/* ort_client.c — the benchmark driver's side of bench/ort_runner.js: starts `node ort_runner.js
 * --ort PKG` as a child process with pipes on its stdin and stdout (its stderr stays the
 * driver's), sends one command per line and reads the one-line reply ("ok ..." / "err ...").
 * Timing happens inside the runner, so pipe latency does not count.
 */
#include "bench/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int ort_start(OrtClient *c, const char *node, const char *runner, const char *pkg, char *err,
              size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->pid = -1;
    int in[2], out[2]; /* in: driver -> runner stdin; out: runner stdout -> driver */
    if (pipe(in) != 0)
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    if (pipe(out) != 0) {
        close(in[0]), close(in[1]);
        return snprintf(err, errlen, "pipe: %s", strerror(errno)), -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return snprintf(err, errlen, "fork: %s", strerror(errno)), -1;
    }
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp(node, node, runner, "--ort", pkg, (char *)NULL);
        fprintf(stderr, "bench: cannot run %s: %s\n", node, strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->to = fdopen(in[1], "w");
    c->from = fdopen(out[0], "r");
    if (!c->to || !c->from) {
        ort_stop(c);
        return snprintf(err, errlen, "fdopen: %s", strerror(errno)), -1;
    }
    return 0;
}

int ort_cmd(OrtClient *c, const char *cmd, const char **reply, char *err, size_t errlen)
{
    if (!c->to || !c->from)
        return snprintf(err, errlen, "ORT runner is not running"), -1;
    if (fprintf(c->to, "%s\n", cmd) < 0 || fflush(c->to) != 0)
        return snprintf(err, errlen, "ORT runner exited (write failed)"), -1;
    ssize_t n = getline(&c->line, &c->cap, c->from);
    if (n <= 0)
        return snprintf(err, errlen, "ORT runner exited (no reply to '%.60s')", cmd), -1;
    while (n > 0 && (c->line[n - 1] == '\n' || c->line[n - 1] == '\r'))
        c->line[--n] = 0;
    if (!strncmp(c->line, "ok", 2) && (c->line[2] == ' ' || c->line[2] == 0)) {
        *reply = c->line[2] ? c->line + 3 : c->line + 2;
        return 0;
    }
    snprintf(err, errlen, "%s", !strncmp(c->line, "err ", 4) ? c->line + 4 : c->line);
    return -1;
}

int ort_run(OrtClient *c, int n, double *ms, char *err, size_t errlen)
{
    char cmd[32];
    const char *r;
    snprintf(cmd, sizeof cmd, "run %d", n);
    if (ort_cmd(c, cmd, &r, err, errlen) != 0)
        return -1;
    if (strncmp(r, "run ms=", 7) != 0)
        return snprintf(err, errlen, "unexpected reply '%.80s'", r), -1;
    const char *p = r + 7;
    for (int k = 0; k < n; k++) {
        char *end;
        ms[k] = strtod(p, &end);
        if (end == p || (k + 1 < n && *end != ','))
            return snprintf(err, errlen, "bad run reply at value %d", k), -1;
        p = end + (*end == ',');
    }
    return 0;
}

void ort_stop(OrtClient *c)
{
    if (c->to) {
        fprintf(c->to, "quit\n");
        fclose(c->to);
        c->to = NULL;
    }
    if (c->from) {
        /* Drain the reply to quit (or EOF) so the child never blocks on a full pipe. */
        while (getline(&c->line, &c->cap, c->from) > 0) {
        }
        fclose(c->from);
        c->from = NULL;
    }
    if (c->pid > 0) {
        int st;
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR) {
        }
        c->pid = -1;
    }
    free(c->line);
    c->line = NULL;
    c->cap = 0;
}
