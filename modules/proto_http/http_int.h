/* proto_http: HTTP/1.1 (and 1.0) with a body in any of the server's codecs. Shared
 * between the module's files; docs/PROTOCOLS.md describes the mapping. */
#ifndef PX_HTTP_INT_H
#define PX_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <http_parser.h>
#include <plexus/plexus.h>

/* The bytes of a request's head beyond max_meta: request line and ordinary headers. */
#define HTTP_HEAD_EXTRA 8192
/* A header value the module keeps (Content-Type, Accept) is cut at this many bytes. */
#define HTTP_SHORT_MAX 256
/* The method the module asks for `GET /`: the built-in reflection service. */
#define HTTP_LIST_METHOD "plexus.reflection.v1.Reflection/ListServices"

/* What a request's head says, gathered by the header callbacks. */
typedef struct http_head {
    px_buf url;              /* the request target */
    px_buf field, value;     /* the header being read (callbacks may split both) */
    int in_value;            /* the last callback was a value */
    px_buf meta;             /* px-meta-* headers, in the §2.3 encoding */
    char ctype[HTTP_SHORT_MAX];  /* Content-Type, lowercased media type only */
    char accept[HTTP_SHORT_MAX]; /* Accept, lowercased ("" when absent) */
    int has_ctype, has_accept;
    int n_clen;              /* Content-Length headers seen */
    int n_te;                /* Transfer-Encoding headers seen */
    int te_other;            /* one says more than "chunked" */
    int64_t timeout_us;      /* px-timeout-ms; 0: none */
    int expect_continue;     /* Expect: 100-continue */
} http_head;

/* The raw scan of a head: what http-parser accepts but HTTP/1.1 servers must not
 * (bare LF, obs-fold), and the head's size. Kept across reads. */
typedef struct http_scan {
    uint64_t bytes;          /* bytes of this head so far */
    uint32_t line;           /* index of the current line (0: the request line) */
    uint32_t col;            /* bytes of the current line so far */
    int cr;                  /* the last byte was CR */
} http_scan;

/* One request awaiting its answer, in arrival order (HTTP/1.1 answers in order). */
typedef struct http_slot {
    uint64_t id;
    int done;                /* its answer is in bytes, waiting for those before it */
    int close;               /* the connection closes after this answer */
    int minor;               /* HTTP/1.minor of the request */
    int head_only;           /* a HEAD request: its answer has headers, no body */
    const char *ctype;       /* the reply's Content-Type (a static string) */
    px_buf bytes;            /* the answer, when done */
} http_slot;

/* A server connection. */
typedef struct http_conn {
    px_pconn *pc;
    http_parser parser;
    http_head head;
    http_scan scan;
    px_buf body;
    int in_head;             /* between requests or in a head: the raw scan runs */
    int started;             /* bytes of the current request were consumed */
    int failed;              /* px_pconn_fail was called: read nothing more */
    int closing;             /* no more requests: a close was asked for or given */
    int quiet_close;         /* the closing is ordinary: conn_fail writes nothing */
    int fail_code;           /* HTTP status for conn_fail's answer (0: from the status) */
    uint64_t at;             /* bytes consumed before this read: where a mistake is */
    uint64_t next_id;
    /* answers in arrival order: slots[head .. head+count) of a ring of cap */
    http_slot *slots;
    size_t cap, head_i, count;
    size_t rb_hdr;           /* reply_begin's bytes, for reply_end */
    uint64_t rb_id;          /* and the call it began */
    /* The last answer that left its slot for out, should the core cut it back (below). */
    int kept_valid;
    uint64_t kept_id;
    size_t kept_mark;        /* out->len before it */
    const char *kept_conn;   /* its Connection header */
    px_buf kept;             /* the answers sent after it in the same op */
    int64_t charged;         /* what this connection holds, as told to px_pconn_charge */
    int64_t bufs_charged;    /* of which the request buffers' capacity */
    int cb_code;             /* a callback refused the request: HTTP code, */
    px_status cb_status;     /* status */
    char cb_why[300];        /* and why */
} http_conn;

/* ---- http_map.c: the tables ---- */
/** HTTP status code for a Plexus status (docs/PROTOCOLS.md's table). */
int http_code_of(px_status st);
/** "Not Found" for 404. */
const char *http_reason(int code);
/** The codec name for a lowercased media type, or NULL when the module knows none;
 *  *canon: the same media type, as a static string. */
const char *http_codec_of(const char *mtype, const char **canon);
/** The Content-Type a reply in codec name carries. */
const char *http_ctype_of(const char *codec);
/** Whether an Accept header (lowercased) admits media type mtype ("" admits all). */
int http_accepts(const char *accept, const char *mtype);
/** Appends s to out as a JSON string's contents (escaped); 0 or -1 (OOM). */
int http_json_escape(px_buf *out, const char *s);
/** Appends s to out made fit for a header value (controls become spaces, at most max
 *  bytes); 0 or -1. */
int http_header_text(px_buf *out, const char *s, size_t max);
/** printf to out; 0 or -1. */
int http_appendf(px_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- http_meta.c: px-meta-* headers <-> the §2.3 encoding ---- */
#define HTTP_META_PREFIX "px-meta-"
/** Adds header key (lowercased, after the prefix) = value to meta; NULL, or why not. */
const char *http_meta_add(px_buf *meta, const char *key, size_t key_len, const char *value,
                          size_t len);
/** Appends meta's entries to out as px-meta-* header lines; 0 or -1 (OOM). */
int http_meta_headers(px_buf *out, const uint8_t *meta, size_t meta_len);

/* ---- http_answer.c: answers, in order ---- */
/** A new slot for the request being completed; NULL when out of memory. */
http_slot *http_slot_new(http_conn *s, int close, int minor, const char *ctype);
/** The module's own answer to slot's request (an error it found): code, status and
 *  message, JSON body. 0 or -1 (OOM). */
int http_answer_own(http_conn *s, http_slot *slot, int code, px_status st, const char *msg,
                    const char *allow);
/** Charges delta bytes to the connection. */
void http_charge(http_conn *s, int64_t delta);
void http_slots_free(http_conn *s);
/** Any op but the core's answer to a cut: the last answer sent stays sent. */
void http_kept_drop(http_conn *s);

/* ---- http_head.c: a request's headers ---- */
/** Callbacks' refusal: records code, status and why for http_recv; returns -1. */
int http_cb_fail(http_conn *s, int code, px_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** The header in head.field / head.value is complete: takes what it says. 0, or -1. */
int http_head_field_done(http_conn *s);
/** The head is complete (http-parser's on_headers_complete): framing checks. 0, or -1. */
int http_head_check(http_conn *s);
/** The head's size limit: max_meta + HTTP_HEAD_EXTRA. */
uint64_t http_head_max(const http_conn *s);

/* ---- http_route.c: a complete request to the core, or the module's own answer ---- */
/** 0, or -1 when the connection must end (out of memory: px_pconn_fail was called). */
int http_route(http_conn *s);

/* ---- http_recv.c: requests ---- */
size_t http_recv(void *cs, const uint8_t *buf, size_t len);
int http_open(void *state, px_pconn *pc, void **cs);
void http_close(void *cs);

/* ---- the answers' ops (http_answer.c) ---- */
size_t http_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta, size_t meta_len);
size_t http_reply_end(void *cs, px_buf *out, size_t mark);
int http_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                     const char *msg, const uint8_t *meta, size_t meta_len);
void http_goaway(void *cs, px_buf *out, px_status st, const char *why);
void http_conn_fail(void *cs, px_buf *out, px_status st, const char *msg);

/* ---- http_client.c: the client half ---- */
int http_client_open(void *state, const char *codec, px_buf *out, void **cs);
int http_client_request(void *cs, px_buf *out, const px_creq *q, const uint8_t *body,
                        size_t len);
int http_client_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim,
                     px_buf *out, px_cmsg *m, size_t *used, px_err *err);
void http_client_close(void *cs);

/* ---- proto_http.c ---- */
px_detect http_detect(const uint8_t *buf, size_t len);

#endif
