/* Test helper: a naming-zookeeper client and its load steps (px_zk_client.h). */
#include "px_zk_client.h"

#include <stdio.h>
#include <stdlib.h>

#include "px_client_int.h"
#include "px_time.h"

int px_zk_client_new(const char *conf_path, const char *connect, const char *naming_extra,
                     const char *upstream_yaml, px_config **cfg, px_client **cl)
{
    FILE *c = fopen(conf_path, "w");
    if (c == NULL) {
        perror(conf_path);
        return -1;
    }
    fprintf(c,
            "modules:\n  path: [%s]\nclient:\n  descriptors: [calc]\n  upstreams:\n    calc:\n"
            "      naming: { module: zookeeper, servers: '%s', service: calc,%s\n"
            "                session_timeout: 6s, connect_timeout: 20s }\n%s",
            getenv("PX_MODULE_DIR"), connect, naming_extra, upstream_yaml);
    fclose(c);
    px_err err;
    px_err_clear(&err);
    int64_t t0 = px_mono_us();
    if (px_config_load(conf_path, cfg, &err) != PX_OK ||
        px_client_new(*cfg, "calc", cl, &err) != PX_OK) {
        fprintf(stderr, "client: %s\n", err.msg);
        return -1;
    }
    printf("  px_client_new with naming zookeeper: %lld ms\n",
           (long long)(px_mono_us() - t0) / 1000);
    return 0;
}

int px_load_until_live(px_load *l, uint32_t want, int64_t *at_us)
{
    for (int k = 0; k < 30000; k++) {
        if (px_upstream_live_count(l->cl->up) == want) {
            *at_us = px_mono_us();
            return l->issued;
        }
        if (px_load_run(l, 1, 1000, NULL, NULL) != 0)
            return -1;
    }
    fprintf(stderr, "the client's list never reached %u endpoints (it has %u)\n", want,
            px_upstream_live_count(l->cl->up));
    return -1;
}

int px_load_second(px_load *l, void (*tick)(void *), void *arg)
{
    for (int k = 0; k < 10; k++)
        if (px_load_run(l, 100, 100 * 1000, tick, arg) != 0)
            return -1;
    return px_load_drain(l, 10 * 1000000, tick, arg) == 0 ? l->issued : -1;
}
