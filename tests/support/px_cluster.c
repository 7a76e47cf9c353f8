/* Test helper: a cluster of calc servers with a client, a health watch and a load. */
#include "px_cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int px_cluster_up(px_cluster *c, const px_cluster_spec *spec)
{
    memset(c, 0, sizeof *c);
    if (spec->n < 1 || spec->n > PX_LOAD_MAX_SRV)
        return -1;
    for (int i = 0; i < spec->n; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        const char *yaml = spec->server_yaml[i]  ? spec->server_yaml[i]
                           : spec->default_yaml ? spec->default_yaml
                                                : PX_CALC_SERVER_YAML;
        if (px_proc_start_on(&c->srv[i], spec->host[i] ? spec->host[i] : "127.0.0.1", id,
                             yaml) != 0)
            return -1;
        c->n++;
    }
    snprintf(c->conf, sizeof c->conf, "%s/client.yaml", c->srv[0].dir);
    px_err err;
    px_err_clear(&err);
    if (px_write_client_conf_procs(c->conf, c->srv, c->n, spec->upstream_yaml) != 0 ||
        px_config_load(c->conf, &c->cfg, &err) != PX_OK ||
        px_client_new(c->cfg, "calc", &c->cl, &err) != PX_OK) {
        fprintf(stderr, "px_cluster_up: client: %s\n", err.msg);
        return -1;
    }
    px_watch_init(&c->w, c->cl);
    return px_load_init(&c->load, c->cl, spec->calls > 0 ? spec->calls : 1);
}

int px_cluster_down(px_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->srv[i].pid > 0)
            kill(c->srv[i].pid, SIGCONT);
    px_client_free(c->cl);
    c->cl = NULL;
    px_config_free(c->cfg);
    c->cfg = NULL;
    if (c->conf[0])
        unlink(c->conf);
    int rc = 0;
    for (int i = 0; i < c->n; i++)
        if (c->srv[i].pid > 0 && px_proc_stop(&c->srv[i]) != 0)
            rc = -1;
    px_load_free(&c->load);
    return rc;
}

int px_cluster_teardown(void **state)
{
    px_cluster *c = *state;
    int rc = c ? px_cluster_down(c) : 0;
    free(c);
    return rc;
}
