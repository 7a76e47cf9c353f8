/* proto_grpc's internals: a server connection (one nghttp2 session) and its streams. */
#ifndef GRPC_INT_H
#define GRPC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include <plexus/plexus.h>

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": every h2c connection with prior knowledge opens so. */
#define GR_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define GR_PREFACE_LEN 24
/* The 5 bytes before each gRPC message: compressed flag, 4-byte big-endian length. */
#define GR_MSG_PREFIX 5

/* A token bucket against floods of one kind of frame (SETTINGS, PING). */
typedef struct gr_bucket {
    double tokens, burst, rate; /* rate: tokens regained per second */
    double at;                  /* when tokens was last brought up to date */
} gr_bucket;

typedef struct gr_conn gr_conn;

/* One HTTP/2 stream: a gRPC call from its HEADERS to its trailers. */
typedef struct gr_stream {
    gr_conn *c;
    struct gr_stream *prev, *next; /* the connection's streams, to free them at close */
    int32_t id;
    /* the request */
    char method[256];      /* :path without its '/' */
    size_t method_len;
    char ctype[64];        /* the request's content-type, echoed in the answer */
    const px_pcodec *codec;
    int64_t timeout_us;
    px_buf meta;           /* custom metadata, §2.3 encoding */
    px_buf body;           /* the DATA received: one length-prefixed message */
    uint8_t body0[64];     /* body's first storage: a small message needs no malloc */
    int64_t held;          /* meta's and body's heap bytes, charged to the connection */
    uint32_t hdr_bytes;    /* the header list so far, counted as SETTINGS_MAX_HEADER_LIST_SIZE */
    unsigned seen_post : 1, seen_path : 1, seen_ctype : 1, trailers : 1;
    unsigned partial : 1;  /* counted in gr_conn.partial: the request is not complete */
    unsigned dispatched : 1; /* handed to px_pconn_request */
    unsigned answered : 1;   /* a response was submitted to nghttp2 */
    unsigned refused : 1;    /* answered with an error before it ran: DATA is dropped */
    unsigned doomed : 1;     /* refused, answered at END_STREAM: DATA is dropped until then */
    px_status bad_st;      /* the first thing wrong with the request (PX_OK: nothing) */
    char bad_msg[256];
    /* the answer: the length-prefixed reply, read by nghttp2 as the DATA source */
    uint8_t *reply;
    size_t reply_len, reply_off;
} gr_stream;

struct gr_conn {
    px_pconn *pc;
    nghttp2_session *s;
    gr_stream *streams;
    gr_stream *hs;         /* the stream whose header block is read: no lookup per header */
    uint32_t n_partial;    /* streams whose request is not complete */
    uint32_t hdr_limit;    /* SETTINGS_MAX_HEADER_LIST_SIZE we announce and enforce */
    int in_recv;           /* inside nghttp2_session_mem_recv: no mem_send, the end flushes */
    int failed;            /* px_pconn_fail was called: nothing more is read */
    int ready;             /* the client's SETTINGS came: the handshake is over */
    uint32_t h2err;        /* the GOAWAY error code of our own failure */
    gr_bucket settings, pings, resets;
    const px_pcodec *codec; /* the codec the last request named, by its name: */
    char codec_name[32];
    size_t codec_name_len;
    uint64_t last_end_id;  /* the call reply_end answered last (see gr_reply_error) */
};

/* ---- grpc_conn.c --------------------------------------------------------- */
/** Memory nghttp2 and the module hold for c, charged to the connection. */
void *gr_malloc(gr_conn *c, size_t n);
void *gr_calloc(gr_conn *c, size_t n);
void gr_free(gr_conn *c, void *p);
/** Ends the connection on a protocol error: GOAWAY, px_pconn_fail with the message. */
void gr_fail(gr_conn *c, px_status st, uint32_t h2err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** What nghttp2 has to send, appended to out (nothing inside mem_recv: its end does it). */
void gr_flush(gr_conn *c, px_buf *out);
/** One token of b: 0, or -1 when the bucket is empty (a flood). */
int gr_bucket_take(gr_bucket *b);

/* ---- grpc_stream.c: the request side's nghttp2 callbacks ----------------- */
void gr_stream_callbacks(nghttp2_session_callbacks *cb);
/** Frees s (after nghttp2 closed it, or at the connection's end). */
void gr_stream_free(gr_stream *s);
/** Whether the request is complete (partial) changes: tells the core's read_timeout. */
void gr_stream_partial(gr_stream *s, int partial);

/* ---- grpc_reply.c: answers ---------------------------------------------- */
size_t gr_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta, size_t meta_len);
size_t gr_reply_end(void *cs, px_buf *out, size_t mark);
int gr_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                   const char *msg, const uint8_t *meta, size_t meta_len);
/** Answers s with a trailers-only response (st, msg), before or instead of the call. */
int gr_answer_error(gr_stream *s, px_status st, int not_executed, const char *msg,
                    const uint8_t *meta, size_t meta_len);

/* ---- grpc_text.c: gRPC's text encodings --------------------------------- */
/** grpc-timeout ("100m", "5S": 1 to 8 digits and a unit H M S m u n) in microseconds
 *  (at least 1), or -1 when it is not one. */
int64_t gr_timeout_parse(const uint8_t *v, size_t len);
/** grpc-message's percent-encoding of msg into out (cap bytes, NUL-terminated, cut
 *  whole at an escape); returns its length. */
size_t gr_percent_encode(const char *msg, char *out, size_t cap);
/** Whether a request header is the transport's (pseudo, hop-by-hop, content-type,
 *  grpc-*, user-agent) rather than call metadata. */
int gr_header_reserved(const uint8_t *name, size_t len);
/** Appends header name: value to meta in the §2.3 encoding (-bin values decoded from
 *  base64). 0, or a status with why set. */
px_status gr_meta_from_header(px_buf *meta, const uint8_t *name, size_t nlen,
                              const uint8_t *value, size_t vlen, char *why, size_t cap);

/** Entries in a §2.3 metadata section (as the core checked it). */
size_t gr_meta_count(const uint8_t *meta, size_t len);
/** Appends meta's entries to nva at *k as headers (transport names skipped, -bin values
 *  base64 in strings it adds to b64 at *nb, for the caller to free). 0, or -1 (OOM). */
int gr_meta_to_nv(const uint8_t *meta, size_t len, nghttp2_nv *nva, size_t *k, char **b64,
                  size_t *nb);

/** An nghttp2 DATA source's next piece: up to length bytes of src[*off..len) into buf. */
static inline size_t gr_take(uint8_t *buf, size_t length, const uint8_t *src, size_t len,
                             size_t *off)
{
    size_t n = len - *off < length ? len - *off : length;
    memcpy(buf, src + *off, n);
    *off += n;
    return n;
}

#endif
