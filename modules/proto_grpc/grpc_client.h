/* proto_grpc's client half: an upstream with `protocol: grpc` calls gRPC servers. */
#ifndef GRPC_CLIENT_H
#define GRPC_CLIENT_H

#include <plexus/plexus.h>

int gc_open(void *state, const char *codec, px_buf *out, void **cs);
int gc_request(void *cs, px_buf *out, const px_creq *r, const uint8_t *body, size_t len);
int gc_cancel(void *cs, px_buf *out, uint64_t id);
int gc_ping(void *cs, px_buf *out, uint64_t id);
int gc_next(void *cs, const uint8_t *buf, size_t len, const px_plimits *lim, px_buf *out,
            px_cmsg *m, size_t *used, px_err *err);
void gc_close(void *cs);

#endif
