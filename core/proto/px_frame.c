/* Encoding and bounds-checked parsing of native frames. */
#include "px_frame.h"

#include <string.h>

static const char *const px__frame_names[] = {
    [PX_FRAME_HELLO] = "HELLO",     [PX_FRAME_REQUEST] = "REQUEST",
    [PX_FRAME_RESPONSE] = "RESPONSE", [PX_FRAME_ERROR] = "ERROR",
    [PX_FRAME_PING] = "PING",       [PX_FRAME_PONG] = "PONG",
    [PX_FRAME_CANCEL] = "CANCEL",   [PX_FRAME_GOAWAY] = "GOAWAY",
};

const char *px_frame_type_name(unsigned type)
{
    if (type < sizeof px__frame_names / sizeof px__frame_names[0] && px__frame_names[type])
        return px__frame_names[type];
    return "UNKNOWN";
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }
static void wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)(v >> 32)); wr32(p + 4, (uint32_t)v); }

px_parse_result px_frame_parse(const uint8_t *buf, size_t len, uint64_t max_meta,
                               uint64_t max_body, px_frame *f, size_t *used, px_err *err)
{
    if (len < PX_FRAME_HEADER_SIZE)
        return PX_PARSE_NEED_MORE;
    uint16_t magic = rd16(buf);
    if (magic != PX_FRAME_MAGIC) {
        px_err_set(err, PX_INVALID_ARGUMENT, "bad frame magic 0x%04x (expected 0x%04x)",
                   magic, PX_FRAME_MAGIC);
        return PX_PARSE_ERROR;
    }
    if (buf[2] != PX_FRAME_VERSION) {
        px_err_set(err, PX_INVALID_ARGUMENT, "unsupported protocol version %u (this side speaks %u)",
                   buf[2], PX_FRAME_VERSION);
        return PX_PARSE_ERROR;
    }
    f->type = buf[3];
    if (f->type < PX_FRAME_HELLO || f->type > PX_FRAME_GOAWAY) {
        px_err_set(err, PX_INVALID_ARGUMENT, "unknown frame type %u", f->type);
        return PX_PARSE_ERROR;
    }
    f->flags = rd16(buf + 4);
    f->status = rd16(buf + 6);
    f->id = rd64(buf + 8);
    f->deadline_ms = rd32(buf + 16);
    f->method_len = rd16(buf + 20);
    f->meta_len = rd32(buf + 24);
    f->body_len = rd32(buf + 28);
    if (f->method_len > PX_FRAME_MAX_METHOD) {
        px_err_set(err, PX_INVALID_ARGUMENT, "method name of %u bytes exceeds the limit of %u",
                   f->method_len, PX_FRAME_MAX_METHOD);
        return PX_PARSE_ERROR;
    }
    if (f->meta_len > max_meta) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "metadata of %u bytes exceeds max_meta %llu",
                   f->meta_len, (unsigned long long)max_meta);
        return PX_PARSE_ERROR;
    }
    if (f->body_len > max_body) {
        px_err_set(err, PX_RESOURCE_EXHAUSTED, "frame body of %u bytes exceeds max_frame %llu",
                   f->body_len, (unsigned long long)max_body);
        return PX_PARSE_ERROR;
    }
    size_t total = (size_t)PX_FRAME_HEADER_SIZE + f->method_len + f->meta_len + f->body_len;
    if (len < total)
        return PX_PARSE_NEED_MORE;
    f->method = buf + PX_FRAME_HEADER_SIZE;
    f->meta = f->method + f->method_len;
    f->body = f->meta + f->meta_len;
    *used = total;
    return PX_PARSE_OK;
}

size_t px_frame_total(const uint8_t *buf, size_t len)
{
    if (len < PX_FRAME_HEADER_SIZE)
        return 0;
    return (size_t)PX_FRAME_HEADER_SIZE + rd16(buf + 20) + (size_t)rd32(buf + 24) + rd32(buf + 28);
}

unsigned px_frame_peek_type(const uint8_t *buf, size_t len)
{
    if (len < 4 || rd16(buf) != PX_FRAME_MAGIC)
        return 0;
    return buf[3];
}

static void px__frame_header(uint8_t *h, const px_frame *f, uint32_t body_len)
{
    wr16(h, PX_FRAME_MAGIC);
    h[2] = PX_FRAME_VERSION;
    h[3] = f->type;
    wr16(h + 4, f->flags);
    wr16(h + 6, f->status);
    wr64(h + 8, f->id);
    wr32(h + 16, f->deadline_ms);
    wr16(h + 20, f->method_len);
    wr16(h + 22, 0);
    wr32(h + 24, f->meta_len);
    wr32(h + 28, body_len);
}

size_t px_frame_begin(px_buf *out, const px_frame *f)
{
    size_t need = PX_FRAME_HEADER_SIZE + (size_t)f->method_len + f->meta_len;
    if (px_buf_reserve(out, need) != 0)
        return (size_t)-1;
    size_t off = out->len;
    px__frame_header(out->data + off, f, 0);
    uint8_t *p = out->data + off + PX_FRAME_HEADER_SIZE;
    if (f->method_len)
        memcpy(p, f->method, f->method_len);
    if (f->meta_len)
        memcpy(p + f->method_len, f->meta, f->meta_len);
    out->len += need;
    return off;
}

uint32_t px_frame_end(px_buf *out, size_t off)
{
    uint8_t *h = out->data + off;
    size_t body = out->len - off - PX_FRAME_HEADER_SIZE - rd16(h + 20) - rd32(h + 24);
    wr32(h + 28, (uint32_t)body);
    return (uint32_t)body;
}

int px_frame_append(px_buf *out, const px_frame *f)
{
    size_t off = px_frame_begin(out, f);
    if (off == (size_t)-1)
        return -1;
    if (f->body_len && px_buf_append(out, f->body, f->body_len) != 0) {
        out->len = off;
        return -1;
    }
    px_frame_end(out, off);
    return 0;
}

int px_frame_append_error(px_buf *out, uint64_t id, px_status st, const char *msg)
{
    px_frame f = {.type = PX_FRAME_ERROR, .status = (uint16_t)st, .id = id,
                  .body = (const uint8_t *)msg, .body_len = (uint32_t)strlen(msg)};
    return px_frame_append(out, &f);
}
