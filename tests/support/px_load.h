/* Test helper for failure tests: a steady stream of async calc Whoami calls with a
 * record per call, and a watch over the upstream's endpoint health with a timeline. */
#ifndef PX_LOAD_H
#define PX_LOAD_H

#include <stdint.h>
#include "plexus/plexus.h"

#define PX_LOAD_MAX_SRV 8 /* servers are named s0, s1, ... (their Whoami id) */

/** One call: how often it completed (exactly once when all is well), how and when. */
typedef struct px_load_rec {
    int fired;        /* atomic */
    px_status st;
    int server;       /* i of the server "s<i>" that answered, -1 none */
    int64_t start_us; /* px_mono_us when issued ... */
    int64_t end_us;   /* ... and when its (first) completion ran */
} px_load_rec;

struct px_load_call;

typedef struct px_load {
    px_client *cl;
    px_load_rec *rec;
    struct px_load_call *calls;
    int cap, issued;
    int done; /* atomic: calls completed at least once */
    const px_call_opts *opts; /* of every call (NULL: the defaults); set after px_load_init */
} px_load;

/** Room for cap calls through cl. Returns 0 or -1. */
int px_load_init(px_load *l, px_client *cl, int cap);
void px_load_free(px_load *l);
/**
 * Issues n more calls evenly over dur_us (a steady rate, paced in 0.5 ms steps),
 * running tick(arg) at every step. Returns 0, or -1 when a call was refused or
 * there is no room.
 */
int px_load_run(px_load *l, int n, int64_t dur_us, void (*tick)(void *), void *arg);
/** Waits, running tick(arg), until every issued call completed or max_us passed: 0 or -1. */
int px_load_drain(px_load *l, int64_t max_us, void (*tick)(void *), void *arg);

/** The outcome of calls [from, to). */
typedef struct px_load_sum {
    int calls, ok, failed, twice, never;
    int per_server[PX_LOAD_MAX_SRV]; /* OK answers by server */
    int64_t p50_us, p90_us, max_us;  /* call durations, test clock */
} px_load_sum;

void px_load_sum_up(const px_load *l, int from, int to, px_load_sum *out);
/** Prints a summary line and the first few failures. */
void px_load_sum_print(const px_load *l, int from, int to, const px_load_sum *s,
                       const char *title);
/** When server srv first answered a call completed at or after t_us; 0 if never. */
int64_t px_load_first_answer(const px_load *l, int srv, int64_t t_us);

/** Endpoint health seen by polling, and a timeline of events. */
typedef struct px_watch {
    px_client *cl;
    int n;
    int64_t t0;
    int ejected[PX_LOAD_MAX_SRV];
    int ejections[PX_LOAD_MAX_SRV], readmissions[PX_LOAD_MAX_SRV];
    int64_t eject_us[PX_LOAD_MAX_SRV];   /* the first ejection seen since the mark */
    int64_t readmit_us[PX_LOAD_MAX_SRV]; /* the first re-admission seen since the mark */
    int max_fails[PX_LOAD_MAX_SRV];     /* highest fail count seen */
    int n_lines;
    char line[64][100];
} px_watch;

void px_watch_init(px_watch *w, px_client *cl);
/** Forgets the ejection and re-admission times seen so far (eject_us, readmit_us). */
void px_watch_mark(px_watch *w);
/** Samples every endpoint's ejection flag and fail count; logs the transitions. */
void px_watch_poll(px_watch *w);
/**
 * Waits (bounded by max_us) until no endpoint is ejected, for a test that needs all
 * of them in: on a loaded machine a healthy server stalled past the hedge delay may
 * have been ejected for a moment. Returns 0 or -1.
 */
int px_watch_wait_admitted(px_watch *w, int64_t max_us);
/** px_watch_poll with the px_load_run tick signature. */
void px_watch_tick(void *w);
/** Adds a line to the timeline. */
void px_watch_note(px_watch *w, const char *fmt, ...) PX_PRINTF(2, 3);
void px_watch_print(const px_watch *w, const char *title);

/** A steady pause of 0.5 ms: the pacing step of these tests. */
void px_load_pace(void);

#endif
