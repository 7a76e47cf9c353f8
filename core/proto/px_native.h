/* The native protocol as the core's built-in PROTOCOL module: its two halves
 * (px_native_server.c, px_native_client.c) and the module (px_native.c). */
#ifndef PX_NATIVE_H
#define PX_NATIVE_H

#include <stddef.h>
#include <stdint.h>
#include "plexus/px_module.h"
#include "plexus/px_protocol.h"

extern const px_module px_proto_native_module;
extern const px_protocol_ops px_native_ops;

/* server half */
px_detect px_native_detect(const uint8_t *buf, size_t len);
int px_native_conn_open(void *state, px_pconn *pc, void **cs);
size_t px_native_conn_recv(void *cs, const uint8_t *buf, size_t len);
size_t px_native_msg_size(const uint8_t *buf, size_t len);
size_t px_native_reply_begin(void *cs, px_buf *out, uint64_t id, const uint8_t *meta,
                             size_t meta_len);
size_t px_native_reply_end(void *cs, px_buf *out, size_t mark);
int px_native_reply_error(void *cs, px_buf *out, uint64_t id, px_status st, int not_executed,
                          const char *msg, const uint8_t *meta, size_t meta_len);
void px_native_goaway(void *cs, px_buf *out, px_status st, const char *why);
void px_native_conn_fail(void *cs, px_buf *out, px_status st, const char *msg);
void px_native_conn_close(void *cs);

/* client half */
int px_native_client_open(void *state, const char *codec, px_buf *out, void **cs);
int px_native_client_request(void *cs, px_buf *out, const px_creq *r, const uint8_t *body,
                             size_t len);
int px_native_client_cancel(void *cs, px_buf *out, uint64_t id);
int px_native_client_ping(void *cs, px_buf *out, uint64_t id);
int px_native_client_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim,
                          px_buf *out, px_cmsg *m, size_t *used, px_err *err);

#endif
