/* CODEC "json": the proto3 JSON mapping (jansson), for the CLI and HTTP gateways. */
#include <string.h>
#include "json_int.h"

static int px__json_append(const char *buffer, size_t size, void *data)
{
    return px_buf_append(data, buffer, size);
}

static px_status px__json_encode(void *state, const ProtobufCMessage *msg, px_buf *out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    if (px__cu_check_encode("json", msg, err) != PX_OK)
        return err->status;
    int precision;
    json_t *root = px__json_encode_message(msg, &precision, err);
    if (root == NULL)
        return err->status;
    size_t start = out->len;
    /* Compact and in field order: {"a":2,"b":3}. Streams straight into out. */
    int rc = json_dump_callback(root, px__json_append, out,
                                JSON_COMPACT | JSON_REAL_PRECISION(precision));
    json_decref(root);
    if (rc != 0) {
        out->len = start;
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "json: out of memory writing %s",
                          msg->descriptor->name);
    }
    return PX_OK;
}

static px_status px__json_decode_with(void *state, const ProtobufCMessageDescriptor *desc,
                                      const uint8_t *data, size_t len, ProtobufCAllocator *alloc,
                                      ProtobufCMessage **out, px_err *err)
{
    (void)state;
    px_err local;
    if (err == NULL)
        err = &local;
    *out = NULL;
    if (px__cu_check_decode("json", desc, err) != PX_OK)
        return err->status;
    json_error_t jerr;
    /* Duplicate keys are refused, as protobuf's own JSON parser does. The tree is working
     * memory on jansson's malloc, freed before we return: only the message comes from alloc. */
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jansson's own text for this one names its flag; say why we refuse instead. */
        const char *why = json_error_code(&jerr) == json_error_null_character
                              ? "\\u0000 in a string (protobuf-c strings end at NUL)"
                              : jerr.text;
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "json: cannot decode %s: line %d column %d (byte %d): %s", desc->name,
                          jerr.line, jerr.column, jerr.position, why);
    }
    px_status st = px__json_decode_message(desc, root, alloc, out, err);
    json_decref(root);
    return st;
}

/* NULL allocator: malloc / free, as protobuf_c_message_free_unpacked(msg, NULL) expects. */
static px_status px__json_decode(void *state, const ProtobufCMessageDescriptor *desc,
                                 const uint8_t *data, size_t len, ProtobufCMessage **out,
                                 px_err *err)
{
    return px__json_decode_with(state, desc, data, len, NULL, out, err);
}

static const px_codec_ops px__json_ops = {
    .content_type = "application/json",
    .encode = px__json_encode,
    .decode = px__json_decode,
    .decode_with = px__json_decode_with,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_CODEC,
    .name = "json",
    .version = "1.0.0",
    .description = "proto3 JSON mapping (jansson)",
    .ops = &px__json_ops,
};
