/* The call entry points as binaries built before ABI 1.3 know them.
 *
 * px_call_opts grew in ABI 1.3 (meta, reply_meta, spare): a caller built against the
 * old header passes a 32-byte struct, and reading the new fields from it would read
 * past the caller's object. The header therefore binds px_call_async, px_call and
 * px_call_wait to new symbols (px_call_async_v2, ...), and the old symbols stay here:
 * they take the old layout, copy it into the new struct with no metadata and call the
 * new functions. Code built against this header never reaches them. */
#include <stdint.h>

#include "px_client_int.h"

/* px_call_opts as it was in ABI 1.0 to 1.2. */
typedef struct px_call_opts_v1 {
    int64_t timeout_us;
    int idempotent;
    uint64_t hash_key;
    int has_hash_key;
} px_call_opts_v1;

_Static_assert(sizeof(px_call_opts_v1) == 32, "the old px_call_opts was 32 bytes");

static const px_call_opts *px__opts_from_v1(const px_call_opts_v1 *v1, px_call_opts *o)
{
    if (!v1)
        return NULL;
    *o = (px_call_opts){.timeout_us = v1->timeout_us, .idempotent = v1->idempotent,
                        .hash_key = v1->hash_key, .has_hash_key = v1->has_hash_key};
    return o;
}

PX_API px_status px__call_async_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                                   const ProtobufCMessageDescriptor *reply_desc,
                                   const px_call_opts_v1 *opts, px_done_fn done, void *user,
                                   px_err *err) PX_SYMBOL("px_call_async");
PX_API px_status px__call_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                             const ProtobufCMessageDescriptor *reply_desc,
                             const px_call_opts_v1 *opts, ProtobufCMessage **reply, px_err *err)
    PX_SYMBOL("px_call");
PX_API px_status px__call_wait_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                                  const ProtobufCMessageDescriptor *reply_desc,
                                  const px_call_opts_v1 *opts, ProtobufCMessage **reply,
                                  px_err *err) PX_SYMBOL("px_call_wait");

px_status px__call_async_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                            const ProtobufCMessageDescriptor *reply_desc,
                            const px_call_opts_v1 *opts, px_done_fn done, void *user, px_err *err)
{
    px_call_opts o;
    return px_call_async(c, method, req, reply_desc, px__opts_from_v1(opts, &o), done, user, err);
}

px_status px__call_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                      const ProtobufCMessageDescriptor *reply_desc, const px_call_opts_v1 *opts,
                      ProtobufCMessage **reply, px_err *err)
{
    px_call_opts o;
    return px_call(c, method, req, reply_desc, px__opts_from_v1(opts, &o), reply, err);
}

px_status px__call_wait_v1(px_client *c, const char *method, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *reply_desc,
                           const px_call_opts_v1 *opts, ProtobufCMessage **reply, px_err *err)
{
    px_call_opts o;
    return px_call_wait(c, method, req, reply_desc, px__opts_from_v1(opts, &o), reply, err);
}
