/* A server connection's protocol: detection by the first bytes on a listener that
 * serves several, and what the core offers a protocol module (px_pconn_*, see
 * plexus/px_protocol.h). A px_pconn is the core's px_sconn. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "px_log.h"
#include "px_server_int.h"

/* Detection gives up after this many bytes: every protocol says within a few. */
#define PX_DETECT_MAX 64

static inline px_sconn *px__sc(px_pconn *pc) { return (px_sconn *)pc; }

px_buf *px_pconn_out(px_pconn *pc) { return px_conn_out(&px__sc(pc)->conn); }

const char *px_pconn_peer(const px_pconn *pc) { return ((const px_sconn *)pc)->conn.peer; }

const px_plimits *px_pconn_limits(const px_pconn *pc) { return &((const px_sconn *)pc)->plim; }

const px_pcodec *px_pconn_codec(px_pconn *pc, const char *name, size_t len, px_err *err)
{
    px_server *srv = px__sc(pc)->sl->srv;
    if (!name && srv->n_codecs) /* the config always lists one */
        return (const px_pcodec *)&srv->codecs[0];
    for (size_t i = 0; i < srv->n_codecs; i++)
        if (strlen(srv->codecs[i].name) == len && memcmp(srv->codecs[i].name, name, len) == 0)
            return (const px_pcodec *)&srv->codecs[i];
    char have[256] = "";
    for (size_t i = 0; i < srv->n_codecs; i++) {
        size_t l = strlen(have);
        snprintf(have + l, sizeof have - l, "%s%s", i ? ", " : "", srv->codecs[i].name);
    }
    px_err_set(err, PX_UNIMPLEMENTED, "codec '%.*s' is not available on server %s (it has: %s)",
               (int)(len > 64 ? 64 : len), name ? name : "", srv->sc->id, have);
    return NULL;
}

const char *px_pcodec_name(const px_pcodec *c) { return ((const px_codec_inst *)c)->name; }

void px_pconn_ready(px_pconn *pc) { px__sconn_ready(px__sc(pc)); }

void px_pconn_request(px_pconn *pc, const px_preq *r)
{
    if (__builtin_expect(!r->codec || r->id == 0, 0)) {
        px__sconn_fatal(px__sc(pc), PX_INTERNAL, "protocol %s: a request %s",
                        px__sc(pc)->proto_name,
                        r->id ? "without a codec" : "with id 0");
        return;
    }
    px__on_request(px__sc(pc), r);
}

void px_pconn_cancel(px_pconn *pc, uint64_t id) { px__sconn_cancel(px__sc(pc), id); }

int px_pconn_more(px_pconn *pc) { return px_conn_may_read(&px__sc(pc)->conn); }

void px_pconn_fail(px_pconn *pc, px_status st, const char *fmt, ...)
{
    px_err e;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    e.status = st == PX_OK ? PX_INTERNAL : st;
    px_conn_finish(&px__sc(pc)->conn, &e);
}

void px_pconn_charge(px_pconn *pc, int64_t bytes) { px_conn_charge(&px__sc(pc)->conn, bytes); }

void px_pconn_partial(px_pconn *pc, int partial)
{
    px_sconn *sc = px__sc(pc);
    if (!partial)
        sc->partial_at = 0;
    else if (sc->partial_at == 0)
        sc->partial_at = ev_now(sc->conn.loop->ev);
}

/* ---- detection ------------------------------------------------------------ */

/* Once per second per loop at most: a scanner must not flood the log. */
static void px__log_undetected(px_sconn *sc, const uint8_t *buf, size_t len)
{
    px_sloop *sl = sc->sl;
    ev_tstamp now = ev_now(sl->loop.ev);
    if (now - sl->detect_logged < 1.0) {
        sl->detect_quiet++;
        return;
    }
    char names[200] = "", bytes[3 * 16] = "", text[17];
    const px_listener *li = sc->l;
    for (size_t i = 0; i < li->n_protos; i++) {
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "",
                 li->protos[i]->ref->mod->name);
    }
    size_t n = len < 16 ? len : 16;
    for (size_t i = 0; i < n; i++) { /* "47 45 54": three characters a byte, the first two */
        size_t at = i ? 3 * i - 1 : 0;
        snprintf(bytes + at, sizeof bytes - at, "%s%02x", i ? " " : "", buf[i]);
        text[i] = buf[i] >= 0x20 && buf[i] < 0x7f ? (char)buf[i] : '.';
    }
    text[n] = 0;
    px_log_warn("listener %s: connection from %s: its first bytes (%s \"%s\") match none of this "
                "listener's protocols (%s); closed%s", li->listen, sc->conn.peer, bytes, text,
                names, sl->detect_quiet ? " (and more since the last such line)" : "");
    sl->detect_logged = now;
    sl->detect_quiet = 0;
}

/* The first bytes choose the protocol: the first, in the listed order, that says YES.
 * Returns the protocol's instance, NULL to wait for more bytes; *none when no protocol
 * can be this one. */
static const px_inst *px__detect(px_sconn *sc, const uint8_t *buf, size_t len, int *none)
{
    const px_listener *l = sc->l;
    int more = 0;
    *none = 0;
    for (size_t i = 0; i < l->n_protos; i++) {
        const px_protocol_ops *ops = l->protos[i]->ops;
        if (!ops->detect)
            continue;
        px_detect d = ops->detect(buf, len);
        if (d == PX_DETECT_YES)
            return l->protos[i];
        more |= d == PX_DETECT_MORE;
    }
    *none = !more || len >= PX_DETECT_MAX;
    return NULL;
}

size_t px__sconn_on_bytes(px_conn *c, const uint8_t *buf, size_t len)
{
    px_sconn *sc = (px_sconn *)c;
    sc->last_active = ev_now(c->loop->ev);
    if (__builtin_expect(!sc->proto, 0)) {
        int none;
        const px_inst *p = px__detect(sc, buf, len, &none);
        if (!p) {
            if (none) {
                px__log_undetected(sc, buf, len);
                px_err e;
                px_err_set(&e, PX_INVALID_ARGUMENT, "its first bytes match no protocol");
                px_conn_abort(c, &e);
                return len;
            }
            return 0; /* wait for more: the handshake_timeout bounds the wait */
        }
        if (px__sconn_start_proto(sc, p) != 0)
            return len;
    }
    return sc->proto->conn_recv(sc->pstate, buf, len);
}

size_t px__sconn_msg_size(px_conn *c, const uint8_t *buf, size_t len)
{
    px_sconn *sc = (px_sconn *)c;
    return sc->proto && sc->proto->msg_size ? sc->proto->msg_size(buf, len) : 0;
}

void px__sconn_write_final(px_conn *c, const px_err *e)
{
    px_sconn *sc = (px_sconn *)c;
    if (sc->proto && sc->proto->conn_fail)
        sc->proto->conn_fail(sc->pstate, &c->out, e->status, e->msg);
}
