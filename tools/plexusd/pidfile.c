/* The pid file: written after the server listens, removed at exit; `plexusd -s` signals
 * the process it names, and only when that process is a plexusd (a stale file may name a
 * pid the system gave to another program since). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

int pxd_pidfile_path(const px_config *cfg, char *buf, size_t cap)
{
    const char *p = px_config_pid_file(cfg);
    if (!p || !p[0])
        return 0;
    int n;
    if (p[0] == '/') {
        n = snprintf(buf, cap, "%s", p);
    } else {
        const char *file = px_config_file(cfg);
        const char *slash = strrchr(file, '/');
        n = slash ? snprintf(buf, cap, "%.*s/%s", (int)(slash - file), file, p)
                  : snprintf(buf, cap, "%s", p);
    }
    return n < 0 || (size_t)n >= cap ? -1 : 1;
}

int pxd_pidfile_write(const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        px_log(PX_LOG_ERROR, NULL, "server.pid_file: %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[32];
    int n = snprintf(line, sizeof line, "%d\n", (int)getpid());
    int ok = write(fd, line, (size_t)n) == n;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        px_log(PX_LOG_ERROR, NULL, "server.pid_file: %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The pid path holds, 0 when it holds none. */
static pid_t pxd__read(const char *path, int *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *err = errno;
        return 0;
    }
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    *err = pid ? 0 : EINVAL;
    return (pid_t)pid;
}

void pxd_pidfile_remove(const char *path)
{
    int err;
    if (pxd__read(path, &err) == getpid())
        unlink(path);
}

/* 1 when pid runs the plexusd program. */
static int pxd__is_plexusd(pid_t pid)
{
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(comm, sizeof comm, f) != NULL && strncmp(comm, "plexusd", 7) == 0;
    fclose(f);
    return ok;
}

int pxd_signal(const px_config *cfg, const char *name)
{
    static const struct { const char *name; int sig; } sigs[] = {
        {"reload", SIGHUP}, {"stop", SIGTERM}};
    int sig = 0;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strcmp(name, sigs[i].name) == 0)
            sig = sigs[i].sig;
    char path[4096];
    int has = pxd_pidfile_path(cfg, path, sizeof path);
    if (has <= 0) {
        fprintf(stderr, "plexusd: %s: %s\n", px_config_file(cfg),
                has == 0 ? "server.pid_file is not set: -s needs it to find the running plexusd"
                         : "server.pid_file: the path is too long");
        return 1;
    }
    int err;
    pid_t pid = pxd__read(path, &err);
    if (!pid) {
        fprintf(stderr, "plexusd: %s: %s (is plexusd running?)\n", path,
                err == EINVAL ? "holds no pid" : strerror(err));
        return 1;
    }
    if (!pxd__is_plexusd(pid)) {
        fprintf(stderr, "plexusd: %s names pid %d, which is not a running plexusd (a stale "
                "pid file?)\n", path, (int)pid);
        return 1;
    }
    if (kill(pid, sig) != 0) {
        fprintf(stderr, "plexusd: signal %s to pid %d: %s\n", name, (int)pid, strerror(errno));
        return 1;
    }
    return 0;
}
