/* Test helper: real plexusd processes on 127.0.0.1 (or ::1), started from generated YAML. */
#ifndef PX_PROC_H
#define PX_PROC_H

#include <stddef.h>
#include <sys/types.h>

typedef struct px_proc {
    pid_t pid;
    int port;
    char id[32];
    char host[48];   /* the loopback it listens on: "127.0.0.1" or "::1" */
    char dir[128];   /* temp dir holding the config and the log */
    char conf[192];  /* the generated YAML */
    char log[192];   /* plexusd's stderr */
} px_proc;

/** A port on 127.0.0.1 that was free a moment ago. */
int px_free_port(void);
/** A port on host ("127.0.0.1" or "::1") that was free a moment ago; -1 if none. */
int px_free_port_on(const char *host);
/** Whether this machine can bind ::1 (some containers have no IPv6). */
int px_have_ipv6_loopback(void);
/** "127.0.0.1:7101" or "[::1]:7101": host and port as a Plexus address. */
void px_host_port(char *buf, size_t cap, const char *host, int port);

/**
 * Starts plexusd with a config: modules.path = $PX_MODULE_DIR, server.listen on a
 * free port, server.id = id, plus `server_yaml` (lines indented by 2 spaces, placed
 * under server:, e.g. "  codecs: [protobuf]\n  services:\n    - module: calc\n").
 * Waits (bounded) until it accepts connections. Returns 0, or -1 with a message
 * printed (and the log shown).
 */
int px_proc_start(px_proc *p, const char *id, const char *server_yaml);
/** px_proc_start listening on host ("127.0.0.1" or "::1") instead of 127.0.0.1. */
int px_proc_start_on(px_proc *p, const char *host, const char *id, const char *server_yaml);
/** px_proc_start on host:port (any 127.0.0.0/8 address or ::1; servers that DNS names
 *  by A records share one port). */
int px_proc_start_at(px_proc *p, const char *host, int port, const char *id,
                     const char *server_yaml);
/**
 * Starts plexusd again as p->id on the same p->port, after px_proc_kill or
 * px_proc_stop, from a fresh config built as px_proc_start builds one. Waits
 * (bounded) until it accepts connections. Returns 0, or -1 with a message printed.
 */
int px_proc_restart(px_proc *p, const char *server_yaml);
/**
 * From now on, servers started by this process get SIGKILL when the thread that
 * started them exits (PR_SET_PDEATHSIG), so a crashed test leaves none behind. Only
 * for servers started from a thread that lives as long as the test (main).
 */
void px_proc_die_with_test(void);
/** SIGTERM, wait; returns the exit status (or -1 when it did not exit in time). */
int px_proc_stop(px_proc *p);
/** SIGKILL and reap. */
void px_proc_kill(px_proc *p);

/**
 * Writes a client config to path: one upstream "calc" over the given ports, with
 * `upstream_yaml` (lines indented by 6 spaces) appended to the upstream block.
 */
int px_write_client_conf(const char *path, const int *ports, int n, const char *upstream_yaml);
/** px_write_client_conf with endpoints on host ("127.0.0.1" or "::1"). */
int px_write_client_conf_on(const char *path, const char *host, const int *ports, int n,
                            const char *upstream_yaml);
/** px_write_client_conf over the n servers' own host:port. */
int px_write_client_conf_procs(const char *path, const px_proc *procs, int n,
                               const char *upstream_yaml);

/** Starts argv (a path) with stdout and stderr into out_path; its pid, or -1. */
pid_t px_spawn(char *const argv[], const char *out_path);
/**
 * Waits (bounded: 30 s) until the file at path holds a port number, as a helper
 * process writes it once it serves (tests/interop/grpc_calc_server.py). Returns 0 with
 * *port, or -1 when the process pid exited (it is reaped) or the time ran out.
 */
int px_wait_port_file(const char *path, pid_t pid, int *port);
/** Runs argv, capturing stdout and stderr (each up to cap bytes); returns the exit status. */
int px_run(char *const argv[], char *out, size_t out_cap, char *err, size_t err_cap);

#endif
