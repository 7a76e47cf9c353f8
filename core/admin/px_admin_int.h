/* The admin listener's state, shared by its files (px_admin.c serves, px_admin_status.c
 * writes /status, px_admin_sample.c keeps the samples rates are computed from). */
#ifndef PX_ADMIN_INT_H
#define PX_ADMIN_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include "plexus/px_admin.h"
#include "px_net.h"

/** A metrics text and when it was taken (monotonic microseconds). */
typedef struct px_admin_sample {
    char *text;
    size_t len;
    int64_t at_us;
} px_admin_sample;

/* Samples every PX_ADMIN_SAMPLE_US, the last PX_ADMIN_SAMPLES kept: /status's rates
 * are over the 10 to 15 seconds since the oldest. */
#define PX_ADMIN_SAMPLES 3
#define PX_ADMIN_SAMPLE_US 5000000

struct px_admin {
    struct MHD_Daemon *daemon;
    int listen_fd;         /* the daemon's, closed in a forked child (-1: none) */
    int polled;            /* no threads: the program runs it (px_admin_poll) */
    px_admin_hooks hooks;
    void *ud;
    int64_t started_us;
    atomic_int started;    /* libmicrohttpd runs: its messages go to the log */
    char start_err[256];   /* its last message before, why it could not start */

    /* lock: the address, ready state, config info and samples, read by the admin's
     * thread and set by the program's. */
    pthread_mutex_t lock;
    int port;
    char address[PX_NET_NAME_MAX];
    int ready;
    char why[96];
    char *config_file;
    int64_t config_loaded_at;
    char *config_yaml;
    size_t config_yaml_len;

    /* The sampler thread, and hook_lock so that hooks never run concurrently. */
    pthread_mutex_t hook_lock;
    pthread_cond_t wake;
    pthread_t sampler;
    int sampler_on, stopping;
    px_admin_sample samples[PX_ADMIN_SAMPLES];
    size_t n_samples;
};

/** The metrics text from the hook (or px_metrics_text), under hook_lock. */
char *px_admin_metrics(px_admin *adm, size_t *len);
/** 1 ready, else 0 with why. */
int px_admin_is_ready(px_admin *adm, char *why, size_t cap);
/** Starts the sampler thread; 0, or an errno. */
int px_admin_sampler_start(px_admin *adm);
/** Stops it and frees the samples. */
void px_admin_sampler_stop(px_admin *adm);
/** A copy of the oldest sample (text malloc'd); 0, or -1 when there is none yet. */
int px_admin_oldest_sample(px_admin *adm, px_admin_sample *out);
/** /status into out. */
void px_admin_status_write(px_admin *adm, FILE *out);

/** Polled mode (px_admin_new_polled): when the next sample is due (monotonic µs), and
 *  taking one now on the caller's thread. */
int64_t px_admin_sample_due_us(px_admin *adm);
void px_admin_sample_now(px_admin *adm);

#endif
