/* Test helper: a real standalone ZooKeeper server (Debian's `zookeeper`, Java) on
 * 127.0.0.1, on a free port, with its own temp dir (generated zoo.cfg, data dir, log). */
#ifndef PX_ZK_H
#define PX_ZK_H

#include <stddef.h>
#include <sys/types.h>

/* tickTime of the generated config: sessions may be as short as 2 ticks. */
#define PX_ZK_TICK_MS 200
/* The session timeouts the server grants: [2, 100] ticks (0.4 s .. 20 s). */
#define PX_ZK_MIN_SESSION_MS (2 * PX_ZK_TICK_MS)
#define PX_ZK_MAX_SESSION_MS (100 * PX_ZK_TICK_MS)

typedef struct px_zk {
    pid_t pid;          /* the java process; 0 when stopped */
    int port;           /* the client port on 127.0.0.1, kept across restarts */
    char dir[128];      /* temp dir: zoo.cfg, data/, zookeeper.log */
    char cfg[192];
    char log[192];      /* the server's stdout and stderr, appended on each start */
    char connect[48];   /* "127.0.0.1:PORT": a zookeeper_init host string */
} px_zk;

/** Whether this machine has the ZooKeeper server (java, its jar, setpriv); 0 lets a test skip. */
int px_zk_available(void);
/**
 * Makes a temp dir with a zoo.cfg (clientPortAddress=127.0.0.1, a free port, tickTime
 * PX_ZK_TICK_MS, admin server off, the `srvr`, `ruok` and `dump` four-letter words on),
 * starts the server and waits (bounded: 60 s) until it serves requests. The server gets
 * SIGKILL when the thread that started it exits (start it from main). Returns 0, or -1
 * with a message printed (and the log shown); z holds what was made, for px_zk_destroy.
 */
int px_zk_start(px_zk *z);
/** SIGTERM, then SIGKILL after 10 s; reaps it. The dir (and the data) stay. 0 when it
 *  exited within the bound, -1 when it had to be killed or was not running. */
int px_zk_stop(px_zk *z);
/** SIGKILL and reap: a crash, no clean shutdown. */
void px_zk_kill(px_zk *z);
/** Starts the stopped server again on the same port and data dir (sessions and
 *  persistent nodes survive) and waits until it serves. 0, or -1 with a message. */
int px_zk_restart(px_zk *z);
/**
 * Sends a four-letter word (`srvr`, `ruok`, `dump`: the live sessions, "\t0x...\n" each,
 * then the ephemeral nodes), its answer into out (cut to cap - 1 bytes, NUL-terminated).
 * 0, or -1 when the server could not be reached. Bounded by 1 s a read.
 */
int px_zk_4lw(const px_zk *z, const char *cmd, char *out, size_t cap);
/** Whether the server answers `srvr` as serving now (one try, bounded by 1 s). */
int px_zk_serving(const px_zk *z);
/** Stops the server if it runs and removes its temp dir. */
void px_zk_destroy(px_zk *z);

#endif
