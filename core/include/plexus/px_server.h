/* Embedding a server: a Plexus server inside the caller's own program, made from a
 * config file, from a YAML text or from code, serving module services and services the
 * program implements itself. plexusd is this API and a signal handler. Since ABI 1.5. */
#ifndef PLEXUS_PX_SERVER_H
#define PLEXUS_PX_SERVER_H

#include <protobuf-c/protobuf-c.h>
#include "px_config.h"
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct px_server px_server;

/**
 * A server from the server: section of cfg: its codec, protocol, filter and service
 * instances are made and its listening sockets bound (so px_server_port answers), no
 * thread runs yet. cfg must outlive the server. Fails when cfg has no server: section,
 * an instance's create fails or the address cannot be bound. On failure *out is NULL.
 */
PX_API px_status px_server_new(const px_config *cfg, px_server **out, px_err *err);
/** px_config_load(path) then px_server_new; the server owns the config (errors read
 *  FILE:LINE:COL as px_config_load's). */
PX_API px_status px_server_new_file(const char *path, px_server **out, px_err *err);

/**
 * Building a server in code: the same keys as a config file, set one by one. key is the
 * dotted path of a config key ("server.listen", "server.io_threads",
 * "server.codecs", "server.limits.max_frame", "modules.path", ...: docs/CONFIG.md);
 * value is its YAML text as it would follow "key: " in the file, on one line
 * ("127.0.0.1:0", "2", "[protobuf, json]", "4MiB", "'[::1]:0'": quote what YAML would
 * read as a list or a mapping). Setting a key again replaces its value. Errors: a key
 * or value that cannot be set here; the schema's checks come at px_server_new_opts,
 * with the message naming the key.
 */
typedef struct px_server_opts px_server_opts;
PX_API px_server_opts *px_server_opts_new(void);
PX_API px_status px_server_opts_set(px_server_opts *o, const char *key, const char *value,
                                    px_err *err);
PX_API void px_server_opts_free(px_server_opts *o);
/** A server from the keys set (server.listen is required); it keeps what it needs, o may
 *  be freed at once. */
PX_API px_status px_server_new_opts(const px_server_opts *o, px_server **out, px_err *err);

/**
 * Adds a service the program implements itself (a protoc-c ProtobufCService: generated
 * descriptor and handler table, answered as px_service.h says), after the config's.
 * workers 0 runs its handlers on the IO threads (they must not block), N on a pool of N
 * threads of its own. Its calls pass through server.filters. Before px_server_start
 * only; svc must outlive the server. Refuses a method another service already has.
 */
PX_API px_status px_server_add_service(px_server *s, ProtobufCService *svc, int workers,
                                       px_err *err);

/** Starts the IO threads and returns; logs "listening on ADDRESS". */
PX_API px_status px_server_start(px_server *s, px_err *err);
/** The port the server listens on (the one the system chose for "HOST:0"). */
PX_API int px_server_port(const px_server *s);
/** server.id (default: server.listen). */
PX_API const char *px_server_id(const px_server *s);

/**
 * Asks the server to stop: px_server_wait and px_server_run return. It does not wait
 * for anything and is async-signal-safe (one write to an eventfd): a SIGTERM handler
 * may call it. Calling it more than once, or before px_server_wait, is harmless.
 */
PX_API void px_server_stop(px_server *s);
/** Blocks the calling thread until px_server_stop is called. */
PX_API void px_server_wait(px_server *s);
/**
 * Graceful stop, from any thread but a server's own (not from a handler, not from a
 * signal handler): stops accepting, tells every client GOAWAY, lets calls in flight
 * finish for up to server.shutdown_grace, then answers the rest UNAVAILABLE, closes
 * every connection and joins the threads. Blocks for at most the grace plus about two
 * seconds. Returns how many threads were still in a handler and were left behind (0
 * normally): px_server_free then frees nothing and the process should exit.
 */
PX_API int px_server_shutdown(px_server *s);
/**
 * px_server_start, px_server_wait on the calling thread, then px_server_shutdown:
 * serves until px_server_stop. PX_OK; the start's error; or PX_DEADLINE_EXCEEDED when
 * threads were left in a handler (see px_server_shutdown).
 */
PX_API px_status px_server_run(px_server *s, px_err *err);
/**
 * Reads server.tls's certificate, key and CA files again now (plexusd does on SIGHUP;
 * the server also looks at them every tls.reload_check). New connections get the new
 * certificate; open ones keep theirs. A bad new set is refused with err, logged, and the
 * old one keeps serving. Any thread; not from a signal handler. FAILED_PRECONDITION
 * without a tls: block. New in ABI 1.5's library (a program using it needs this core).
 */
PX_API px_status px_server_reload_tls(px_server *s, px_err *err);
/**
 * Keeps the listening sockets of cfg's server (server.listen and each of
 * server.listeners, one per IO thread) open in a table of the process, binding those the
 * table lacks (all or nothing: on failure, err names the listener, nothing new is kept).
 * A server made afterwards takes its sockets from the table instead of binding: a new
 * server generation (a reload) or a process forked after this call accepts on the very
 * sockets of the one before, so no connection waiting in their queues is lost. A
 * listener is the same when its configured address is ("127.0.0.1:0" keeps the port it
 * got). cfg must have a server: section. New in ABI 1.5's library.
 */
PX_API px_status px_server_keep_listeners(const px_config *cfg, px_err *err);
/**
 * Closes the kept sockets that keep's server does not listen on (all of them when keep is
 * NULL). A server that took one keeps its own descriptor until it stops accepting.
 */
PX_API void px_server_release_listeners(const px_config *keep);
/** Frees the server (and the config px_server_new_file or _opts loaded); NULL is
 *  fine. Shut it down first if it was started. */
PX_API void px_server_free(px_server *s);

#ifdef __cplusplus
}
#endif
#endif
