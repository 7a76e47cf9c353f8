/* Writes the generated seed corpora: every calc.EchoMsg test sample in one codec, a set
 * of frame streams, or TLS ClientHellos. `fuzz_seeds codec NAME DIR` / `fuzz_seeds frame
 * DIR` / `fuzz_seeds reflect DIR` / `fuzz_seeds tls DIR`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/ssl.h>

#include "calc.pb-c.h"
#include "fuzz_load.h"
#include "px_frame.h"
#include "px_reflect.h"
#include "px_reflection.pb-c.h"
#include "px_test_calc.h"

static void put(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static int codec_seeds(const char *codec, const char *dir)
{
    void *state;
    const px_codec_ops *ops = px_fuzz_load_codec(codec, &state, NULL);
    size_t n = px_test_echo_sample_count();
    for (size_t i = 0; i <= n; i++) {
        Calc__EchoMsg m;
        if (i < n)
            px_test_echo_sample(i, &m);
        else
            px_test_echo_deep(12, &m); /* nesting, below every codec's depth limit */
        px_buf b = {0};
        px_err err;
        if (ops->encode(state, &m.base, &b, &err) != PX_OK) {
            fprintf(stderr, "fuzz_seeds: %s cannot encode sample %zu: %s\n", codec, i, err.msg);
            return 1;
        }
        char name[32];
        snprintf(name, sizeof name, "sample-%02zu", i);
        put(dir, name, b.data, b.len);
        px_buf_free(&b);
    }
    return 0;
}

/* fuzz_frame input: max_meta selector, max_frame selector, 8 split-seed bytes, stream. */
static void frame_seed(const char *dir, const char *name, uint8_t meta_sel, uint8_t body_sel,
                       const px_buf *stream)
{
    px_buf b = {0};
    uint8_t prefix[10] = {meta_sel, body_sel, 0x5a, 0x11, 0x93, 0x27, 0xc4, 0x08, 0x71, 0xee};
    px_buf_append(&b, prefix, sizeof prefix);
    px_buf_append(&b, stream->data, stream->len);
    put(dir, name, b.data, b.len);
    px_buf_free(&b);
}

static int frame_seeds(const char *dir)
{
    static const uint8_t add[] = {0x08, 0x14, 0x10, 0x16}; /* AddRequest {a: 20, b: 22} */
    static const uint8_t meta[] = "trace=abc";
    const px_frame hello = {.type = PX_FRAME_HELLO, .body = (const uint8_t *)"protobuf", .body_len = 8};
    const px_frame req = {.type = PX_FRAME_REQUEST, .id = 7, .deadline_ms = 250,
                          .method = (const uint8_t *)"calc.Calculator/Add", .method_len = 19,
                          .meta = meta, .meta_len = sizeof meta - 1, .body = add, .body_len = 4};
    const px_frame ping = {.type = PX_FRAME_PING, .id = 3};
    const px_frame cancel = {.type = PX_FRAME_CANCEL, .id = 7};
    const px_frame err = {.type = PX_FRAME_ERROR, .status = PX_INTERNAL, .id = 9,
                          .body = (const uint8_t *)"boom", .body_len = 4};
    px_buf s = {0};
    px_frame_append(&s, &hello);
    px_frame_append(&s, &req);
    px_frame_append(&s, &ping);
    px_frame_append(&s, &cancel);
    frame_seed(dir, "session", 3, 2, &s);
    frame_seed(dir, "session-tight-limits", 1, 1, &s); /* metadata over max_meta 8 */
    size_t whole = s.len;
    s.len = whole - 7; /* cut inside the last frame */
    frame_seed(dir, "truncated", 3, 3, &s);
    s.len = 0;
    px_frame_append(&s, &err);
    s.data[2] = 2; /* a version this side does not speak */
    frame_seed(dir, "bad-version", 3, 3, &s);
    s.data[2] = PX_FRAME_VERSION;
    s.data[3] = 42; /* unknown type */
    frame_seed(dir, "bad-type", 3, 3, &s);
    s.len = 0;
    px_frame_append(&s, &req);
    s.data[28] = 0x7f; /* body length far past the data */
    frame_seed(dir, "body-past-data", 3, 3, &s);
    /* What a client reads from a server (px_nc_classify): the HELLO answer, a reply with
     * metadata, refusals, an unknown status, a connection ERROR, a refusing GOAWAY. */
    const px_frame answers[] = {
        hello,
        {.type = PX_FRAME_RESPONSE, .id = 7, .meta = meta, .meta_len = sizeof meta - 1,
         .body = add, .body_len = 2},
        {.type = PX_FRAME_ERROR, .id = 8, .status = PX_UNAVAILABLE,
         .flags = PX_FRAME_F_NOT_EXECUTED, .body = (const uint8_t *)"draining", .body_len = 8},
        {.type = PX_FRAME_ERROR, .id = 9, .status = 99, .body = (const uint8_t *)"?", .body_len = 1},
        {.type = PX_FRAME_PONG, .id = 3},
        {.type = PX_FRAME_ERROR, .status = PX_UNIMPLEMENTED, .body = (const uint8_t *)"codec",
         .body_len = 5},
        {.type = PX_FRAME_GOAWAY, .status = PX_RESOURCE_EXHAUSTED,
         .body = (const uint8_t *)"too many connections", .body_len = 20},
    };
    s.len = 0;
    for (size_t i = 0; i < sizeof answers / sizeof answers[0]; i++)
        px_frame_append(&s, &answers[i]);
    frame_seed(dir, "server-answers", 3, 3, &s);
    px_buf_free(&s);
    return 0;
}

/* fuzz_reflect's seed: what the reflection service sends for calc.Calculator and for
 * itself (a FileDescriptorsReply). */
static int reflect_seeds(const char *dir)
{
    const ProtobufCServiceDescriptor *sds[] = {&calc__calculator__descriptor,
                                               &plexus__reflection__v1__reflection__descriptor};
    const char *names[] = {"calc", "reflection"};
    for (int i = 0; i < 2; i++) {
        ProtobufCBinaryData *files = NULL;
        size_t n = 0;
        px_err err;
        if (px__reflect_files(sds[i], &files, &n, &err) != PX_OK) {
            fprintf(stderr, "fuzz_seeds: %s\n", err.msg);
            return 1;
        }
        Plexus__Reflection__V1__FileDescriptorsReply r =
            PLEXUS__REFLECTION__V1__FILE_DESCRIPTORS_REPLY__INIT;
        r.n_file = n;
        r.file = files;
        size_t len = protobuf_c_message_get_packed_size(&r.base);
        uint8_t *buf = malloc(len);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *fp = buf ? fopen(path, "wb") : NULL;
        if (fp == NULL || fwrite(buf, 1, protobuf_c_message_pack(&r.base, buf), fp) != len) {
            fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
            return 1;
        }
        fclose(fp);
        free(buf);
        px__reflect_files_free(files, n);
    }
    return 0;
}

/* The first flight of an OpenSSL client (its ClientHello records), made into memory:
 * max_version 0 for the newest, alpn in wire form or NULL, sni or NULL. Returns the
 * length written into out. */
static size_t client_hello(int max_version, const unsigned char *alpn, unsigned alpn_len,
                           const char *sni, uint8_t *out, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    if (!ssl || !rb || !wb) {
        fprintf(stderr, "fuzz_seeds: OpenSSL: out of memory\n");
        exit(1);
    }
    if (max_version)
        SSL_set_max_proto_version(ssl, max_version);
    if (alpn)
        SSL_set_alpn_protos(ssl, alpn, alpn_len);
    if (sni)
        SSL_set_tlsext_host_name(ssl, sni);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl); /* writes the ClientHello, then wants the server's answer */
    int n = BIO_read(wb, out, (int)cap);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (n <= 0) {
        fprintf(stderr, "fuzz_seeds: OpenSSL wrote no ClientHello\n");
        exit(1);
    }
    return (size_t)n;
}

/* fuzz_tls's inputs (its layout is in fuzz_tls.c): ClientHellos as they come, in the
 * record-list form, followed by other records, and a peer that speaks no TLS. */
static int tls_seeds(const char *dir)
{
    static const unsigned char alpn[] = "\x08plexus/1\x02h2";
    uint8_t hello[4096], seed[8192];
    size_t n;

    seed[0] = 0; /* TLS 1.3 server, raw stream */
    n = client_hello(0, NULL, 0, NULL, seed + 1, sizeof seed - 1);
    put(dir, "hello-tls13", seed, n + 1);
    /* ... then a change_cipher_spec, an alert and application data nobody can read */
    static const uint8_t after[] = {20, 3, 3, 0, 1, 1, 21, 3, 3, 0, 2, 1, 0,
                                    23, 3, 3, 0, 4, 'a', 'b', 'c', 'd'};
    memcpy(seed + 1 + n, after, sizeof after);
    put(dir, "hello-tls13-then-records", seed, n + 1 + sizeof after);

    seed[0] = 1; /* TLS 1.2 and up, client certificate asked, ALPN */
    n = client_hello(0, alpn, sizeof alpn - 1, "localhost", seed + 1, sizeof seed - 1);
    put(dir, "hello-tls13-alpn-sni", seed, n + 1);
    n = client_hello(TLS1_2_VERSION, alpn, sizeof alpn - 1, NULL, seed + 1, sizeof seed - 1);
    put(dir, "hello-tls12-alpn", seed, n + 1);

    /* The record-list form: the handshake payload of the records above, cut into
     * pieces of up to 255 bytes, each its own handshake record. */
    n = client_hello(0, alpn, sizeof alpn - 1, "localhost", hello, sizeof hello);
    size_t o = 0;
    seed[o++] = 3;
    for (size_t i = 0; i + 5 <= n;) {
        size_t len = (size_t)hello[i + 3] << 8 | hello[i + 4];
        i += 5;
        for (size_t k = 0; k < len && i + k < n; k += 255) {
            size_t piece = len - k < 255 ? len - k : 255;
            seed[o++] = 2; /* handshake */
            seed[o++] = (uint8_t)piece;
            memcpy(seed + o, hello + i + k, piece);
            o += piece;
        }
        i += len;
    }
    put(dir, "hello-records", seed, o);

    static const char plain[] = "\0POST /calc.Calculator/Add HTTP/1.1\r\nHost: x\r\n\r\n";
    put(dir, "plaintext-http", plain, sizeof plain - 1);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "tls") == 0)
        return tls_seeds(argv[2]);
    if (argc == 3 && strcmp(argv[1], "reflect") == 0)
        return reflect_seeds(argv[2]);
    if (argc == 4 && strcmp(argv[1], "codec") == 0)
        return codec_seeds(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "frame") == 0)
        return frame_seeds(argv[2]);
    fprintf(stderr, "usage: fuzz_seeds codec NAME DIR | fuzz_seeds frame DIR | "
                    "fuzz_seeds reflect DIR | fuzz_seeds tls DIR\n");
    return 2;
}
