/* W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace a call belongs to,
 * taken from the `traceparent` metadata its caller sent or begun by the server, with a
 * span of its own. While a handler runs, its call's context is the thread's, and the
 * client calls it makes send a `traceparent` whose parent is the handler's span. Ids
 * are worked out at their first read (an access log, an outgoing call): a call nobody
 * asks about costs no random number and no parse. */
#ifndef PX_TRACE_H
#define PX_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_meta.h"

/** "00-" 32 hex "-" 16 hex "-" 2 hex. */
#define PX_TRACEPARENT_LEN 55
/** The metadata entry of a traceparent: key_len, "traceparent", value_len, value. */
#define PX_TRACE_ENTRY_LEN (1 + 11 + 2 + PX_TRACEPARENT_LEN)

typedef struct px_trace {
    uint8_t ready;           /* the ids below are worked out */
    char flags[3];           /* trace-flags, 2 lowercase hex ("01": sampled) */
    char trace_id[33];       /* 32 lowercase hex, never all zero */
    char span_id[17];        /* 16 lowercase hex: this call's span */
    char parent_id[17];      /* the caller's span; "" when the trace began here */
    const px_meta *meta;     /* a server call's request metadata (NULL: none): read at
                              * the first use for its traceparent */
} px_trace;

/** A server call's context, unread yet: its ids are worked out at the first use. */
static inline void px_trace_reset(px_trace *t, const px_meta *meta)
{
    t->ready = 0;
    t->meta = meta;
}

/** Works out t's ids once (continuing the metadata's traceparent, or a new trace). */
void px_trace_resolve(px_trace *t);
static inline const px_trace *px_trace_get(px_trace *t)
{
    if (!t->ready)
        px_trace_resolve(t);
    return t;
}

/**
 * Parses a traceparent value as the specification's §3.2 says: version 00 exactly 55
 * bytes, a later version at least 55 with '-' after them, lowercase hex, trace and
 * parent ids not all zero, version not ff. 0 with trace_id, parent_id and flags of t
 * set (span_id untouched), -1 when malformed (t untouched).
 */
int px_trace_parse(const char *v, size_t len, px_trace *t);

/** The context the calling thread's handler runs in; NULL outside handlers. */
extern __thread px_trace *px__trace_current;
static inline px_trace *px_trace_current(void) { return px__trace_current; }
/** Makes t the thread's context (NULL: none); returns the one before. */
static inline px_trace *px_trace_enter(px_trace *t)
{
    px_trace *prev = px__trace_current;
    px__trace_current = t;
    return prev;
}
/** The call of t was answered: client calls the rest of its handler makes are no
 *  longer part of it (its record may be reused at once). */
static inline void px_trace_answered(const px_trace *t)
{
    if (px__trace_current == t)
        px__trace_current = NULL;
}

/**
 * The context an outgoing call with the caller's metadata continues: the thread's
 * (resolved), unless the caller set a traceparent of its own (sent as it is) or the
 * thread runs no handler. NULL: the call adds nothing.
 */
static inline const px_trace *px_trace_outgoing(const px_meta *caller)
{
    px_trace *t = px__trace_current;
    if (__builtin_expect(t == NULL, 1))
        return NULL;
    if (caller && px_meta_get(caller, "traceparent", NULL))
        return NULL;
    return px_trace_get(t);
}

/** Writes the metadata entry traceparent = "00-<trace>-<t's span>-<flags>" at w
 *  (PX_TRACE_ENTRY_LEN bytes). */
void px_trace_entry(const px_trace *t, uint8_t *w);

/**
 * What a client call's filters see (out, ready), from the traceparent of the metadata it
 * sends (a handler's call has its trace's there by now): the trace, the span the call is
 * made from (the parent-id sent: the next hop's parent) and no parent. 0, or -1 when the
 * call sends no well-formed traceparent.
 */
int px_trace_of_client(px_trace *out, const px_meta *sent);

#endif
