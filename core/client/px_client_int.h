/* Client internals shared by the async client, the blocking pool and the stubs. */
#ifndef PX_CLIENT_INT_H
#define PX_CLIENT_INT_H

#include "plexus/px_client.h"
#include "px_conn.h"
#include "px_arena.h"
#include "px_ctx.h"
#include "px_timerq.h"
#include "px_loop.h"
#include "px_meta.h"
#include "px_trace.h"
#include "px_upstream.h"
#include "px_fchain.h"

struct px_cloop;
struct px_cconn;
struct px_sync_pool;

/** One attempt of a call in flight on a connection (a hedged call has two). */
typedef struct px_catt {
    struct px_ccall *call;
    px_ep *ep;
    struct px_cconn *conn;
    struct px_catt *prev, *next; /* attempts in flight on conn, or waiting in its queue */
    int64_t start_us;
    unsigned number;             /* 0 for the call's first attempt */
    int sent;                    /* the request may have reached the server */
    int live;
    int refused;                 /* a server said it did not execute it */
    int queued;                  /* waits in conn's queue for a place: nothing sent yet */
} px_catt;

/** A filtered async call's part, a block of its own (px_client.c). */
typedef struct px_cfilt {
    px_buf fmeta;        /* the request metadata with what filters added, if they did */
    px_ep *last_ep;      /* the endpoint of the last attempt ... */
    uint32_t resp_bytes; /* ... and the body bytes of its reply */
    px_meta sent;        /* a view of the call's copy of the caller's metadata: on_done
                          * may run when the caller's list is gone */
    px_fcall fc;         /* last: its per-filter slots follow */
} px_cfilt;

/** One call of the async client (the seed's "context"): lives from px_call_async to done. */
typedef struct px_ccall {
    px_call_opts opts;       /* first: written whole when the call is made, never zeroed */
    px_task task;
    struct px_client *cl;
    struct px_cloop *lp;
    const ProtobufCMessageDescriptor *reply_desc;
    px_done_fn done;
    void *user;
    ProtobufCMessage **keep; /* px_call_wait: take the reply instead of freeing it */
    px_buf req;              /* encoded request body, kept for retries and hedges */
    px_tnode deadline_t;     /* the deadline (O(1) timer lists) */
    px_tnode hedge_t;        /* the backup request, when failover asks for one */
    int64_t deadline_us;     /* loop time; 0 = none */
    int64_t hedge_us;        /* the hedge delay when a hedge was armed, else 0 */
    uint64_t id;
    unsigned attempts;       /* attempts started */
    int n_live;              /* attempts in flight: 0..2 */
    int expired;             /* the deadline fired: no more attempts */
    int transparent;         /* resends of refused, unexecuted attempts (px_upstream.h) */
    int starting;            /* px_call_async is starting it on its IO thread: an outcome
                              * now is delivered by a task, after px_call_async returned */
    px_status late_st;       /* that outcome's status (its message is kept in req) */
    uint16_t method_len;
    uint32_t meta_len;       /* request metadata, kept right after the method's NUL */
    px_arena reply_arena;    /* the inline room the request left, for the reply */
    px_catt att[2];
    struct px_cfilt *flt;    /* in its upstream's filter chain; NULL: no filters (one
                              * pointer zeroed per call, nothing more) */
    px_tried tried;          /* endpoints of its attempts, so a retry or hedge goes elsewhere */
    char method[];           /* "package.Service/Method", allocated with the call */
} px_ccall;

/** A multiplexed connection to one endpoint, owned by one loop. */
typedef struct px_cconn {
    px_conn conn;
    struct px_cloop *lp;
    px_ep *ep;
    ev_timer connect_w;
    px_catt *atts;       /* attempts in flight here ... */
    uint32_t n_atts;     /* ... and how many */
    uint32_t n_gone;     /* requests given up (cancelled) whose answer is still due: they
                          * hold their place on the server until it comes */
    uint32_t cap;        /* the most n_atts + n_gone may be: 1 until the server's opening
                          * answer says its max_inflight (UINT32_MAX: none announced) */
    px_catt *qhead, *qtail; /* attempts waiting for a place, first in first out ... */
    uint32_t n_queued;      /* ... and how many (at most limits.max_queued_per_conn) */
    int ready;           /* the server answered the opening (its READY came) */
    int goaway;          /* out of the table: no new attempts; closed once they are done */
    px_err refusal;      /* a GOAWAY with a status refused the connection (status set): why,
                          * for every attempt on it */
    size_t slot; /* index in lp->conns */
    void *pstate;        /* its protocol's state (client_open) */
} px_cconn;


typedef struct px_cloop {
    px_loop loop;
    struct px_client *cl;
    px_cconn **conns; /* [endpoint index * connections_per_endpoint + k] */
    size_t conns_cap; /* slots in conns: grown on this loop as endpoints appear */
    uint32_t rr;
    px_ctx_table ctx;
    px_timerq tq;              /* call deadlines and hedges */
    px_task stop_task;
    int stopping;
    ev_timer probe_w;          /* health probes (first loop only) */
    struct px_probe *probes;   /* probes in flight */
    px_task sweep_task;        /* closes connections to endpoints naming removed ... */
    int sweep_posted;          /* ... posted once however many updates come (atomic) */
} px_cloop;

typedef struct px_stub {
    ProtobufCService base;
    struct px_client *cl;
    struct px_stub *next;
} px_stub;

struct px_client {
    const px_config *cfg;
    px_upstream *up;
    px_cloop *loops;
    int n_loops;
    uint32_t next_loop;  /* atomic round-robin */
    int closing;         /* atomic */
    px_client_stats stats; /* updated atomically */
    struct px_sync_pool *sync;
    pthread_mutex_t stub_lock;
    px_stub *stubs;
};

/** px_call_async that hands the reply over in *keep instead of freeing it (px_call_wait). */
px_status px__call_async_keep(px_client *c, const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *reply_desc,
                              const px_call_opts *opts, px_done_fn done, void *user,
                              ProtobufCMessage **keep, px_err *err);

/** Loop thread: which of ep's `per` connection slots on lp the next attempt uses: an
 *  empty slot (to be connected), else the open connection with the fewest attempts in
 *  flight or waiting there, ties taken in rotation. */
size_t px__cconn_slot(px_cloop *lp, px_ep *ep, uint32_t per);

/** The IO loop a completion that is not a call's goes to (a stub call that never
 *  started): the caller's own when it runs on one of c's IO threads, else the first. */
px_loop *px__client_loop(px_client *c);
/** Around a callback that is not a call's completion: px_stub_status() answers st and
 *  msg until px__status_leave. */
void px__status_enter(px_status st, const char *msg);
void px__status_leave(void);

/** opts->meta's encoding, checked against the upstream's max_meta (px_client_meta.c):
 *  PX_OK with *p, *len; RESOURCE_EXHAUSTED naming both sizes (the call is not made). */
px_status px__call_meta(const px_upstream *up, const char *method, const px_meta *meta,
                        const uint8_t **p, size_t *len, px_err *err);
/** Stack room for a traced call's metadata (more goes to the heap). */
#define PX_TRACE_META_ROOM 512
/**
 * A call made from a handler: *o is opts with the metadata m, the caller's entries and
 * the traceparent entry of trace, in room (cap bytes) or on the heap (px_buf_free(&m->enc)
 * after, also on failure). RESOURCE_EXHAUSTED when both pass the upstream's max_meta.
 */
px_status px__call_traced_opts(const px_upstream *up, const char *method,
                               const px_call_opts *opts, const px_trace *trace, px_call_opts *o,
                               px_meta *m, uint8_t *room, size_t cap, px_err *err);
/** A reply's metadata section (meta_len bytes at meta) checked (*count entries) and,
 *  when copy is not NULL, copied into it: PX_OK, or INTERNAL with "malformed response
 *  metadata from PEER at byte N: ..." (or RESOURCE_EXHAUSTED when out of memory). */
px_status px__reply_meta_check(const uint8_t *meta, uint32_t meta_len, const char *peer,
                               size_t *count, px_meta *copy, px_err *err);

/** The blocking client's connection pool (px_sync_pool.c). */
px_status px__sync_new(px_client *c, px_err *err);
void px__sync_free(px_client *c);
/** Closes the pool's idle connections to endpoints that are no longer listed. */
void px__sync_sweep(px_client *c);

#endif
