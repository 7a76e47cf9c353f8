/* plexus-rpc-certs DIR: the bench's TLS certificates (ca.pem, server.pem/.key for
 * 127.0.0.1 and localhost, ...), made with the openssl CLI by the helper the tests use
 * (tests/support/px_certs.c), so the bench and the tests share one way to make them. */
#include <stdio.h>
#include "px_certs.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: plexus-rpc-certs DIR\n");
        return 2;
    }
    px_err err = {0};
    if (px_certs_make(argv[1], &err) != PX_OK) {
        fprintf(stderr, "plexus-rpc-certs: %s\n", err.msg);
        return 1;
    }
    return 0;
}
