/* plexus-rpc-handshake PORT --ca CA.pem [--count N] [--resume]: TLS handshakes per second
 * against a TLS plexusd on 127.0.0.1, one connection after another, with OpenSSL directly
 * as the client (so nothing of Plexus's client is measured). Without --resume every
 * handshake is a full one (no session offered); with it, one untimed full handshake
 * first, then every timed connection offers the ticket the connection before it was
 * given (OpenSSL's client uses a TLS 1.3 session once, as RFC 8446 advises, and so does
 * Plexus's client) and counts as resumed only if SSL_session_reused says so. A handshake
 * counts once the
 * server's first session ticket has arrived: OpenSSL's server sends it right after it
 * has checked the client's Finished, so the server's side of the handshake is done too.
 * Prints one JSON line: {"mode":..,"handshakes":N,"per_s":..,"resumed":..,
 * "client_cpu_us":.. per handshake}. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define PX__TICKET_WAIT_MS 2000 /* a server that sends none is a failure, not a hang */

static SSL_SESSION *px__ticket; /* the last session the server gave (a reference) */
static int px__got_ticket;

/* The client context's new-session callback: TLS 1.3 tickets arrive after the
 * handshake, while the client reads. Keeps the reference (returns 1). */
static int px__on_ticket(SSL *ssl, SSL_SESSION *s)
{
    (void)ssl;
    SSL_SESSION_free(px__ticket);
    px__ticket = s;
    px__got_ticket = 1;
    return 1;
}

static double px__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double px__cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void px__ssl_fail(const char *what)
{
    char buf[256] = "";
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    fprintf(stderr, "plexus-rpc-handshake: %s: %s\n", what, buf[0] ? buf : strerror(errno));
    ERR_clear_error();
}

/* One connection: TCP connect, the handshake (offering sess when not NULL), then reads
 * until the server's first ticket. 1 and *reused, or 0 after saying why. */
static int px__one(SSL_CTX *ctx, const struct sockaddr_in *sa, SSL_SESSION *sess, int *reused)
{
    int ok = 0, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        fprintf(stderr, "plexus-rpc-handshake: connect: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL *ssl = SSL_new(ctx);
    if (!ssl || SSL_set_fd(ssl, fd) != 1 ||
        !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1") ||
        (sess && SSL_set_session(ssl, sess) != 1)) {
        px__ssl_fail("SSL_new");
        goto out;
    }
    if (SSL_connect(ssl) != 1) {
        px__ssl_fail("handshake");
        goto out;
    }
    *reused = SSL_session_reused(ssl);
    /* Non-blocking from here: a ticket is not application data, so a blocking
     * SSL_read would wait past it for bytes that never come. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    px__got_ticket = 0;
    double until = px__now_s() + PX__TICKET_WAIT_MS / 1e3;
    while (!px__got_ticket) {
        char b[512];
        size_t n;
        if (SSL_read_ex(ssl, b, sizeof b, &n) == 1)
            continue; /* application data (none expected): not the ticket */
        int e = SSL_get_error(ssl, 0);
        if (px__got_ticket)
            break;
        double left = until - px__now_s();
        if (e != SSL_ERROR_WANT_READ || left <= 0) {
            px__ssl_fail(left <= 0 ? "no session ticket from the server" : "reading the ticket");
            goto out;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, (int)(left * 1e3) + 1);
    }
    ok = 1;
    SSL_shutdown(ssl); /* close_notify: the server ends the connection without an error */
out:
    SSL_free(ssl);
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    const char *ca = NULL;
    long count = 1000, port = 0;
    int resume = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc)
            ca = argv[++i];
        else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--resume") == 0)
            resume = 1;
        else if (port == 0)
            port = strtol(argv[i], NULL, 10);
        else
            port = -1;
    }
    if (!ca || port <= 0 || port > 65535 || count <= 0) {
        fprintf(stderr, "usage: plexus-rpc-handshake PORT --ca CA.pem [--count N] [--resume]\n");
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        px__ssl_fail(ca);
        return 1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, px__on_ticket);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);

    int reused = 0;
    if (resume && !px__one(ctx, &sa, NULL, &reused)) /* the first ticket */
        return 1;
    long done = 0, resumed = 0;
    double c0 = px__cpu_s(), t0 = px__now_s();
    for (long i = 0; i < count; i++) {
        SSL_SESSION *offer = resume ? px__ticket : NULL;
        px__ticket = NULL; /* the connection's own ticket replaces it */
        int ok = px__one(ctx, &sa, offer, &reused);
        SSL_SESSION_free(offer);
        if (!ok)
            break;
        done++;
        resumed += reused;
    }
    double secs = px__now_s() - t0, cpu = px__cpu_s() - c0;
    printf("{\"mode\":\"%s\",\"handshakes\":%ld,\"seconds\":%.3f,\"per_s\":%.1f,\"resumed\":%ld,"
           "\"client_cpu_us\":%.1f}\n",
           resume ? "resumed" : "full", done, secs, done / (secs > 0 ? secs : 1e-9), resumed,
           done ? cpu * 1e6 / (double)done : 0.0);
    SSL_SESSION_free(px__ticket);
    SSL_CTX_free(ctx);
    /* Wrong if a "resumed" run did not resume or a full one did. */
    return done == count && resumed == (resume ? count : 0) ? 0 : 1;
}
