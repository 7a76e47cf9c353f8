/* plexusd: the master's state, shared by master.c (supervision) and master_metrics.c
 * (the workers' metrics, asked for from the admin listener's thread). */
#ifndef PX_PLEXUSD_MASTER_INT_H
#define PX_PLEXUSD_MASTER_INT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "channel.h"
#include "plexus/plexus.h"

/* One child. */
typedef struct pxm_worker {
    pid_t pid;
    int fd;          /* the master's end of the channel */
    int slot;        /* 0 .. n-1 within its generation */
    unsigned gen;    /* the config generation it serves */
    int ready;       /* said READY */
    int eof;         /* its channel closed (it is exiting) */
    int retiring;    /* told to drain: its exit is expected */
    int64_t started_us;
    px_chan_rx rx;
} pxm_worker;

/* A config and the generation of workers serving it. */
typedef struct pxm_gen {
    px_config *cfg;
    unsigned id;
    int n; /* workers it runs */
} pxm_gen;

typedef struct px_master {
    const char *file;
    px_admin *adm;           /* the admin listener (admin:), NULL without */
    pxm_gen cur;             /* the generation that serves */
    pxm_gen next;            /* a reload's, until its workers are all ready (cfg NULL: none) */
    pxm_gen *old;            /* replaced generations whose workers still drain */
    size_t n_old;
    unsigned last_gen;
    int64_t next_deadline_us; /* the reload (or the start) fails past this */
    int64_t *respawn_at;      /* per slot of cur: when to fork it again, 0 none */
    int *backoff_ms;          /* per slot: the last delay (doubles while workers die at once) */
    px_registration *reg; /* server.register: of cur (NULL: none) */
    int sfd; /* signalfd */
    char pidfile[4096]; /* server.pid_file, absolute; "" none */

    /* Written under mu (the admin's thread reads them): the workers, the state, the
     * counters. */
    pthread_mutex_t mu;
    int started, stopping;
    pxm_worker *w;
    size_t nw, capw;
    uint32_t seq; /* of the last metrics request */
    uint64_t restarts, reloads_ok, reloads_failed;
    double last_reload_ok_s; /* unix time of the last successful reload (or the start) */
} px_master;

/** The running master (NULL none): what px_plexusd_master_metrics reads. */
extern px_master *px_master_running;

/** Monotonic microseconds. */
int64_t px_master_now_us(void);

#endif
