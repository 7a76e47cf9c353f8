/* Test helper: the resident memory of a process, as /proc reports it. */
#ifndef PX_RSS_H
#define PX_RSS_H

#include <sys/types.h>

/* Built with a sanitizer, RSS means little (shadow memory, quarantine): tests skip
 * their RSS bounds then, and check everything else. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PX_RSS_CHECKED 0
#else
#define PX_RSS_CHECKED 1
#endif

/** VmRSS of pid in KiB, or -1. */
long px_rss_kib(pid_t pid);
/** VmRSS once it has stopped moving (two equal readings 100 ms apart, at most 5 s). */
long px_rss_settled(pid_t pid);
/** Sleeps ms milliseconds. */
void px_sleep_ms(int ms);

#endif
