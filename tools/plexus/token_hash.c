/* plexus token-hash PRINCIPAL [GROUPS]: the auth_token file line for a token read from
 * stdin, or for a random one made here (--generate). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <openssl/rand.h>

#include "auth_token.h"
#include "cli.h"

/* 32 random bytes: 256 bits, far past what guessing could reach. */
#define PX_TOKEN_RANDOM 32

void px_cli_token_hash_help(void)
{
    printf("Usage: plexus token-hash [OPTION]... PRINCIPAL [GROUPS]\n"
           "Print the line of an auth_token token file (the server's 'tokens') for a\n"
           "token: PRINCIPAL GROUPS SALT_HEX SHA256_HEX, with a fresh random salt. The\n"
           "token is read from standard input (one line of 16 to 4096 bytes; blanks\n"
           "around it dropped), or made here from %d random bytes with --generate and\n"
           "printed once on stderr.\n"
           "GROUPS is a comma-separated list (none: omit it). Only the hash is kept: a\n"
           "lost token cannot be read back, make a new one.\n"
           "\n"
           "  -g, --generate  make a random token (64 hex digits), print it on stderr\n"
           "  -h, --help      print this help and exit\n"
           "  -V, --version   print the version and exit\n"
           "\n"
           "Exit status: 0 the line was printed; 1 libcrypto failed; 2 bad arguments or a\n"
           "bad token.\n",
           PX_TOKEN_RANDOM);
}

/* The token from stdin into buf: PX_CLI_OK, or PX_CLI_USAGE after saying why. */
static int px__read_token(char *buf, size_t cap, const char **tok, size_t *len)
{
    size_t n = fread(buf, 1, cap, stdin);
    if (n == cap)
        return px_cli_bad_usage("token-hash: the token on stdin is longer than %d bytes",
                                AT_TOKEN_MAX);
    *tok = buf;
    *len = n;
    const char *why = at_token_clean(tok, len);
    if (why)
        return px_cli_bad_usage("token-hash: stdin: %s", why);
    return PX_CLI_OK;
}

int px_cli_token_hash(int argc, char **argv)
{
    static const struct option longs[] = {
        {"generate", no_argument, NULL, 'g'},
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    int generate = 0, opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":ghV", longs, NULL)) != -1) {
        if (opt == 'g')
            generate = 1;
        else
            return px_cli_std_option("token-hash", opt, argv, px_cli_token_hash_help);
    }
    if (optind >= argc)
        return px_cli_bad_usage("token-hash: missing PRINCIPAL");
    if (argc - optind > 2)
        return px_cli_bad_usage("token-hash: unexpected argument '%s'", argv[optind + 2]);
    const char *principal = argv[optind], *groups = optind + 1 < argc ? argv[optind + 1] : NULL;

    char buf[AT_TOKEN_MAX + 2];
    const char *tok;
    size_t len;
    if (generate) {
        unsigned char raw[PX_TOKEN_RANDOM];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            fprintf(stderr, "plexus: token-hash: libcrypto could not make random bytes\n");
            return PX_CLI_FAIL;
        }
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(buf + 2 * i, 3, "%02x", raw[i]);
        tok = buf;
        len = 2 * sizeof raw;
    } else {
        int rc = px__read_token(buf, sizeof buf, &tok, &len);
        if (rc != PX_CLI_OK)
            return rc;
    }
    char line[AT_LINE_MAX + 1];
    px_err err;
    px_err_clear(&err);
    px_status st = at_line(line, principal, groups, tok, len, &err);
    if (st != PX_OK) {
        if (st == PX_INVALID_ARGUMENT)
            return px_cli_bad_usage("token-hash: %s", err.msg);
        fprintf(stderr, "plexus: token-hash: %s\n", err.msg);
        return PX_CLI_FAIL;
    }
    /* The token first, so the line on stdout can go straight into the file. */
    if (generate)
        fprintf(stderr, "%.*s\n", (int)len, tok);
    printf("%s\n", line);
    return PX_CLI_OK;
}
