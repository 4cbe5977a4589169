/* cpuload.c — how busy the machine was with work other than the benchmark's own: samples the
 * kernel's CPU counters (/proc/stat: busy and total time over all CPUs, hypervisor steal counted
 * as busy) and the CPU time of the driver process and of the ONNX Runtime child
 * (/proc/PID/stat utime + stime, all their threads). Between two samples,
 *   background % = (busy - ours) / total * 100
 * is the share of the machine's CPU capacity that something else used while we measured: a
 * latency measured at a high background share is not trustworthy. Linux only; elsewhere, and
 * for windows too short to measure, the figure is NaN ("n/a").
 */
#include "bench/bench.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* Below this many clock ticks of machine time (0.1 s of 2 CPUs at 100 Hz) the share is mostly
 * tick rounding, so it is not reported. */
#define MIN_TICKS 20

/* utime + stime (clock ticks) of process pid (0 = self); -1 if unreadable. */
static double proc_ticks(pid_t pid)
{
    char path[64], buf[1024];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* Fields after the command name "(...)", which may contain spaces: state is field 3,
     * utime field 14, stime field 15. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st);
}

int cpuload_sample(pid_t child, CpuSample *s)
{
    s->busy = s->total = s->own = NAN;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    unsigned long long v[10] = {0};
    int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                     &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    fclose(f);
    if (got < 8)
        return -1;
    /* user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice] */
    double idle = (double)(v[3] + v[4]);
    double busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    double self = proc_ticks(0), kid = child > 0 ? proc_ticks(child) : 0;
    if (self < 0 || kid < 0)
        return -1;
    s->busy = busy;
    s->total = busy + idle;
    s->own = self + kid;
    return 0;
}

double cpuload_background_pct(const CpuSample *a, const CpuSample *b)
{
    double total = b->total - a->total;
    if (isnan(total) || total < MIN_TICKS)
        return NAN;
    double other = (b->busy - a->busy) - (b->own - a->own);
    if (other < 0)
        other = 0; /* the counters are sampled at slightly different moments */
    return 100.0 * other / total;
}
