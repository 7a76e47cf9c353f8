/* Reading a file that holds secrets (a token file, a client's token): refused unless it
 * is a regular file only its owner may read or write. */
#include "secret_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_mod_path.h"

/* A token file of a million bytes holds thousands of entries: anything larger is a
 * wrong path. */
#define AT_SECRET_MAX (1u << 20)

px_status at_read_secret(const px_module_env *env, const char *what, const char *path,
                         char **out, size_t *len, char *abs, size_t abs_cap, px_err *err)
{
    *out = NULL;
    if (px_mod_path(env, path, abs, abs_cap) != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s '%s': path too long", what, path);
    const char *rel = path[0] != '/' ? " (relative to the config file's folder)" : "";
    /* O_NONBLOCK: a FIFO put where the file should be must not hang the load. The
     * checks read the opened file (fstat), so it cannot be swapped after them. */
    int fd = open(abs, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return px_err_set(err, errno == ENOENT ? PX_NOT_FOUND : PX_PERMISSION_DENIED,
                          "%s %s: cannot open: %s%s", what, abs, strerror(errno), rel);
    struct stat sb;
    px_status st = PX_OK;
    if (fstat(fd, &sb) != 0)
        st = px_err_set(err, PX_INTERNAL, "%s %s: cannot stat: %s", what, abs, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = px_err_set(err, PX_INVALID_ARGUMENT, "%s %s: not a regular file", what, abs);
    else if (sb.st_mode & (S_IRWXG | S_IRWXO))
        st = px_err_set(err, PX_PERMISSION_DENIED,
                        "%s %s: readable or writable by group or others (mode %04o); it holds "
                        "secrets: refusing it (fix: chmod go-rwx %s)",
                        what, abs, (unsigned)(sb.st_mode & 07777), abs);
    else if ((uint64_t)sb.st_size > AT_SECRET_MAX)
        st = px_err_set(err, PX_INVALID_ARGUMENT, "%s %s: larger than 1 MiB", what, abs);
    char *buf = st == PX_OK ? malloc((size_t)sb.st_size + 1) : NULL;
    if (st == PX_OK && buf == NULL)
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    size_t n = 0;
    while (st == PX_OK && n < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)sb.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            st = px_err_set(err, PX_INTERNAL, "%s %s: cannot read: %s", what, abs,
                            strerror(errno));
        if (r <= 0)
            break; /* shrank while read: what was there */
        n += (size_t)r;
    }
    close(fd);
    if (st != PX_OK) {
        free(buf);
        return st;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return PX_OK;
}

void at_wipe_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    /* A volatile pointer: the stores are not dropped as dead before free. */
    volatile char *v = s;
    for (size_t i = 0; i < len; i++)
        v[i] = 0;
    free(s);
}
