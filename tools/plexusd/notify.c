/* plexusd: sd_notify(3) from libsystemd, not a hand-written datagram: it knows the socket
 * forms systemd uses (abstract names, credentials) and is a no-op without NOTIFY_SOCKET. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

void px_plexusd_notify_ready(const char *status)
{
    /* MAINPID: the pid systemd watches is this one (it never forks away from it). */
    sd_notifyf(0, "READY=1\nMAINPID=%ld\nSTATUS=%s", (long)getpid(), status ? status : "serving");
}

void px_plexusd_notify_reloading(void)
{
    /* MONOTONIC_USEC: systemd 253+ (Type=notify-reload) asks for the reload's start time;
     * older ones ignore the field. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
               (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

void px_plexusd_notify_stopping(void)
{
    sd_notify(0, "STOPPING=1\nSTATUS=finishing calls in flight");
}

void px_plexusd_notify_forget(void)
{
    unsetenv("NOTIFY_SOCKET");
}
