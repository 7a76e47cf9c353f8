/* The samples of the metrics /status computes rates from: taken on a thread of their
 * own every few seconds, so a rate covers the last seconds whoever asked before. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "px_admin_int.h"
#include "px_time.h"

/* Keeps s as the newest sample (the oldest goes when all places are taken). Locked. */
static void px__keep(px_admin *adm, px_admin_sample s)
{
    if (s.text == NULL)
        return;
    if (adm->n_samples == PX_ADMIN_SAMPLES) {
        free(adm->samples[0].text);
        memmove(&adm->samples[0], &adm->samples[1],
                (PX_ADMIN_SAMPLES - 1) * sizeof adm->samples[0]);
        adm->n_samples--;
    }
    adm->samples[adm->n_samples++] = s;
}

int64_t px_admin_sample_due_us(px_admin *adm)
{
    pthread_mutex_lock(&adm->lock);
    int64_t due = adm->n_samples ? adm->samples[adm->n_samples - 1].at_us + PX_ADMIN_SAMPLE_US
                                 : 0;
    pthread_mutex_unlock(&adm->lock);
    return due;
}

void px_admin_sample_now(px_admin *adm)
{
    px_admin_sample s = {0};
    s.text = px_admin_metrics(adm, &s.len);
    s.at_us = px_mono_us();
    pthread_mutex_lock(&adm->lock);
    px__keep(adm, s);
    pthread_mutex_unlock(&adm->lock);
}

static void *px__sampler(void *arg)
{
    px_admin *adm = arg;
    pthread_mutex_lock(&adm->lock);
    while (!adm->stopping) {
        pthread_mutex_unlock(&adm->lock);
        px_admin_sample s = {0};
        s.text = px_admin_metrics(adm, &s.len);
        s.at_us = px_mono_us();
        pthread_mutex_lock(&adm->lock);
        px__keep(adm, s);
        struct timespec until;
        px_abstime(&until, PX_ADMIN_SAMPLE_US);
        while (!adm->stopping && pthread_cond_timedwait(&adm->wake, &adm->lock, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&adm->lock);
    return NULL;
}

int px_admin_sampler_start(px_admin *adm)
{
    int rc = pthread_cond_init(&adm->wake, NULL); /* px_abstime: CLOCK_REALTIME */
    if (rc != 0)
        return rc;
    rc = pthread_create(&adm->sampler, NULL, px__sampler, adm);
    if (rc != 0) {
        pthread_cond_destroy(&adm->wake);
        return rc;
    }
    adm->sampler_on = 1;
    return 0;
}

void px_admin_sampler_stop(px_admin *adm)
{
    if (adm->sampler_on) {
        pthread_mutex_lock(&adm->lock);
        adm->stopping = 1;
        pthread_cond_signal(&adm->wake);
        pthread_mutex_unlock(&adm->lock);
        pthread_join(adm->sampler, NULL);
        pthread_cond_destroy(&adm->wake);
        adm->sampler_on = 0;
    }
    for (size_t i = 0; i < adm->n_samples; i++)
        free(adm->samples[i].text);
    adm->n_samples = 0;
}

int px_admin_oldest_sample(px_admin *adm, px_admin_sample *out)
{
    int rc = -1;
    pthread_mutex_lock(&adm->lock);
    if (adm->n_samples > 0) {
        const px_admin_sample *s = &adm->samples[0];
        out->text = malloc(s->len + 1);
        if (out->text != NULL) {
            memcpy(out->text, s->text, s->len + 1);
            out->len = s->len;
            out->at_us = s->at_us;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&adm->lock);
    return rc;
}
