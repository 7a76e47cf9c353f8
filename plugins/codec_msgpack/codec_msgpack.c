/* CODEC "msgpack": MessagePack via libmsgpack, written against the installed Plexus SDK only. */
#include <stddef.h>
#include <plexus/plexus.h>
#include "mp_int.h"

/*
 * The module has no create(): the core then hands the filled conf struct to the ops
 * as their state. A state that is NULL, or a conf nobody filled (zeroed), means the
 * defaults, so a test that dlopens the module and calls the ops directly works too.
 */
static px__mp_limits px__limits(const void *state)
{
    const px__mp_conf *cf = state;
    px__mp_limits lim = { PX__MP_DEFAULT_MAX_SIZE, PX__MP_MAX_DEPTH };
    if (cf != NULL && cf->max_size > 0)
        lim.max_size = cf->max_size > SIZE_MAX ? SIZE_MAX : (size_t)cf->max_size;
    if (cf != NULL && cf->max_depth > 0 && cf->max_depth <= PX__MP_MAX_DEPTH)
        lim.max_depth = (int)cf->max_depth;
    return lim;
}

static px_status px__mp_encode_op(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    px_err local;
    if (err == NULL)
        err = &local;
    if (msg == NULL || msg->descriptor == NULL ||
        msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "msgpack: cannot encode: not a protobuf-c message (bad descriptor magic)");
    px__mp_limits lim = px__limits(state);
    return px__mp_encode(&lim, msg, out, err);
}

static px_status px__mp_decode_op(void *state, const ProtobufCMessageDescriptor *desc,
                                  const uint8_t *data, size_t len, ProtobufCMessage **out,
                                  px_err *err)
{
    px_err local;
    if (err == NULL)
        err = &local;
    *out = NULL;
    if (desc == NULL || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "msgpack: cannot decode: not a protobuf-c message descriptor (bad magic)");
    if (data == NULL && len > 0)
        return px_err_set(err, PX_INVALID_ARGUMENT, "msgpack: cannot decode %s: no data", desc->name);
    px__mp_limits lim = px__limits(state);
    return px__mp_decode(&lim, desc, data, len, out, err);
}

static const px_codec_ops px__mp_ops = {
    .content_type = "application/msgpack",
    .encode = px__mp_encode_op,
    .decode = px__mp_decode_op,
};

/* The YAML keys of `{ module: msgpack, ... }`: the core parses, bounds-checks and stores them. */
static const px_directive px__mp_directives[] = {
    { .name = "max_size", .type = PX_DIR_SIZE, .offset = offsetof(px__mp_conf, max_size),
      .def = "64MiB", .min = "1KiB", .max = "1GiB",
      .help = "largest encoding accepted, either way; larger is INVALID_ARGUMENT" },
    { .name = "max_depth", .type = PX_DIR_INT, .offset = offsetof(px__mp_conf, max_depth),
      .def = "64", .min = "1", .max = "64",
      .help = "deepest message nesting accepted, either way" },
    { .name = NULL },
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_CODEC,
    .name = "msgpack",
    .version = "1.0.0",
    .description = "MessagePack, messages as maps keyed by field number (libmsgpack)",
    .conf_size = sizeof(px__mp_conf),
    .directives = px__mp_directives,
    .ops = &px__mp_ops,
};
