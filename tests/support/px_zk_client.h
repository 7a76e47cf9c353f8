/* Test helper: a client whose upstream "calc" reads its endpoints from ZooKeeper
 * (naming: zookeeper), and the load steps the ZooKeeper cluster tests share. */
#ifndef PX_ZK_CLIENT_H
#define PX_ZK_CLIENT_H

#include <stdint.h>
#include "plexus/plexus.h"
#include "px_load.h"

/**
 * Writes conf_path: upstream calc with `naming: {module: zookeeper, servers: connect,
 * service: calc,<naming_extra> session_timeout: 6s, connect_timeout: 20s}` and
 * upstream_yaml (lines indented by 6 spaces) after it; loads it and makes the client
 * (whose start waits for the first list), printing how long that took. 0, or -1 with
 * the error printed.
 */
int px_zk_client_new(const char *conf_path, const char *connect, const char *naming_extra,
                     const char *upstream_yaml, px_config **cfg, px_client **cl);
/**
 * Runs l's load, a call a millisecond, until its client's upstream lists `want`
 * endpoints (bounded: 30 s). The index of the first call made with that list (and
 * when, in *at_us), or -1 when it never did.
 */
int px_load_until_live(px_load *l, uint32_t want, int64_t *at_us);
/** A second of load (100 calls every 100 ms, tick(arg) at each step), then every call
 *  drained (bounded: 10 s): the index after its last call, or -1. */
int px_load_second(px_load *l, void (*tick)(void *), void *arg);

#endif
