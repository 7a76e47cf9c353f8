/* NAMING modules: where an upstream's endpoints come from, and how the list changes. */
#ifndef PLEXUS_PX_NAMING_H
#define PLEXUS_PX_NAMING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An upstream gets its endpoints from one naming module (`naming:` in the upstream's
 * block, default `static`: the YAML `endpoints:` list). The module tells the core the
 * list through a sink: a whole list (px_naming_set) or one change at a time
 * (px_naming_add, px_naming_remove). The core applies each update at once: the
 * balancer's update op gets the new live list, calls made after the update returns
 * never go to a removed endpoint, calls in flight on a removed endpoint finish (reply
 * or their own deadline), and an endpoint that stays keeps its health and its
 * connections.
 *
 * Threads and lifetime:
 * - start runs once, when the client is made (px_client_new), on the client's naming
 *   thread (its first IO thread); stop runs once, when the client is freed, on the same
 *   thread. A start that fails fails px_client_new with its error.
 * - The sink is valid from the moment start is called until stop returns. Within that
 *   span px_naming_set, px_naming_add and px_naming_remove may be called from any
 *   thread (a client library's own threads), at any time, including from inside start
 *   (the static and file modules deliver their first list there, so the first call
 *   already has endpoints; until the first list, calls fail UNAVAILABLE). The core
 *   serializes updates: each returns once it is applied. They must not be called from
 *   inside a balancer op.
 * - stop must leave no thread of the module able to call the sink afterwards (join
 *   them, or close the client library that calls back, before returning).
 * - The event-loop helpers below (px_naming_io_*) may be used only on the naming thread
 *   (in start, in stop, and in their own callbacks, which run there); that thread also
 *   serves calls, so callbacks must not block. What the module leaves open is closed
 *   by the core after stop.
 *
 * Addresses: an endpoint's address is numeric, "10.0.0.5:7101" or "[fd00::5]:7101" (or
 * localhost:PORT, always 127.0.0.1), parsed by the core's one address parser (the one
 * that reads the config, minus name lookups); the core never resolves a host name at run
 * time (a DNS module resolves itself and delivers one endpoint per address it found,
 * or hands over the resolved socket address in `sa`). An entry the core cannot take
 * (a host name without `sa`, a bad port, a weight out of range, an address repeated in
 * one list, one more address than the upstream's max_endpoints) is refused with a log
 * line naming the upstream, the module and the address, and the rest of the update is
 * applied: one bad registration must not freeze the membership of every good one.
 * An update whose entries are all refused changes nothing (garbage is not taken for
 * "no server is left"); an empty list is applied (the source says no server is there:
 * calls fail UNAVAILABLE until one comes back).
 */

/** The core's side of one upstream's naming: passed to start, valid until stop returns. */
typedef struct px_naming_sink px_naming_sink;

/** One endpoint as a naming module delivers it. The core copies what it keeps. */
typedef struct px_naming_endpoint {
    /** "10.0.0.5:7101" or "[fd00::5]:7101" (port 1..65535): the endpoint's identity.
     *  Balancers hash it, log lines name it, and an update that lists it again means
     *  the same endpoint (its health, connections and balancer state stay). */
    const char *address;
    /** Share for weighted balancers, 1..10000; 0 counts as 1. An update that lists a
     *  known address with another weight changes the weight. */
    uint32_t weight;
    /** sa_len bytes of an AF_INET or AF_INET6 address the module resolved itself, when
     *  `address` is not numeric (static: the YAML's host names, resolved when the config
     *  was loaded). NULL: the core parses `address`, which must then be numeric. A known
     *  address listed with another `sa` is refused: remove it first. */
    const struct sockaddr *sa;
    uint32_t sa_len;
    /** Reserved for zone-aware balancing and per-endpoint metadata (ABI 1.2 does not
     *  read them): NULL or a string. */
    const char *zone;
    const char *metadata;
    void *spare[4]; /**< zero */
} px_naming_endpoint;

/**
 * Replaces the upstream's list with eps[0..n). Returns PX_OK when every entry was
 * taken; PX_INVALID_ARGUMENT when some were refused (logged; the others are applied,
 * or nothing when every one was refused); PX_RESOURCE_EXHAUSTED when an entry would
 * pass max_endpoints (logged, the others applied) or memory ran out (nothing applied);
 * PX_FAILED_PRECONDITION after stop. A list equal to the current one changes nothing.
 */
PX_API px_status px_naming_set(px_naming_sink *sink, const px_naming_endpoint *eps, size_t n);
/** Adds one endpoint at the end of the list, or changes the weight of a listed one.
 *  Returns as px_naming_set. */
PX_API px_status px_naming_add(px_naming_sink *sink, const px_naming_endpoint *ep);
/** Removes the endpoint with this address. PX_NOT_FOUND when it is not listed. */
PX_API px_status px_naming_remove(px_naming_sink *sink, const char *address);

/**
 * Whether px_naming_set would take address as it is, without `sa`: a numeric
 * "10.0.0.5:7101" or "[fd00::5]:7101" (or localhost:PORT), port 1..65535, checked by the
 * core's own parser, so a module that reads addresses from a file can refuse one at
 * its place in the file. PX_OK, or PX_INVALID_ARGUMENT with err->msg the reason alone
 * ("'db1' is a host name: ..."). Any thread. Since ABI 1.5's library.
 */
PX_API px_status px_naming_check_address(const char *address, px_err *err);

/** The upstream's name, for the module's own log lines. */
PX_API const char *px_naming_upstream(const px_naming_sink *sink);
/**
 * The upstream's `endpoints:` list from the config (host names resolved when the file
 * was loaded, so each entry has `sa`); *n = 0 when the upstream has none. Valid until
 * stop returns. The static module delivers exactly this; another module may use it as
 * seeds or a fallback.
 */
PX_API const px_naming_endpoint *px_naming_configured(const px_naming_sink *sink, size_t *n);

/* ---- the naming thread's event loop, for modules that watch files or sockets ---- */

/** A watch on a file descriptor, or a timer, on the naming thread. */
typedef struct px_naming_io px_naming_io;

#define PX_NAMING_READ 1  /**< the fd is readable */
#define PX_NAMING_WRITE 2 /**< the fd is writable */

/** revents: the PX_NAMING_READ / PX_NAMING_WRITE bits that are ready. */
typedef void (*px_naming_fd_fn)(void *arg, int fd, int revents);
typedef void (*px_naming_timer_fn)(void *arg);

/**
 * Watches fd for events (PX_NAMING_READ | PX_NAMING_WRITE; 0: not yet) and calls fn on
 * the naming thread when it is ready: inotify for a file, c-ares' sockets for DNS. The
 * fd stays the module's (closing the watch does not close it). NULL with err set when
 * the client has no event loop or memory ran out. Naming thread only.
 */
PX_API px_naming_io *px_naming_io_fd(px_naming_sink *sink, int fd, int events,
                                     px_naming_fd_fn fn, void *arg, px_err *err);
/** Changes what an fd watch waits for (0: nothing, until changed again). */
PX_API void px_naming_io_events(px_naming_io *io, int events);
/** A timer, not armed: px_naming_io_after arms it (TTLs, re-reads, library timeouts). */
PX_API px_naming_io *px_naming_io_timer(px_naming_sink *sink, px_naming_timer_fn fn, void *arg,
                                        px_err *err);
/** (Re)arms a timer to fire once after_us from now; a negative value disarms it. */
PX_API void px_naming_io_after(px_naming_io *io, int64_t after_us);
/** Stops and frees a watch or a timer; its callback does not run afterwards. */
PX_API void px_naming_io_close(px_naming_io *io);

/* ---- the module's ops ---- */

/** flags: the module serves the upstream's `endpoints:` list, which the config then
 *  requires (as `static` does). Without it an upstream may leave `endpoints:` out. */
#define PX_NAMING_USES_ENDPOINTS 1u

typedef struct px_naming_ops {
    unsigned flags; /**< PX_NAMING_USES_ENDPOINTS or 0 */
    /** Begins delivering the list through sink (see the contract above). PX_OK, or a
     *  status with err set: the client is not made. Required. */
    px_status (*start)(void *state, px_naming_sink *sink, px_err *err);
    /** Stops delivering; no sink call may follow its return. May be NULL. */
    void (*stop)(void *state);
} px_naming_ops;

#ifdef __cplusplus
}
#endif
#endif
