/* plexus-demo: calls the calc service through every client API and checks each answer. */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "demo.h"

void demo_expect(demo *d, int ok, const char *fmt, ...)
{
    d->checks++;
    if (ok) {
        printf("   ok\n");
        return;
    }
    d->failures++;
    va_list ap;
    va_start(ap, fmt);
    printf("   UNEXPECTED: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

int64_t demo_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: plexus-demo -c CLIENT.yaml\n"
                "  calls calc.Calculator on the upstream of CLIENT.yaml (conf/demo-client.yaml:\n"
                "  three plexusd started by tools/run-demo.sh); exits 0 when every answer is\n"
                "  the expected one\n");
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:h")) != -1) {
        switch (opt) {
        case 'c': file = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (file == NULL || optind != argc) {
        fprintf(stderr, "plexus-demo: %s\n",
                file == NULL ? "missing -c CLIENT.yaml" : "unexpected arguments after -c FILE");
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN); /* a server going away is a status, not a signal */
    px_err err;
    px_err_clear(&err);
    px_config *cfg = NULL;
    if (px_config_load(file, &cfg, &err) != PX_OK) {
        fprintf(stderr, "plexus-demo: %s\n", err.msg);
        return 1;
    }
    demo d = {0};
    if (px_client_new(cfg, NULL, &d.client, &err) != PX_OK) {
        fprintf(stderr, "plexus-demo: %s\n", err.msg);
        px_config_free(cfg);
        return 1;
    }
    demo_sync(&d);
    demo_async(&d);
    px_client_stats stats;
    px_client_stats_get(d.client, &stats);
    px_client_free(d.client);
    px_config_free(cfg);
    printf("\nclient: %llu calls started, %llu completed, %llu late replies dropped\n",
           (unsigned long long)stats.calls_started, (unsigned long long)stats.calls_completed,
           (unsigned long long)stats.late_responses);
    printf("%d of %d expectations held%s\n", d.checks - d.failures, d.checks,
           d.failures ? "" : ": demo passed");
    return d.failures == 0 ? 0 : 1;
}
