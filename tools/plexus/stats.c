/* plexus stats HOST:PORT: the per-method table of a Plexus admin listener's /metrics,
 * rates from two scrapes --interval apart. libcurl fetches; the library reads. */
#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void px_cli_stats_help(void)
{
    printf("Usage: plexus stats [OPTION]... HOST:PORT\n"
           "Print the calls of every method a Plexus process serves or calls, from the\n"
           "admin listener at HOST:PORT (its config's admin: key): calls, errors (calls\n"
           "whose status is not OK), calls per second, and the 50th, 90th and 99th\n"
           "percentile of their latency. It reads /metrics twice, --interval apart: the\n"
           "rate and the percentiles are over the calls between the two (percentiles over\n"
           "all calls when there were none). Counts need the metrics filter on the server.\n"
           "\n"
           "  -i, --interval=DURATION  time between the two reads: 500ms, 5s, ...\n"
           "                           (default 1s; 0: read once, no rate)\n"
           "  -t, --timeout=DURATION   each read's budget (default 5s)\n"
           "  -h, --help               print this help and exit\n"
           "  -V, --version            print the version and exit\n"
           "\n"
           "Exit status: 0 printed; 1 HOST:PORT cannot be read or is not an admin\n"
           "listener; 2 bad arguments.\n");
}

typedef struct px__body {
    char *p;
    size_t n;
} px__body;

static size_t px__append(char *data, size_t size, size_t nmemb, void *ud)
{
    px__body *b = ud;
    size_t n = size * nmemb;
    /* An admin's metrics are kilobytes; 64 MiB is surely something else. */
    if (b->n + n > 64u * 1024 * 1024)
        return 0;
    char *p = realloc(b->p, b->n + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->n, data, n);
    b->p = p;
    b->n += n;
    p[b->n] = '\0';
    return n;
}

/* GET http://addr/metrics into *out; 0, or -1 after saying why on stderr. */
static int px__scrape(const char *addr, int64_t timeout_us, px__body *out)
{
    char url[600];
    snprintf(url, sizeof url, "http://%s/metrics", addr);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        fprintf(stderr, "plexus: stats: cannot start libcurl\n");
        return -1;
    }
    char why[CURL_ERROR_SIZE] = "";
    *out = (px__body){0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, px__append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_us / 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* an admin port is local: no proxy from env */
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    const char *type = NULL;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
    int ok = 0;
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
        rc == CURLE_COULDNT_RESOLVE_HOST)
        fprintf(stderr, "plexus: stats: cannot read %s: %s\n", url,
                why[0] ? why : curl_easy_strerror(rc));
    else if (rc != CURLE_OK)
        fprintf(stderr, "plexus: stats: %s is not a Plexus admin listener: it does not "
                        "answer HTTP (%s)\n", addr, why[0] ? why : curl_easy_strerror(rc));
    else if (code != 200 || type == NULL || strncmp(type, "text/plain; version=0.0.4", 25) != 0)
        fprintf(stderr, "plexus: stats: %s is not a Plexus admin listener: GET /metrics "
                        "answered %ld%s%s, not 200 with Prometheus text\n",
                addr, code, type ? " " : "", type ? type : "");
    else
        ok = 1;
    curl_easy_cleanup(c);
    if (!ok) {
        free(out->p);
        *out = (px__body){0};
        return -1;
    }
    if (out->p == NULL && (out->p = strdup("")) == NULL)
        return -1;
    return 0;
}

int px_cli_stats(int argc, char **argv)
{
    static const struct option longs[] = {
        {"interval", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        PX_CLI_STD_LONGS,
        {NULL, 0, NULL, 0},
    };
    int64_t interval_us = 1000000, timeout_us = 5000000;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":i:t:hV", longs, NULL)) != -1) {
        if (opt != 'i' && opt != 't')
            return px_cli_std_option("stats", opt, argv, px_cli_stats_help);
        int64_t *to = opt == 'i' ? &interval_us : &timeout_us;
        const char *why = px_parse_duration(optarg, to);
        if (why != NULL || *to < 0 || (opt == 't' && *to == 0))
            return px_cli_bad_usage("stats: --%s: '%s' %s", opt == 'i' ? "interval" : "timeout",
                                    optarg, why ? why : "must be longer than 0");
    }
    if (optind >= argc)
        return px_cli_bad_usage("stats: missing HOST:PORT (an admin listener's address)");
    const char *addr = argv[optind++];
    if (optind < argc)
        return px_cli_bad_usage("stats: unexpected argument '%s'", argv[optind]);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        fprintf(stderr, "plexus: stats: cannot start libcurl\n");
        return PX_CLI_FAIL;
    }
    px__body first = {0}, second = {0};
    int rc = PX_CLI_FAIL;
    if (px__scrape(addr, timeout_us, &first) == 0) {
        if (interval_us > 0) {
            struct timespec ts = {interval_us / 1000000, (interval_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        if (interval_us == 0 || px__scrape(addr, timeout_us, &second) == 0) {
            px_err err = {0};
            size_t len = 0;
            char *table = interval_us > 0
                              ? px_admin_method_table(second.p, second.n, first.p, first.n,
                                                      (double)interval_us / 1e6, &len, &err)
                              : px_admin_method_table(first.p, first.n, NULL, 0, 0, &len, &err);
            if (table == NULL) {
                fprintf(stderr, "plexus: stats: %s is not a Plexus admin listener: /metrics: %s\n",
                        addr, err.msg);
            } else {
                fwrite(table, 1, len, stdout);
                free(table);
                rc = PX_CLI_OK;
            }
        }
    }
    free(first.p);
    free(second.p);
    curl_global_cleanup();
    return rc;
}
