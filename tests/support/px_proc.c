/* Test helper: start, wait for and stop real plexusd processes on 127.0.0.1 or ::1. */
#define _GNU_SOURCE
#include "px_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int die_with_test; /* px_proc_die_with_test */

void px_proc_die_with_test(void) { die_with_test = 1; }

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* host ("127.0.0.1", "::1") and port as a socket address; its length, or 0. */
static socklen_t sockaddr_of(const char *host, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return sizeof *v4;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return sizeof *v6;
    }
    return 0;
}

int px_free_port_on(const char *host)
{
    struct sockaddr_storage ss;
    socklen_t l = sockaddr_of(host, 0, &ss);
    int fd = l ? socket(ss.ss_family, SOCK_STREAM, 0) : -1;
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, l) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in v6 */
}

int px_free_port(void)
{
    return px_free_port_on("127.0.0.1");
}

int px_have_ipv6_loopback(void)
{
    return px_free_port_on("::1") > 0;
}

void px_host_port(char *buf, size_t cap, const char *host, int port)
{
    snprintf(buf, cap, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

static int can_connect(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t l = sockaddr_of(host, port, &ss);
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&ss, l) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void show_log(const px_proc *p)
{
    FILE *f = fopen(p->log, "r");
    char line[512];
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "  [%s] %s", p->id, line);
    fclose(f);
}

/* Writes a config for p->id on p->port into a new temp dir, runs plexusd, waits. */
static int launch(px_proc *p, const char *server_yaml)
{
    const char *id = p->id;
    snprintf(p->dir, sizeof p->dir, "/tmp/pxtest-XXXXXX");
    if (!mkdtemp(p->dir))
        return -1;
    snprintf(p->conf, sizeof p->conf, "%s/server.yaml", p->dir);
    snprintf(p->log, sizeof p->log, "%s/plexusd.log", p->dir);
    FILE *f = fopen(p->conf, "w");
    if (!f || p->port < 0)
        return -1;
    char listen[80];
    px_host_port(listen, sizeof listen, p->host, p->port);
    fprintf(f, "modules:\n  path: [%s]\nserver:\n  listen: '%s'\n  id: %s\n%s",
            env_or("PX_MODULE_DIR", "build/modules"), listen, id, server_yaml ? server_yaml : "");
    fclose(f);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/bin/plexusd", env_or("PX_BINARY_DIR", "build"));
    p->pid = fork();
    if (p->pid == 0) {
        if (die_with_test)
            prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        /* PX_VALGRIND=1: the server runs under memcheck and exits non-zero on any
         * error or definite leak, which px_proc_stop reports. */
        if (getenv("PX_VALGRIND"))
            execlp("valgrind", "valgrind", "-q", "--fair-sched=yes", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--error-exitcode=99", bin, "-c", p->conf,
                   (char *)NULL);
        execl(bin, "plexusd", "-c", p->conf, (char *)NULL);
        _exit(127);
    }
    /* Bounded readiness poll: up to 30 s in 5 ms steps (valgrind starts slowly). */
    for (int i = 0; i < 6000; i++) {
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            fprintf(stderr, "plexusd %s exited early (status %d):\n", id, WEXITSTATUS(status));
            show_log(p);
            p->pid = 0;
            return -1;
        }
        if (can_connect(p->host, p->port))
            return 0;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "plexusd %s did not accept connections within 30 s\n", id);
    show_log(p);
    px_proc_kill(p);
    return -1;
}

int px_proc_start_on(px_proc *p, const char *host, const char *id, const char *server_yaml)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = px_free_port_on(host);
    return launch(p, server_yaml);
}

int px_proc_start_at(px_proc *p, const char *host, int port, const char *id,
                     const char *server_yaml)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    return launch(p, server_yaml);
}

int px_proc_start(px_proc *p, const char *id, const char *server_yaml)
{
    return px_proc_start_on(p, "127.0.0.1", id, server_yaml);
}

int px_proc_restart(px_proc *p, const char *server_yaml)
{
    if (p->pid > 0) {
        fprintf(stderr, "px_proc_restart: plexusd %s is still running (pid %d)\n", p->id,
                (int)p->pid);
        return -1;
    }
    return launch(p, server_yaml);
}

static void cleanup_dir(px_proc *p)
{
    unlink(p->conf);
    unlink(p->log);
    rmdir(p->dir);
}

int px_proc_stop(px_proc *p)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 3000; i++) { /* up to 30 s: the server's shutdown grace */
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            if (rc != 0)
                show_log(p);
            cleanup_dir(p);
            return rc;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    px_proc_kill(p);
    return -1;
}

void px_proc_kill(px_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    cleanup_dir(p);
}

/* One upstream "calc" over the n addresses hosts[i]:ports[i]. */
static int write_client_conf(const char *path, const char *const *hosts, const int *ports, int n,
                             const char *upstream_yaml)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n    calc:\n"
               "      endpoints: [",
            env_or("PX_MODULE_DIR", "build/modules"));
    for (int i = 0; i < n; i++) {
        char addr[80];
        px_host_port(addr, sizeof addr, hosts[i], ports[i]);
        fprintf(f, "%s'%s'", i ? ", " : "", addr);
    }
    fprintf(f, "]\n%s", upstream_yaml ? upstream_yaml : "");
    return fclose(f);
}

int px_write_client_conf_on(const char *path, const char *host, const int *ports, int n,
                            const char *upstream_yaml)
{
    const char *hosts[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        hosts[i] = host;
    return write_client_conf(path, hosts, ports, n, upstream_yaml);
}

int px_write_client_conf(const char *path, const int *ports, int n, const char *upstream_yaml)
{
    return px_write_client_conf_on(path, "127.0.0.1", ports, n, upstream_yaml);
}

int px_write_client_conf_procs(const char *path, const px_proc *procs, int n,
                               const char *upstream_yaml)
{
    const char *hosts[n > 0 ? n : 1];
    int ports[n > 0 ? n : 1];
    for (int i = 0; i < n; i++) {
        hosts[i] = procs[i].host;
        ports[i] = procs[i].port;
    }
    return write_client_conf(path, hosts, ports, n, upstream_yaml);
}

static void slurp(int fd, char *buf, size_t cap)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, cap - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* posix_spawn, not fork: a test calling this has client threads running, and under TSan
 * a forked child of a threaded process runs instrumented code until its exec and may
 * report (and exit 66) there; posix_spawn runs none. */
static pid_t px__spawn_fds(char *const argv[], int out_fd, int err_fd)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    extern char **environ;
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

pid_t px_spawn(char *const argv[], const char *out_path)
{
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    pid_t pid = px__spawn_fds(argv, fd, fd);
    close(fd);
    return pid;
}

int px_wait_port_file(const char *path, pid_t pid, int *port)
{
    for (int i = 0; i < 3000; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            int ok = fscanf(f, "%d", port) == 1;
            fclose(f);
            if (ok)
                return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int px_run(char *const argv[], char *out, size_t out_cap, char *err, size_t err_cap)
{
    char opath[] = "/tmp/pxrun-out-XXXXXX", epath[] = "/tmp/pxrun-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    pid_t pid = px__spawn_fds(argv, ofd, efd);
    int status = 0;
    if (pid < 0)
        status = 127 << 8; /* as a child that could not exec */
    else
        waitpid(pid, &status, 0);
    slurp(ofd, out, out_cap);
    slurp(efd, err, err_cap);
    close(ofd);
    close(efd);
    unlink(opath);
    unlink(epath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
