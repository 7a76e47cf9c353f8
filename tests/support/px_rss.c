/* Test helper: VmRSS from /proc/PID/status, and waiting for it to settle. */
#include "px_rss.h"

#include <stdio.h>
#include <time.h>

long px_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

void px_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

long px_rss_settled(pid_t pid)
{
    long prev = px_rss_kib(pid), cur = prev;
    for (int i = 0; i < 50; i++) {
        px_sleep_ms(100);
        cur = px_rss_kib(pid);
        if (cur == prev)
            break;
        prev = cur;
    }
    return cur;
}
