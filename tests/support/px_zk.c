/* Test helper: start, wait for, stop and restart a standalone ZooKeeper server. The JVM
 * is run directly (the command zkServer.sh start-foreground runs) so that its pid is
 * ours to signal and its log lands in the test's temp dir: Debian's zkEnv.sh pins
 * ZOO_LOG_DIR to /var/log/zookeeper. */
#define _GNU_SOURCE
#include "px_zk.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "px_proc.h"

#define ZK_JAVA "/usr/bin/java"
#define ZK_SETPRIV "/usr/bin/setpriv" /* util-linux: --pdeathsig */
#define ZK_JAR "/usr/share/java/zookeeper.jar"
#define ZK_CONF_DIR "/etc/zookeeper/conf" /* log4j.properties, as zkEnv.sh puts it first */
/* An SLF4J binding, so the server's log says something (without one it is silent). */
#define ZK_SLF4J_SIMPLE "/usr/share/java/slf4j-simple.jar"

int px_zk_available(void)
{
    return access(ZK_JAVA, X_OK) == 0 && access(ZK_JAR, R_OK) == 0 &&
           access(ZK_SETPRIV, X_OK) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void show_log(const px_zk *z)
{
    FILE *f = fopen(z->log, "r");
    char line[512];
    if (!f)
        return;
    /* The JVM is chatty: the last lines say why it stopped. */
    long lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    rewind(f);
    for (long i = 0; fgets(line, sizeof line, f); i++)
        if (i >= lines - 40)
            fprintf(stderr, "  [zookeeper] %s", line);
    fclose(f);
}

int px_zk_4lw(const px_zk *z, const char *cmd, char *out, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)z->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    out[0] = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || cap == 0)
        return -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    size_t len = 0, cl = strlen(cmd);
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, cmd, cl) == (ssize_t)cl) {
        ssize_t r;
        while (len < cap - 1 && (r = read(fd, out + len, cap - 1 - len)) > 0)
            len += (size_t)r;
        rc = 0;
    }
    close(fd);
    out[len] = 0;
    return rc;
}

int px_zk_serving(const px_zk *z)
{
    char buf[1024];
    /* A server that is up but not yet serving answers "This ZooKeeper instance is not
     * currently serving requests". */
    return px_zk_4lw(z, "srvr", buf, sizeof buf) == 0 && strstr(buf, "Mode: ") != NULL;
}

static int launch(px_zk *z)
{
    int have_slf4j = access(ZK_SLF4J_SIMPLE, R_OK) == 0;
    char cp[256], logdir[160];
    snprintf(cp, sizeof cp, "%s:%s%s%s", ZK_CONF_DIR, ZK_JAR, have_slf4j ? ":" : "",
             have_slf4j ? ZK_SLF4J_SIMPLE : "");
    snprintf(logdir, sizeof logdir, "-Dzookeeper.log.dir=%s", z->dir);
    /* posix_spawn, not fork: the test's client threads run (a restart happens mid-load),
     * and under TSan a forked child runs instrumented code until its exec. setpriv gives
     * the JVM SIGKILL when the spawning thread exits, so a crashed test leaves no server
     * behind. A small heap and the quick JIT tier: the tests need seconds, not throughput. */
    char *const argv[] = {"setpriv", "--pdeathsig", "KILL", "--", ZK_JAVA, "-Xmx128m",
                          "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", logdir,
                          "-Dzookeeper.root.logger=INFO,CONSOLE", "-cp", cp,
                          "org.apache.zookeeper.server.ZooKeeperServerMain", z->cfg, NULL};
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    posix_spawn_file_actions_addopen(&fa, 1, z->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&z->pid, ZK_SETPRIV, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "px_zk: cannot run %s: %s\n", ZK_SETPRIV, strerror(rc));
        z->pid = 0;
        return -1;
    }
    /* Bounded readiness poll: up to 60 s in 50 ms steps (a JVM on a loaded machine). */
    for (int i = 0; i < 1200; i++) {
        int status;
        if (waitpid(z->pid, &status, WNOHANG) == z->pid) {
            fprintf(stderr, "zookeeper exited early (status %d):\n", WEXITSTATUS(status));
            z->pid = 0;
            show_log(z);
            return -1;
        }
        if (px_zk_serving(z))
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr, "zookeeper did not serve on %s within 60 s\n", z->connect);
    show_log(z);
    px_zk_kill(z);
    return -1;
}

int px_zk_start(px_zk *z)
{
    memset(z, 0, sizeof *z);
    if (!px_zk_available()) {
        fprintf(stderr, "px_zk: %s or %s missing (Debian's zookeeper package)\n", ZK_JAVA,
                ZK_JAR);
        return -1;
    }
    snprintf(z->dir, sizeof z->dir, "/tmp/pxzk-XXXXXX");
    if (!mkdtemp(z->dir)) {
        z->dir[0] = 0;
        return -1;
    }
    snprintf(z->cfg, sizeof z->cfg, "%s/zoo.cfg", z->dir);
    snprintf(z->log, sizeof z->log, "%s/zookeeper.log", z->dir);
    z->port = px_free_port();
    snprintf(z->connect, sizeof z->connect, "127.0.0.1:%d", z->port);
    char data[160];
    snprintf(data, sizeof data, "%s/data", z->dir);
    FILE *f = fopen(z->cfg, "w");
    if (!f || mkdir(data, 0755) != 0 || z->port <= 0) {
        if (f)
            fclose(f);
        return -1;
    }
    fprintf(f,
            "tickTime=%d\n"
            "minSessionTimeout=%d\n"
            "maxSessionTimeout=%d\n"
            "dataDir=%s\n"
            "clientPort=%d\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=srvr,ruok,dump\n"
            /* no snapshot purge task, no fsync wait: a test's data lives seconds */
            "forceSync=no\n",
            PX_ZK_TICK_MS, PX_ZK_MIN_SESSION_MS, PX_ZK_MAX_SESSION_MS, data, z->port);
    fclose(f);
    return launch(z);
}

int px_zk_restart(px_zk *z)
{
    if (z->pid > 0) {
        fprintf(stderr, "px_zk_restart: zookeeper is still running (pid %d)\n", (int)z->pid);
        return -1;
    }
    return launch(z);
}

void px_zk_kill(px_zk *z)
{
    if (z->pid <= 0)
        return;
    kill(z->pid, SIGKILL);
    waitpid(z->pid, NULL, 0);
    z->pid = 0;
}

int px_zk_stop(px_zk *z)
{
    if (z->pid <= 0)
        return -1;
    kill(z->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        int status;
        if (waitpid(z->pid, &status, WNOHANG) == z->pid) {
            z->pid = 0;
            return 0;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "zookeeper (pid %d) ignored SIGTERM for 10 s: killed\n", (int)z->pid);
    px_zk_kill(z);
    return -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void px_zk_destroy(px_zk *z)
{
    px_zk_stop(z);
    if (z->dir[0])
        nftw(z->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    z->dir[0] = 0;
}
