/* libFuzzer target: the TLS server side of a connection (core/tls: px_tls_conn over a
 * non-blocking socket, as px_conn drives it) fed what a client might send before and
 * after the handshake: px_tls_handshake until it ends, then px_tls_read and a reply.
 *
 * Input layout: byte 0 picks the server context (bit 0: TLS 1.3 only with OpenSSL's
 * defaults, or TLS 1.2 and up asking for an optional client certificate and selecting
 * ALPN from plexus/1, h2, http/1.1) and the framing (bit 1: the rest is the byte stream
 * as is; or a list of records, each a type byte (its low two bits: change_cipher_spec,
 * alert, handshake, application_data), a length byte and up to that many payload bytes,
 * written with a valid 5-byte record header, so mutations stay past the record layer).
 * The stream goes into the client end of a socketpair whose write side is then shut, so
 * every session ends: in an error, at the end of the stream, or after the handshake.
 *
 * The server's certificate (EC P-256, self-signed) is made at start-up with OpenSSL's
 * API in a temporary directory under PX_FUZZ_WORK_DIR, removed at exit.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "px_tls.h"

#define STEPS_MAX 64 /* handshake and read steps per input: each consumes input or ends */

static char dir[512], cert_path[600], key_path[600];
static char *alpn_ids[] = {"plexus/1", "h2", "http/1.1"};
static px_tls_conf confs[2];
static px_tls_ctx *ctxs[2];

static void die(const char *what)
{
    fprintf(stderr, "fuzz_tls: %s\n", what);
    abort();
}

static void remove_dir(void)
{
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
}

/* cert.pem and key.pem (mode 0600) for CN localhost, valid from an hour ago for a day. */
static void make_cert(void)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    if (!pk || !x)
        die("cannot make a key");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pk);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                               -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, pk, EVP_sha256()) <= 0)
        die("cannot sign the certificate");
    FILE *c = fopen(cert_path, "w");
    int kfd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *k = kfd >= 0 ? fdopen(kfd, "w") : NULL;
    if (!c || !k || PEM_write_X509(c, x) != 1 ||
        PEM_write_PrivateKey(k, pk, NULL, NULL, 0, NULL, NULL) != 1 || fclose(c) != 0 ||
        fclose(k) != 0)
        die("cannot write the certificate and key");
    X509_free(x);
    EVP_PKEY_free(pk);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN); /* the server answers into a socket nobody reads */
    mkdir(PX_FUZZ_WORK_DIR, 0755);
    snprintf(dir, sizeof dir, "%s/tls-XXXXXX", PX_FUZZ_WORK_DIR);
    if (!mkdtemp(dir))
        die("cannot make the work directory");
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    atexit(remove_dir);
    make_cert();
    for (int i = 0; i < 2; i++) {
        px_tls_conf *c = &confs[i];
        c->present = 1;
        c->cert = cert_path;
        c->key = key_path;
        c->min_version = i ? TLS1_2_VERSION : TLS1_3_VERSION;
        if (i) {
            c->ca = cert_path; /* a client certificate would have to be this one */
            c->verify_client = PX_TLS_VERIFY_OPTIONAL;
            c->alpn = alpn_ids;
            c->n_alpn = sizeof alpn_ids / sizeof alpn_ids[0];
        }
        px_err err = {0};
        if (px_tls_ctx_new(c, 1, i ? "fuzz.tls12" : "fuzz.tls13", &ctxs[i], &err) != PX_OK) {
            fprintf(stderr, "fuzz_tls: %s\n", err.msg);
            abort();
        }
    }
    return 0;
}

/* The records of the framed layout, each with a valid header, into out (room for
 * 5 + 255 bytes per 2 bytes of input). Returns the length. */
static size_t frame_records(const uint8_t *d, size_t n, uint8_t *out)
{
    static const uint8_t types[4] = {20, 21, 22, 23};
    size_t o = 0;
    for (size_t i = 0; i + 2 <= n;) {
        size_t len = d[i + 1];
        uint8_t type = types[d[i] & 3];
        i += 2;
        if (len > n - i)
            len = n - i;
        out[o++] = type;
        out[o++] = 3;
        out[o++] = 3; /* TLS 1.2 on the wire, as TLS 1.3 records say too */
        out[o++] = (uint8_t)(len >> 8);
        out[o++] = (uint8_t)len;
        memcpy(out + o, d + i, len);
        o += len;
        i += len;
    }
    return o;
}

/* Reads and drops what the server wrote, so its writes never stall. */
static void drain(int fd)
{
    char b[4096];
    while (read(fd, b, sizeof b) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair");
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    uint8_t *framed = NULL;
    if (data[0] & 2) {
        framed = malloc(n / 2 * 5 + n + 1);
        if (!framed)
            die("out of memory");
        n = frame_records(in, n, framed);
        in = framed;
    }
    /* Past the socket buffer the stream is cut short: one more way for it to end. */
    for (size_t off = 0; off < n;) {
        ssize_t w = write(sv[1], in + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    free(framed);
    shutdown(sv[1], SHUT_WR);

    px_err err = {0};
    px_tls_conn *tc = px_tls_conn_new(ctxs[data[0] & 1], sv[0], 1, "127.0.0.1:1", &err);
    if (!tc)
        die(err.msg);
    int r = PX_TLS_WANT_READ;
    for (int step = 0; step < STEPS_MAX; step++) {
        r = px_tls_handshake(tc);
        if (r == PX_TLS_WANT_WRITE)
            drain(sv[1]);
        else if (r != PX_TLS_WANT_READ)
            break;
    }
    if (r == PX_TLS_ERROR && px_tls_error(tc)[0] == '\0')
        die("a failed handshake without a reason");
    if (r == PX_TLS_DONE) {
        /* Not reached by random bytes (the keys are fresh each run), kept for a
         * corpus that one day does: the record layer after a handshake. */
        (void)px_tls_alpn(tc), (void)px_tls_version(tc), (void)px_tls_resumed(tc);
        (void)px_tls_peer_subject(tc), (void)px_tls_peer_san(tc, 0);
        char buf[4096];
        for (int step = 0; step < STEPS_MAX; step++) {
            ssize_t got = px_tls_read(tc, buf, sizeof buf);
            if (got > 0)
                got = px_tls_write(tc, buf, (size_t)got);
            if (got <= 0 && got != PX_TLS_WANT_WRITE && !px_tls_pending(tc))
                break;
            drain(sv[1]);
        }
        px_tls_shutdown(tc);
    }
    px_tls_conn_free(tc);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
