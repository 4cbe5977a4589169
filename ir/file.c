/* file.c — writing output files safely, shared by every tool and writer of ppcc.
 *
 * Outputs are written atomically: a temporary file next to the target (mkstemp), then rename,
 * so a failed run never leaves a partial file and readers never see one. A path that exists and
 * is not a regular file (/dev/null, a FIFO, a terminal) is written in place instead: renaming
 * over it would replace the device.
 */
#include "ir.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ir_path_is_special(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

int ir_write_file_atomic(const char *path, const void *data, size_t len, Diag *d)
{
    if (ir_path_is_special(path)) {
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(data, 1, len, f) == len;
        if (f) ok &= fclose(f) == 0;
        return ok ? 0 : diag_error(d, "cannot write: %s", strerror(errno));
    }
    char *dircopy = xstrdup(path), *basecopy = xstrdup(path);
    const char *dir = dirname(dircopy), *base = basename(basecopy);
    size_t tlen = strlen(dir) + strlen(base) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s/.%s.tmpXXXXXX", dir, base);
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        diag_error(d, "cannot create a temporary file next to it: %s", strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len)) {
        diag_error(d, "cannot write: %s", strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    int bad = fchmod(fd, 0644) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path)) {
        diag_error(d, "cannot write: %s", strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(dircopy);
    free(basecopy);
    return rc;
}
