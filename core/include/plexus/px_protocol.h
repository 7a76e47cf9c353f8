/* PROTOCOL modules: the wire protocol of a listener and of an upstream. */
#ifndef PLEXUS_PX_PROTOCOL_H
#define PLEXUS_PX_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include "px_buf.h"
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A protocol turns bytes into calls and answers into bytes; it never touches a socket
 * (the model of nghttp2: it is handed the bytes that arrived and appends what to send).
 * The core owns the sockets, the buffers, the limits and the memory budget, the calls
 * (admission, decoding with the codec, filters, handlers, deadlines, answers exactly
 * once) and every timeout. `native` (docs/PROTOCOL.md) is built into the core through
 * this same interface.
 *
 * Server side: a listener serves the protocols its config lists (`protocols: [native,
 * ...]`, default `[native]`). With one, every connection speaks it. With several, the
 * core asks each protocol's detect, in the listed order, about the first bytes of a
 * connection and hands the connection to the first that says YES; when all say NO (or
 * MORE past 64 bytes) it closes the connection and logs what arrived.
 *
 * Every server op runs on the connection's IO thread, except reply_begin/reply_end of a
 * protocol with PX_PROTO_STATELESS_REPLY, which the core may run on a worker thread to
 * encode an answer off the IO thread (they then must only write to out).
 *
 * Client side: an upstream names its protocol (`protocol: native`, the default). A
 * client connection is opened with client_open, which appends the bytes that open it
 * (native: HELLO); then each call is one client_request, and the core reads what the
 * server sends one message at a time with client_next. The blocking client and the
 * async client both read this way: it lets a reader stop after each message (nghttp2
 * does so by returning NGHTTP2_ERR_PAUSE from a callback).
 */

/** What a protocol says about the first bytes of a connection. */
typedef enum px_detect {
    PX_DETECT_NO = 0,   /**< not this protocol */
    PX_DETECT_YES = 1,  /**< this protocol */
    PX_DETECT_MORE = 2, /**< cannot tell yet: needs more bytes */
} px_detect;

/** Server connection, as a protocol sees it (the core's). */
typedef struct px_pconn px_pconn;
/** One of the server's codecs (`codecs:` of the server). */
typedef struct px_pcodec px_pcodec;

/** Limits a protocol enforces in its own framing (the scope's `limits:`). */
typedef struct px_plimits {
    uint64_t max_body;     /**< max_frame: bytes of one request or reply body */
    uint64_t max_meta;     /**< bytes of one call's metadata, in the §2.3 encoding */
    uint32_t max_inflight; /**< server: max_inflight_per_conn; client: 0 */
} px_plimits;

/** A request, whatever the protocol: what px_pconn_request admits. */
typedef struct px_preq {
    uint64_t id;            /**< the protocol's name for the call (native: the request id,
                             *   HTTP/2: the stream id): nonzero, unique among the
                             *   connection's calls in flight; answers name it */
    const char *method;     /**< "package.Service/Method", method_len bytes */
    size_t method_len;
    const uint8_t *meta;    /**< request metadata in the encoding of docs/PROTOCOL.md §2.3
                             *   (a px_meta list's bytes); NULL with meta_len 0 for none */
    size_t meta_len;
    const uint8_t *body;    /**< the encoded request */
    size_t body_len;
    int64_t timeout_us;     /**< what the caller gave the call; 0: no deadline */
    const px_pcodec *codec; /**< the body's codec (px_pconn_codec) */
} px_preq;

/* ---- what the core offers a server protocol (IO thread only) ---------------- */

/** Where to append bytes for the peer; they are written at the end of this loop turn. */
PX_API px_buf *px_pconn_out(px_pconn *pc);
/** "127.0.0.1:50312": the peer, for messages. */
PX_API const char *px_pconn_peer(const px_pconn *pc);
/** The listener's limits. */
PX_API const px_plimits *px_pconn_limits(const px_pconn *pc);
/**
 * The server codec called name (len bytes), or NULL with err saying which codecs the
 * server has (UNIMPLEMENTED). name NULL: the server's first codec (its default, for a
 * call that names none). A protocol that names the codec per connection (native's
 * HELLO) keeps what this returns; one that names it per call (a content type) looks it
 * up per call.
 */
PX_API const px_pcodec *px_pconn_codec(px_pconn *pc, const char *name, size_t len, px_err *err);
/** The codec's module name ("protobuf"). */
PX_API const char *px_pcodec_name(const px_pcodec *c);
/** The opening handshake is complete: the handshake_timeout no longer applies. */
PX_API void px_pconn_ready(px_pconn *pc);
/**
 * A request arrived. The core runs the admission checks of docs/PROTOCOL.md §6.1 in
 * order (a reused id is a protocol error and ends the connection), decodes the body,
 * and answers exactly once, through reply_begin/reply_end or reply_error, possibly
 * before this returns. r and what it points to need live only until it returns.
 */
PX_API void px_pconn_request(px_pconn *pc, const px_preq *r);
/**
 * The peer gave up on call id (HTTP/2 RST_STREAM, native CANCEL): its answer is not
 * sent, and the id is free for a new call at once. Unknown ids are ignored.
 */
PX_API void px_pconn_cancel(px_pconn *pc, uint64_t id);
/**
 * Whether to go on reading requests: 0 once the connection is closing, or when the
 * memory budget paused it. conn_recv then returns what it consumed; the rest comes back
 * in a later conn_recv.
 */
PX_API int px_pconn_more(px_pconn *pc);
/**
 * A protocol error: the connection reads nothing more, the calls in progress are
 * answered, then conn_fail writes the last words (st and the message) and the
 * connection closes. What conn_recv returns after it does not matter.
 */
PX_API void px_pconn_fail(px_pconn *pc, px_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/**
 * The protocol holds bytes of its own for this connection (decoder tables, a message
 * being assembled): charged to the connection and the server's memory budget (negative
 * gives them back; all must be given back by conn_close).
 */
PX_API void px_pconn_charge(px_pconn *pc, int64_t bytes);
/**
 * A message has started and is not complete though conn_recv consumed its bytes (a
 * protocol that buffers internally): the read_timeout applies until it says 0. A
 * protocol that leaves an incomplete message's bytes unconsumed needs not say it.
 */
PX_API void px_pconn_partial(px_pconn *pc, int partial);

/* ---- what a client protocol hands the core ----------------------------------- */

/** What a client call sends besides its body. */
typedef struct px_creq {
    uint64_t id;           /**< nonzero, unique among the connection's calls in flight */
    int64_t timeout_us;    /**< time the call has left, > 0; 0: no deadline */
    const char *method;    /**< "package.Service/Method", method_len bytes */
    size_t method_len;
    const uint8_t *meta;   /**< the §2.3 encoding; NULL with meta_len 0 for none */
    size_t meta_len;
} px_creq;

/** What a server's message means to a client. */
typedef enum px_cmsg_kind {
    PX_CMSG_REPLY = 0,  /**< id's call succeeded; body is the encoded reply */
    PX_CMSG_ERROR,      /**< id's call failed: status, body = message, not_executed */
    PX_CMSG_CONN_ERROR, /**< the whole connection ends with status, body = message */
    PX_CMSG_GOAWAY,     /**< no new calls here; status nonzero: the connection is refused */
    PX_CMSG_READY,      /**< the server accepted the opening; body = the codec it took */
    PX_CMSG_PONG,       /**< answer to client_ping */
    PX_CMSG_UNEXPECTED, /**< something a server must not send; type says what */
} px_cmsg_kind;

typedef struct px_cmsg {
    px_cmsg_kind kind;
    uint8_t type;         /**< the protocol's own message type, for messages */
    uint64_t id;
    px_status status;     /**< ERROR, CONN_ERROR: never PX_OK; GOAWAY: PX_OK or the refusal */
    int not_executed;     /**< ERROR or refusal: nothing of it ran, it may go elsewhere */
    const uint8_t *body;  /**< REPLY: the encoded reply; ERROR, CONN_ERROR, GOAWAY: UTF-8
                           *   text; READY: the codec name */
    uint32_t body_len;
    const uint8_t *meta;  /**< response metadata, §2.3 encoding (REPLY, ERROR) */
    uint32_t meta_len;
    /** ABI 1.5. READY: how many calls the server takes in flight on this connection
     *  (native: the HELLO answer's max_inflight), so the client keeps no more than that
     *  unanswered on it and queues the rest; 0: not announced (no limit is assumed).
     *  Other kinds: 0. Read only from protocol modules built with abi_minor >= 5 (it
     *  sits in what was the struct's tail padding: its size did not change). */
    uint32_t max_inflight;
} px_cmsg;

/** client_next's results. */
enum { PX_CNEXT_ERROR = -1, PX_CNEXT_MORE = 0, PX_CNEXT_MSG = 1 };

/* Flags of px_protocol_ops. */
#define PX_PROTO_STATELESS_REPLY 0x1u /**< reply_begin/reply_end touch nothing but out */
/** ABI 1.5: after client_cancel the server sends no answer for that call and counts it
 *  no more against its limit (HTTP/2's RST_STREAM). Without it (native's CANCEL) the
 *  cancelled call keeps its place in max_inflight until its late answer arrives. */
#define PX_PROTO_CANCEL_FREES 0x2u

/** The ops of a PX_MOD_PROTOCOL module. cs is what conn_open / client_open returned. */
typedef struct px_protocol_ops {
    unsigned flags;

    /* ---- server half: NULL detect means the protocol serves no listener ---- */
    /** About the first len bytes a connection sent (len >= 1). */
    px_detect (*detect)(const uint8_t *buf, size_t len);
    /** A connection starts speaking this protocol: sets *cs, the state the other ops
     *  get (may be anything: pc, or state for a protocol with none of its own), and
     *  may append opening bytes. 0, or -1 when out of memory. */
    int (*conn_open)(void *state, px_pconn *pc, void **cs);
    /** Bytes arrived: returns how many it consumed; the rest is handed back, with what
     *  follows, next time (the core bounds what it keeps by the limits). */
    size_t (*conn_recv)(void *cs, const uint8_t *buf, size_t len);
    /** Optional: the size of the message buf[0..len) starts with, once its header says
     *  (0: unknown), so that the core reserves what it will take and no more. */
    size_t (*msg_size)(const uint8_t *buf, size_t len);
    /** An answer to id begins: appends what precedes the body (meta: response metadata,
     *  §2.3 encoding) and returns the mark out->len had before, or SIZE_MAX when out of
     *  memory. The core then appends the body (the codec encodes straight into out) and
     *  calls reply_end; or, when the body cannot be made, cuts out back to the mark and
     *  answers with reply_error instead. So reply_begin must change no connection state
     *  that the cut would not undo: a protocol with such state (HTTP/2's header
     *  compression, its streams) leaves that work to reply_end, which may rewrite
     *  everything from the mark on. */
    size_t (*reply_begin)(void *cs, px_buf *out, uint64_t id, const uint8_t *meta,
                          size_t meta_len);
    /** The body is out[mark + what reply_begin wrote ..]: frames it (it may move it);
     *  returns the body's bytes. */
    size_t (*reply_end)(void *cs, px_buf *out, size_t mark);
    /** Call id fails with st and msg (not_executed: it never ran), with response
     *  metadata (meta_len 0: none). 0, or -1 on OOM. */
    int (*reply_error)(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                       const char *msg, const uint8_t *meta, size_t meta_len);
    /** No new calls will be taken (st PX_OK: shutdown or idle; else the connection is
     *  refused, and cs is NULL: the connection was never opened). */
    void (*goaway)(void *cs, px_buf *out, px_status st, const char *why);
    /** Last words before the connection closes on an error (px_pconn_fail, a limit). */
    void (*conn_fail)(void *cs, px_buf *out, px_status st, const char *msg);
    /** The connection is gone and its last call is over; frees cs (pc is still valid
     *  here: px_pconn_charge gives back what the protocol held). May be NULL. */
    void (*conn_close)(void *cs);

    /* ---- client half: NULL client_request means no upstream may use it ---- */
    /** A connection to a server opens asking for codec: appends its opening bytes and
     *  sets *cs (as conn_open). 0, or -1 when out of memory. Any thread (the blocking
     *  client opens connections on its caller's thread). */
    int (*client_open)(void *state, const char *codec, px_buf *out, void **cs);
    /** Appends call r carrying body. 0, or -1 when out of memory (out unchanged). */
    int (*client_request)(void *cs, px_buf *out, const px_creq *r, const uint8_t *body,
                          size_t len);
    /** The client gave up on call id. 0, or -1 on OOM. May be NULL (nothing is sent). */
    int (*client_cancel)(void *cs, px_buf *out, uint64_t id);
    /** A liveness probe with id, answered by a PONG. 0, or -1. May be NULL (the probe
     *  then only opens a connection). */
    int (*client_ping)(void *cs, px_buf *out, uint64_t id);
    /**
     * The next message from the server in buf[0..len) (len may be 0). A protocol
     * without an opening handshake answers its first call with one READY (body = the
     * codec it was opened with) that consumes nothing: the clients wait for nothing
     * else, but the probe and the codec check read it. PX_CNEXT_MSG with *m and the
     * bytes it used in *used (m's pointers are valid until the next client_next on
     * cs); PX_CNEXT_MORE when it needs more bytes (*used may be nonzero: consumed);
     * PX_CNEXT_ERROR with err when the stream cannot go on. It may append to out
     * (acknowledgements the protocol owes the server). lim: the upstream's limits.
     */
    int (*client_next)(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim,
                       px_buf *out, px_cmsg *m, size_t *used, px_err *err);
    /** Optional: as msg_size, for what a server sends. */
    size_t (*client_msg_size)(const uint8_t *buf, size_t len);
    /** The connection is gone; frees cs. May be NULL. */
    void (*client_close)(void *cs);
} px_protocol_ops;

#ifdef __cplusplus
}
#endif
#endif
