/* Test helper: run protoc --decode / --encode over calc.proto, to check bytes against protobuf itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "px_test_protoc.h"

int px_test_have_protoc(void)
{
    return system("protoc --version > /dev/null 2>&1") == 0;
}

int px_test_protoc(const char *mode, const char *type, const uint8_t *in, size_t len, uint8_t **out,
                   size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* The source tree: from ctest's environment, else from where this file was compiled. */
    char here[2048];
    const char *src = getenv("PX_SOURCE_DIR");
    if (src == NULL) {
        static const char tail[] = "/tests/support/px_test_protoc.c";
        size_t n = strlen(__FILE__);
        if (n <= strlen(tail) || n >= sizeof here || strcmp(__FILE__ + n - strlen(tail), tail) != 0) {
            fprintf(stderr, "px_test_protoc: PX_SOURCE_DIR is not set: run through ctest\n");
            return -1;
        }
        memcpy(here, __FILE__, n - strlen(tail));
        here[n - strlen(tail)] = '\0';
        src = here;
    }
    /* stdin from a file: a pipe both ways could deadlock on large messages. */
    char in_path[] = "/tmp/px_test_protoc_XXXXXX";
    int fd = mkstemp(in_path);
    if (fd < 0) {
        perror("px_test_protoc: mkstemp");
        return -1;
    }
    int wrote = len == 0 || write(fd, in, len) == (ssize_t)len;
    close(fd);
    if (!wrote) {
        perror("px_test_protoc: write");
        unlink(in_path);
        return -1;
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "protoc %s=%s -I%s/plugins/calc %s/plugins/calc/calc.proto < %s", mode, type,
             src, src, in_path);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        perror("px_test_protoc: popen");
        unlink(in_path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2 + 1);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int status = pclose(p);
    unlink(in_path);
    if (buf == NULL) {
        fprintf(stderr, "px_test_protoc: out of memory reading protoc's output\n");
        return -1;
    }
    if (status == -1 || !WIFEXITED(status)) {
        fprintf(stderr, "px_test_protoc: '%s' did not exit normally\n", cmd);
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return WEXITSTATUS(status);
}
