/* /status: a page for a person: build, config, readiness, the calls of every method
 * (rates over the last seconds, latency percentiles) and the upstreams' endpoints. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "plexus/plexus.h"
#include "px_admin_int.h"
#include "px_admin_table.h"
#include "px_time.h"

static void px__header(px_admin *adm, FILE *out)
{
    char why[96], when[64] = "?";
    int ready = px_admin_is_ready(adm, why, sizeof why);
    pthread_mutex_lock(&adm->lock);
    time_t at = (time_t)adm->config_loaded_at;
    struct tm tm;
    if (gmtime_r(&at, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    fprintf(out,
            "Plexus status\n\n"
            "build:    plexus %s, module ABI %d.%d\n"
            "config:   %s, loaded %s\n",
            PLEXUS_VERSION, PX_ABI_MAJOR, PX_ABI_MINOR, adm->config_file, when);
    fprintf(out, "admin:    http://%s, up %llds\n", adm->address,
            (long long)((px_mono_us() - adm->started_us) / 1000000));
    pthread_mutex_unlock(&adm->lock);
    fprintf(out, "ready:    %s%s\n", ready ? "yes" : "no: ", ready ? "" : why);
}

void px_admin_status_write(px_admin *adm, FILE *out)
{
    px__header(adm, out);
    size_t len = 0;
    char *now = px_admin_metrics(adm, &len);
    int64_t now_us = px_mono_us();
    if (now == NULL) {
        fprintf(out, "\nmetrics unavailable\n");
        return;
    }
    px_admin_sample old = {0};
    int have_old = px_admin_oldest_sample(adm, &old) == 0 && now_us - old.at_us >= 1000000;
    double secs = have_old ? (double)(now_us - old.at_us) / 1e6 : 0;
    if (have_old)
        fprintf(out, "\ncalls (rates over the last %.0f s; percentiles over them when there "
                     "were calls, else since start)\n", secs);
    else
        fprintf(out, "\ncalls (no rates yet: the first sample is taken at start, rates show "
                     "a second later; percentiles since start)\n");
    px_err err = {0};
    if (px_admin_table_write(out, now, len, have_old ? old.text : NULL, old.len, secs, &err) !=
        PX_OK)
        fprintf(out, "cannot read the metrics: %s\n", err.msg);
    fprintf(out, "\nupstreams\n");
    if (px_admin_upstreams_write(out, now, len, &err) != PX_OK)
        fprintf(out, "cannot read the metrics: %s\n", err.msg);
    free(now);
    free(old.text);
    if (adm->hooks.status != NULL) {
        char extra[4096] = "";
        pthread_mutex_lock(&adm->hook_lock);
        adm->hooks.status(adm->ud, extra, sizeof extra);
        pthread_mutex_unlock(&adm->hook_lock);
        if (extra[0])
            fprintf(out, "\n%s%s", extra, extra[strlen(extra) - 1] == '\n' ? "" : "\n");
    }
}
