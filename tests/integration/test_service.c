/* plexusd as a systemd service: the unit file in dist/systemd passes systemd-analyze
 * verify, and a real plexusd (one process, then a master of three workers) sends READY=1
 * with its pid once it serves, RELOADING=1 and READY=1 around a SIGHUP and STOPPING=1 on
 * SIGTERM, over the datagram socket NOTIFY_SOCKET names, as systemd would read them; in
 * master mode only the master sends (the kernel's credentials of each message say who). */
#define _GNU_SOURCE /* struct ucred */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "px_proc.h"

/* ---- the unit file -------------------------------------------------------------------- */

static int on_path(const char *prog, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, cap, "%s/%s", d, prog);
        if (access(out, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* The unit as installed, but with the plexusd of this build (verify checks that the
 * commands exist), as an instance (a template itself cannot be verified). */
static void test_unit_verifies(void **state)
{
    (void)state;
    char analyze[512];
    if (!on_path("systemd-analyze", analyze, sizeof analyze)) {
        fprintf(stderr, "SKIPPED: systemd-analyze is not on PATH (Debian: apt-get install "
                        "systemd); the unit file is not verified\n");
        skip();
    }
    char src[512], dir[] = "/tmp/pxunit-XXXXXX", unit[600], bin[512];
    snprintf(src, sizeof src, "%s/dist/systemd/plexusd@.service", getenv("PX_SOURCE_DIR"));
    snprintf(bin, sizeof bin, "%s/bin/plexusd", getenv("PX_BINARY_DIR"));
    assert_non_null(mkdtemp(dir));
    snprintf(unit, sizeof unit, "%s/plexusd@calc.service", dir);
    FILE *in = fopen(src, "r"), *out = fopen(unit, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[1024];
    int commands = 0;
    while (fgets(line, sizeof line, in)) {
        char *at = strstr(line, "/usr/bin/plexusd");
        if (at) {
            fprintf(out, "%.*s%s%s", (int)(at - line), line, bin, at + strlen("/usr/bin/plexusd"));
            commands++;
        } else {
            fputs(line, out);
        }
    }
    fclose(in);
    fclose(out);
    assert_int_equal(commands, 3); /* ExecStartPre, ExecStart, ExecReload */
    char o[8192] = "", e[8192] = "";
    char *argv[] = {analyze, "verify", "--man=no", unit, NULL};
    int rc = px_run(argv, o, sizeof o, e, sizeof e);
    /* verify exits 0 on an unknown key or a bad value too, with a warning: any output
     * is a finding. */
    if (rc != 0 || o[0] || e[0])
        fprintf(stderr, "systemd-analyze verify %s: status %d\n%s%s", unit, rc, o, e);
    assert_int_equal(rc, 0);
    assert_string_equal(o, "");
    assert_string_equal(e, "");
    unlink(unit);
    rmdir(dir);
}

/* ---- sd_notify ------------------------------------------------------------------------- */

typedef struct notify_sock {
    int fd;
    char path[108];
} notify_sock;

/* A datagram socket as systemd's, with SO_PASSCRED so each message says its sender. */
static void notify_open(notify_sock *n)
{
    snprintf(n->path, sizeof n->path, "/tmp/pxnotify-%d-%d.sock", (int)getpid(), px_free_port());
    unlink(n->path);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(n->fd >= 0);
    int on = 1;
    assert_int_equal(setsockopt(n->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on), 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", n->path);
    assert_int_equal(bind(n->fd, (struct sockaddr *)&a, sizeof a), 0);
    setenv("NOTIFY_SOCKET", n->path, 1);
}

static void notify_close(notify_sock *n)
{
    unsetenv("NOTIFY_SOCKET");
    close(n->fd);
    unlink(n->path);
}

/* Reads messages (bounded: 30 s) until one holds the line want; each message's sender
 * must be pid. Returns that message's text in msg. */
static void notify_expect(notify_sock *n, const char *want, pid_t pid, char *msg, size_t cap)
{
    for (int i = 0; i < 300; i++) {
        struct pollfd p = {.fd = n->fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        char cbuf[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = {msg, cap - 1};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof cbuf};
        ssize_t r = recvmsg(n->fd, &mh, 0);
        assert_true(r >= 0);
        msg[r] = 0;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        assert_non_null(c);
        assert_int_equal(c->cmsg_type, SCM_CREDENTIALS);
        struct ucred cred;
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        fprintf(stderr, "notify from pid %d: %s\n", (int)cred.pid, msg);
        assert_int_equal(cred.pid, pid); /* the main process and no other */
        char lines[1024];
        snprintf(lines, sizeof lines, "%s", msg);
        for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save))
            if (strcmp(l, want) == 0)
                return;
    }
    fail_msg("no %s from pid %d within 30 s", want, (int)pid);
}

static void check_lifecycle(const char *server_yaml)
{
    notify_sock n;
    notify_open(&n);
    px_proc p;
    assert_int_equal(px_proc_start(&p, "svc", server_yaml), 0);
    char msg[1024], mainpid[64];
    notify_expect(&n, "READY=1", p.pid, msg, sizeof msg);
    snprintf(mainpid, sizeof mainpid, "MAINPID=%d", (int)p.pid);
    assert_non_null(strstr(msg, mainpid));
    kill(p.pid, SIGHUP);
    notify_expect(&n, "RELOADING=1", p.pid, msg, sizeof msg);
    assert_non_null(strstr(msg, "MONOTONIC_USEC="));
    notify_expect(&n, "READY=1", p.pid, msg, sizeof msg);
    kill(p.pid, SIGTERM);
    notify_expect(&n, "STOPPING=1", p.pid, msg, sizeof msg);
    assert_int_equal(px_proc_stop(&p), 0);
    notify_close(&n);
}

static void test_notify_single_process(void **state)
{
    (void)state;
    check_lifecycle("  codecs: [protobuf]\n  services:\n    - module: calc\n");
}

static void test_notify_master(void **state)
{
    (void)state;
    check_lifecycle("  processes: 3\n  codecs: [protobuf]\n  services:\n    - module: calc\n");
}

/* Without NOTIFY_SOCKET (plexusd outside systemd) nothing changes: it serves and stops. */
static void test_no_notify_socket(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    px_proc p;
    assert_int_equal(px_proc_start(&p, "plain", "  services:\n    - module: calc\n"), 0);
    assert_int_equal(px_proc_stop(&p), 0);
}

int main(void)
{
    px_proc_die_with_test();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_verifies),
        cmocka_unit_test(test_notify_single_process),
        cmocka_unit_test(test_notify_master),
        cmocka_unit_test(test_no_notify_socket),
    };
    return cmocka_run_group_tests_name("plexusd as a systemd service", tests, NULL, NULL);
}
