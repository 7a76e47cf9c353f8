/* Server internals shared by its parts: lifetime (px_server.c), connections
 * (px_server_conn.c), calls (px_server_call.c) and the memory budget (px_server_mem.c). */
#ifndef PX_SERVER_INT_H
#define PX_SERVER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "plexus/px_codec.h"
#include "plexus/px_protocol.h"
#include "px_arena.h"
#include "px_codec_abi.h"
#include "px_config_int.h"
#include "px_conn.h"
#include "px_fchain.h"
#include "px_insts.h"
#include "px_idset.h"
#include "px_loop.h"
#include "px_mem.h"
#include "px_meta.h"
#include "px_methods.h"
#include "px_pool.h"
#include "plexus/px_server.h"
#include "px_timerq.h"
#include "px_trace.h"

typedef struct px_codec_inst {
    const char *name;
    const px_codec_ops *ops;
    px_decode_with_fn decode_with; /* NULL: the codec predates ABI 1.1 or has none */
    void *state;
    const px_modref *ref;
} px_codec_inst;

typedef struct px_service_inst {
    const px_modref *ref;    /* NULL: the embedding program's (px_server_add_service) */
    void *state;
    const ProtobufCServiceDescriptor *desc; /* of the service its module returned */
    px_pool pool;
    int has_pool;
    px_insts filters;        /* the service's own filters */
    px_fchain chain;         /* the server's filters, then the service's */
} px_service_inst;

struct px_sconn;
struct px_scall;
struct px_sloop;

/** An address the server listens on: server.listen (the first), then server.listeners. */
typedef struct px_listener {
    const char *listen;       /* as configured */
    px_addr addr;             /* port 0: the port the first bind got */
    const px_addr *conf_addr; /* as configured (the kept sockets' key) */
    const px_inst **protos;   /* its protocols, in detection order */
    size_t n_protos;
    px_tls_ctx *tls;          /* NULL: plaintext */
    const px_tls_conf *tls_conf;
    char where[48];           /* "server.tls", "server.listeners[0].tls": for the log */
    int port;                 /* bound */
} px_listener;

/** A listener's socket on one loop (SO_REUSEPORT: each loop accepts on its own). */
typedef struct px_slisten {
    int lfd;
    ev_io accept_w;
    struct px_sloop *sl;
    const px_listener *l;
} px_slisten;

typedef struct px_sloop {
    px_loop loop;
    struct px_server *srv;
    px_slisten *ls;          /* one per listener of the server */
    struct px_sconn *conns;
    size_t n_conns;
    int draining;            /* 1: GOAWAY sent to every connection; 2: counted as drained */
    px_task drain_task, force_task;
    struct px_scall *free_calls; /* recycled call records: no malloc per call */
    unsigned n_free_calls;
    px_mem mem;              /* bytes this loop's connections and calls hold */
    px_timerq tq;            /* deadlines of calls waiting for a worker */
    ev_timer pressure_w;     /* looks at paused connections again while any is paused */
    unsigned n_paused;
    unsigned pressure_ticks;
    ev_timer trim_w;         /* first loop: gives freed memory back to the system */
    ev_timer tls_w;          /* first loop: looks at the TLS certificate files */
    ev_tstamp tls_logged;    /* when a failed TLS handshake was last logged ... */
    unsigned tls_quiet;      /* ... and how many since went unlogged */
    ev_tstamp detect_logged; /* when an undetected connection was last logged ... */
    unsigned detect_quiet;   /* ... and how many since went unlogged */
    char why[300];           /* loop thread: the text of the last budget refusal */
} px_sloop;

typedef struct px_sconn {
    px_conn conn;
    px_sloop *sl;
    const px_listener *l;    /* the listener that accepted it */
    const px_protocol_ops *proto; /* NULL until the first bytes chose one */
    void *pstate;            /* what its conn_open made */
    const char *proto_name;  /* its module name, for messages */
    px_plimits plim;         /* the listener's limits, as protocols see them */
    uint32_t inflight;       /* calls admitted and not yet released ... */
    uint32_t answered_early; /* ... of which answered already (deadline, cancel, grace):
                              * the client may reuse their place, so max_inflight_per_conn
                              * counts inflight - answered_early (what it announced) */
    px_idset ids;            /* request ids in flight: a reused one is a protocol error */
    const px_method *last_m; /* a connection mostly calls one method: skip the lookup */
    struct px_sconn *prev, *next;
    struct px_scall *calls;  /* calls in progress, for answers at the end of the grace */
    ev_timer watchdog_w;     /* handshake, read (slowloris), idle and drain timeouts */
    ev_tstamp accepted_at, last_active, goaway_at;
    ev_tstamp partial_at;    /* the protocol holds part of a message since (px_pconn_partial) */
    unsigned goaway : 1;     /* a shutdown GOAWAY went out: new requests are refused */
    unsigned ready : 1;      /* the protocol's handshake is complete */

    unsigned pressure_paused : 1; /* on the paused count of its loop */
} px_sconn;

/* Where a call is, for the threads that race to answer it. */
enum {
    PX_SCALL_QUEUED = 0,   /* admitted; waiting for a worker (or about to run on the loop) */
    PX_SCALL_RUNNING = 1,  /* its handler was started */
    PX_SCALL_ANSWERED = 2, /* the loop answered it before a worker took it: never run it */
};

typedef struct px_scall {
    px_task task;
    px_sconn *sc;
    uint64_t id;
    const px_method *m;
    const px_codec_inst *codec; /* the request's, which answers it too */
    ProtobufCMessage *input;
    int64_t deadline_us;  /* monotonic; INT64_MAX when the caller set none */
    px_status status;
    px_status out_status; /* what the encoded answer says (filters' on_done) ... */
    uint32_t out_bytes;   /* ... and its body bytes when it is a RESPONSE */
    int state;            /* PX_SCALL_*, atomic between the loop and a worker */
    /* Written by a worker, read by the loop after the post: bytes of their own, not bits
     * beside the loop's (a cancel sets `answered` while the worker runs). */
    uint8_t body_only;    /* call->reply holds the encoded body only (for a protocol that
                           * frames on the loop) ... */
    uint8_t body_failed;  /* ... or nothing: the call failed (status, msg) */
    unsigned answered : 1; /* loop thread: an answer was sent; the handler's is dropped */
    unsigned id_live : 1;  /* its id is in sc->ids */
    unsigned queued : 1;   /* submitted to a worker pool, or waiting for a filter */
    unsigned filtered : 1; /* passes through its method's filter chain (call->fc) */
    unsigned meta_heap : 1; /* req_meta's bytes were malloc'd (they did not fit in the record) */
    uint32_t meta_len;    /* bytes of request metadata, in req_meta; 0: none */
    int64_t held;         /* bytes charged to the connection for this call */
    px_meta *resp_meta;   /* the handler's response metadata; NULL until it adds some */
    struct px_scall *prev, *next; /* in sc->calls */
    char msg[256];
    px_meta req_meta;     /* when meta_len: a view of the request's checked metadata, kept
                           * with the call (what px_handler_meta returns) */
    px_buf reply;         /* the answer frame when built off the IO thread */
    px_fcall *fc;         /* the call in its filter chain; kept with the record once made */
    px_trace trace;       /* its trace context: the thread's while its handler runs */
    struct px_scall *next_free;
    px_tnode queue_t;     /* the deadline while it waits for a worker */
    px_arena arena;       /* the decoded request, when its codec takes an allocator */
    int in_arena;
    _Alignas(16) unsigned char arena_mem[256];
} px_scall;

#define PX_SLOOP_MAX_FREE_CALLS 1024

struct px_server {
    const px_config *cfg;
    const px_server_conf *sc;
    px_codec_inst *codecs;
    size_t n_codecs;
    px_insts proto_insts; /* server.protocols */
    px_inst *protos;      /* ... in the listed order (detection asks them in it) */
    size_t n_protos;
    px_listener *listeners; /* server.listen, then server.listeners */
    size_t n_listeners;
    px_insts filters;     /* server.filters */
    px_service_inst **services; /* server.services, then px_server_add_service's */
    size_t n_services, cap_services;
    px_methods methods;
    px_sloop *loops;
    int n_loops;
    uint32_t n_conns;     /* atomic: open connections over all loops */
    int64_t mem_total;    /* atomic: bytes held over all loops (px_mem) */
    /* The budget's thresholds, worked out once (px__server_mem_init): */
    int64_t light_floor;  /* a connection holding less is an ordinary client */
    int64_t pressure_at;  /* three quarters of max_server_memory */
    int64_t conn_hard;    /* twice max_conn_memory */
    int64_t mem_peak;     /* atomic: the highest mem_total published since the last trim */
    int abandoned;        /* atomic: the grace ran out; late answers are dropped */
    int draining;         /* atomic: px_server_shutdown began (health: NOT_SERVING) */
    int stuck_threads;    /* threads still in a handler when shutdown gave up on them */
    pthread_mutex_t lock; /* shutdown bookkeeping only */
    pthread_cond_t cond;
    int drained_loops;
    px_config *own_cfg;   /* loaded by px_server_new_file / _opts: freed with the server */
    int stop_fd;          /* eventfd: px_server_stop writes, px_server_wait reads */
    int started;          /* px_server_start ran: no more services */
    int port;             /* server.listen's bound port (the system's choice for port 0) */
};

/* An early answer's flag: the call never ran (a client may send it elsewhere). */
#define PX_NOT_EXECUTED 0x1u

/* px_server_conn.c */
void px__server_accept_cb(struct ev_loop *ev, ev_io *w, int revents);
/** A protocol-level failure: answer what is in progress, then ERROR id 0 and close. */
void px__sconn_fatal(px_sconn *sc, px_status st, const char *fmt, ...) PX_PRINTF(3, 4);
/** An answer could not be written (out of memory): the connection ends, so that the
 *  client does not wait for it. */
void px__sconn_unanswerable(px_sconn *sc);
/** Answers call id with an error through the protocol (flags: PX_NOT_EXECUTED). */
void px__sconn_error(px_sconn *sc, uint64_t id, px_status st, uint16_t flags,
                     const char *fmt, ...) PX_PRINTF(5, 6);
/** A call of sc ended: closes a draining or finishing connection that became idle. */
/** The protocol's handshake is complete (px_pconn_ready): the time limits re-arm. */
void px__sconn_ready(px_sconn *sc);
void px__sconn_call_ended(px_sconn *sc);
void px__sloop_drain_task(px_loop *loop, void *arg);
void px__sloop_force_task(px_loop *loop, void *arg);

/** Appends the connection's GOAWAY (st PX_OK: no new calls; else a refusal). */
void px__sconn_goaway(px_sconn *sc, px_status st, const char *why);
/** Starts sc on protocol p (the listener's only one, or the one its first bytes
 *  chose). 0, or -1 when it failed (the connection is closing). */
int px__sconn_start_proto(px_sconn *sc, const px_inst *p);

/* px_server_listen.c */
/** The server's listeners from its config (after its protocols are made). */
px_status px__listeners_new(px_server *s, px_err *err);
void px__listeners_free(px_server *s);
/** Loop sl listens on every listener (a socket each). */
px_status px__sloop_listen(px_sloop *sl, px_err *err);
/** Loop sl stops accepting and closes its listening sockets (idempotent). */
void px__sloop_unlisten(px_sloop *sl);
void px__sloop_listen_free(px_sloop *sl);
void px__log_listening(const px_server *s);

/* px_server_tls.c */
/** A TLS listener's connection gets its session: 0, or -1 when it could not (closed). */
int px__sconn_tls(px_sconn *sc);
/** px_conn not_tls: a plaintext client is told in the listener's first protocol. */
void px__sconn_not_tls(px_conn *c, px_buf *out);
/** Logs a failed TLS handshake (at most once a second per loop). */
void px__sloop_log_tls(px_sloop *sl, const char *peer, const char *why);
/** Starts / stops the first loop's look at the certificate files. */
void px__sloop_tls_start(px_sloop *sl);
void px__sloop_tls_stop(px_sloop *sl);

/* px_server_proto.c */
/** on_bytes of a server connection: detection first, then its protocol. */
size_t px__sconn_on_bytes(px_conn *c, const uint8_t *buf, size_t len);
size_t px__sconn_msg_size(px_conn *c, const uint8_t *buf, size_t len);
void px__sconn_write_final(px_conn *c, const px_err *e);

/* px_server_call.c */
void px__on_request(px_sconn *sc, const px_preq *r);
/** The peer gave up on call id: its answer is not sent (px_pconn_cancel). */
void px__sconn_cancel(px_sconn *sc, uint64_t id);
/** Loop thread: an admitted call runs: on a worker, or its handler now. */
void px__scall_dispatch(px_scall *call);
/** Loop thread: answers the call now with an ERROR; its handler, if any, is dropped. */
void px__call_answer_early(px_scall *call, px_status st, uint16_t flags, const char *fmt, ...)
    PX_PRINTF(4, 5);
/** Loop thread: the call is over (answered, or released): its record goes back. */
void px__call_finish(px_scall *call);

/* px_server_filter.c */
/** Loop thread: runs the call's on_request filters; 1 when it may run now, 0 when a
 *  filter rejected it (answered) or will resume it later. */
int px__scall_filter_in(px_scall *call, const px_preq *r);
/** The answer the client gets (any thread, before the answer is queued). */
void px__scall_outcome(px_scall *call, px_status st, const char *msg, size_t body_bytes);
/** Loop thread, as the call finishes: its filters' on_done. */
void px__scall_filter_done(px_scall *call);
/** Frees a call record's filter state with the record. */
void px__scall_filter_free(px_scall *call);
/** The grace ran out: answers each of sc's calls that has no answer yet. */
void px__sconn_answer_all(px_sconn *sc, const char *why);
void px__sloop_free_calls(px_sloop *sl);

/* px_server_mem.c */
/** Which bound a decode budget came from, for the refusal's message. */
enum { PX_BUDGET_EXPANSION, PX_BUDGET_SERVER };
/** px_conn may_read for server connections: the per-connection and server budgets. */
int px__sconn_may_read(px_conn *c);
/** sc closed: takes it off its loop's count of paused connections. */
void px__sconn_unpause(px_sconn *sc);
/* What any request may decode to whatever its size: small messages nest and point a
 * lot (a 282-byte body 63 levels deep decodes to about 3.5 KiB), and they are bounded
 * by max_inflight_per_conn and the budgets anyway; the factor is for large bodies. */
#define PX_DECODE_BASE (64 * 1024)
/** px__decode_budget when the server lacks room for the expansion bound b. */
size_t px__decode_budget_tight(px_sconn *sc, int64_t b, int64_t srv_left, int *limit);
/** Bytes the decoded request of a len-byte body may take from the heap, and (*limit)
 *  which bound set it. */
static inline size_t px__decode_budget(px_sconn *sc, size_t len, int *limit)
{
    const px_server *srv = sc->sl->srv;
    int64_t b = (int64_t)srv->sc->limits.max_decode_expansion * (int64_t)len + PX_DECODE_BASE;
    int64_t srv_left = (int64_t)srv->sc->limits.max_server_memory - px_mem_total(&sc->sl->mem);
    *limit = PX_BUDGET_EXPANSION;
    if (srv_left >= b)
        return (size_t)b; /* the usual case: the server has room */
    return px__decode_budget_tight(sc, b, srv_left, limit);
}
/** The message for a decode refused by bound `limit`. */
void px__budget_why(px_sconn *sc, int limit, size_t len, char *buf, size_t cap);
/** Whether a new request on sc is refused because the server is out of its budget
 *  (never for a connection holding less than the ordinary share). */
static inline int px__server_over_budget(px_sconn *sc)
{
    const px_server *srv = sc->sl->srv;
    return sc->conn.held >= srv->light_floor &&
           px_mem_total(&sc->sl->mem) >= (int64_t)srv->sc->limits.max_server_memory;
}
/** Why a reply of n bytes may not be queued on sc (NULL: it may); loop thread. */
const char *px__reply_over_budget(px_sconn *sc, size_t n);
/** px__reply_over_budget with the usual case inline: an ordinary client's answer. */
static inline const char *px__reply_check(px_sconn *sc, size_t n)
{
    if (sc->conn.held + (int64_t)n < sc->sl->srv->light_floor)
        return NULL;
    return px__reply_over_budget(sc, n);
}
/** Works out the server's thresholds from its limits. */
void px__server_mem_init(px_server *srv);
/** Starts / stops the loop's pressure and trim timers. */
void px__sloop_mem_start(px_sloop *sl);
void px__sloop_mem_stop(px_sloop *sl);

#endif
