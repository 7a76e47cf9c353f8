/* plexus_build_info: the one series every scrape shows, made by its first. */
#include <pthread.h>
#include <stdio.h>

#include "plexus/plexus.h"
#include "px_mbuild.h"

static px_metric *g_info;

static void make(void)
{
    static const char *const labels[] = {"version", "abi"};
    char abi[32];
    snprintf(abi, sizeof abi, "%d.%d", PX_ABI_MAJOR, PX_ABI_MINOR);
    const char *values[] = {PLEXUS_VERSION, abi};
    px_metric_family *f = px_metric_family_get(
        "plexus_build_info", "The Plexus library's version and module ABI; always 1.",
        PX_METRIC_GAUGE, labels, 2, NULL, 0, NULL);
    if (f && (g_info = px_metric_get(f, values, NULL)))
        px_metric_set(g_info, 1);
}

void px__mbuild_info(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make);
}
