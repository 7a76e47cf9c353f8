/* Filter chains: the ordered FILTER instances a call passes through, and the state of
 * one call in its chain (px_fcall, what px_filter.h's functions read). */
#ifndef PX_FCHAIN_H
#define PX_FCHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "plexus/px_filter.h"
#include "plexus/px_meta.h"
#include "px_time.h"
#include "px_trace.h"

/* A chain is short (a handful of filters); per-call data has a slot per filter. */
#define PX_FCHAIN_MAX PX_FILTER_MAX_CHAIN

typedef struct px_fentry {
    const px_filter_ops *ops;
    void *state;
    const char *name; /* the module's, for messages */
} px_fentry;

typedef struct px_fchain {
    px_fentry e[PX_FCHAIN_MAX];
    uint8_t n;
} px_fchain;

/* Who a server's call comes from: room a server keeps with the call's record (a
 * client's call has none). Set by a filter, read by later filters and the handler. */
typedef struct px_fident {
    char principal[PX_PRINCIPAL_MAX + 1]; /* "": none */
    char groups[PX_GROUPS_MAX + 1];       /* "a,b,c"; "": none */
} px_fident;

struct px_fcall {
    const px_fchain *chain;
    uint8_t next;            /* the next filter whose on_request runs */
    uint8_t ran;             /* filters whose on_request ran: on_done runs for these */
    uint8_t current;         /* the filter whose hook runs now (px_fcall_data) */
    uint8_t pending;         /* an on_request returned PENDING and has not resumed */
    uint8_t verdict;         /* what px_fcall_resume said (px_filter_verdict) */
    px_filter_side side;
    const char *method;
    const char *peer;
    const ProtobufCMessage *request;
    const px_meta *meta;       /* the request metadata; NULL: none */
    const px_meta *reply_meta; /* on_done: the response metadata; NULL: none */
    px_meta **add_meta;        /* the list px_fcall_add_meta adds to, made there on first
                                * use (a server's answer); NULL: nothing more is sent */
    size_t request_bytes, response_bytes;
    int64_t start_mono_us, end_mono_us; /* end 0 while running */
    int64_t *deadline_us;    /* the owner's deadline (monotonic; INT64_MAX: none) */
    px_status status;        /* on_done: the outcome; set by px_fcall_reject before */
    char msg[256];
    /* The owner continues the chain on its loop after px_fcall_resume (fc->verdict);
     * it may be called from any thread, even before on_request returned PENDING. */
    void (*resume)(px_fcall *fc);
    void *owner;
    px_fident *ident;        /* a server's call: its principal; NULL: a client's */
    /* A server's call: the peer certificate of its connection, i = 0 the subject, then
     * the subjectAltNames; NULL: none (plaintext, no certificate, the connection gone).
     * Asked of the owner at each use, so a call outliving its connection reads NULL. */
    const char *(*peer_cert)(const px_fcall *fc, size_t i);
    /* Its trace context: a server's call's own (ids worked out at the first read), a
     * client's the one it sends (in own_trace); NULL: none. */
    px_trace *trace;
    px_trace own_trace;
    void *data[];            /* one slot per filter of the chain: a record has room for
                              * px_fcall_size(chain->n) bytes */
};

/** Bytes a px_fcall takes for a chain of n filters. */
#define px_fcall_size(n) (sizeof(px_fcall) + (size_t)(n) * sizeof(void *))

/** Appends entries (filters of a scope) to a chain; -1 when it would be too long. */
int px_fchain_append(px_fchain *ch, const px_fentry *e, size_t n);
struct px_insts;
/** Appends the FILTER instances of a scope, in config order; -1 when too long (the
 *  config refuses such chains at load). */
int px_fchain_add_insts(px_fchain *ch, const struct px_insts *in);

/** Starts a call in its chain (the caller fills method, peer, request, metadata, bytes,
 *  deadline, resume after). Inline: the caller's own stores then replace these. */
static inline void px_fcall_begin(px_fcall *fc, const px_fchain *ch, px_filter_side side)
{
    /* The wall-clock start is worked out from this when a filter asks for it (logs):
     * one clock read per call, not two. First, so no store below waits on it. */
    fc->start_mono_us = px_mono_us();
    fc->end_mono_us = 0;
    fc->chain = ch;
    fc->next = fc->ran = fc->current = fc->pending = 0;
    fc->side = side;
    fc->request = NULL;
    fc->meta = fc->reply_meta = NULL;
    fc->add_meta = NULL;
    fc->ident = NULL;
    fc->peer_cert = NULL;
    fc->trace = NULL;
    fc->request_bytes = fc->response_bytes = 0;
    fc->status = PX_OK;
    fc->msg[0] = '\0';
    /* Only the slots of the filters in use. */
    memset(fc->data, 0, ch->n * sizeof fc->data[0]);
}
/**
 * Runs on_request from fc->next on: CONTINUE when every filter let it through,
 * REJECT (fc->status and msg say why) or PENDING (the owner waits for fc->resume).
 */
px_filter_verdict px_fchain_request(px_fcall *fc);
/** The owner's loop, after fc->resume(fc) with v = fc->verdict: REJECT, or the rest of
 *  the chain's verdict. */
px_filter_verdict px_fchain_resumed(px_fcall *fc, px_filter_verdict v);
/** The call ended with st/msg: runs on_done, in reverse, for the filters that ran. */
void px_fchain_done(px_fcall *fc, px_status st, const char *msg);

#endif
