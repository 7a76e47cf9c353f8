/* Reading a tls: block (server: or an upstream) and building its context. */
#ifndef PX_CONFIG_TLS_H
#define PX_CONFIG_TLS_H

#include <stddef.h>
#include "px_tls.h"
#include "px_yaml.h"

/** The ALPN id the native protocol offers and accepts over TLS. */
#define PX_TLS_ALPN_NATIVE "plexus/1"

/** The ALPN id of a known protocol module ("grpc": "h2"), or NULL. */
const char *px_tls_alpn_of(const char *protocol);

/**
 * Fills out from the tls: mapping node (NULL or null: no TLS, out->present 0) and builds
 * *ctx. Relative paths are relative to dir. def_alpn: the ids offered when the block
 * names none. err: "FILE:LINE:COL: scope.key: problem". out is released by the caller
 * (px_tls_conf_release), also after a failure.
 */
px_status px_config_tls(const px_ynode *node, int server, const char *scope, const char *file,
                        const char *dir, const char *const *def_alpn, size_t n_def_alpn,
                        px_tls_conf *out, px_tls_ctx **ctx, px_err *err);

#endif
