/* naming `file`: one instance's state, shared by its start/stop, its reload and its
 * watch. Everything but create and destroy runs on the naming thread: no lock. */
#ifndef NF_STATE_H
#define NF_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/plexus.h>

#define NF_LOG "naming_file"

typedef struct nf_state {
    char path[4096]; /* absolute: relative ones were taken from the config file's folder */
    char dir[4096];  /* its folder, which is watched (editors and mv replace the file) */
    const char *name; /* the file's name in dir (inside path) */
    int64_t settle_us;
    px_naming_sink *sink;
    int ifd;            /* inotify; -1 when not watching */
    px_naming_io *io;   /* ifd's watch */
    px_naming_io *timer; /* the settle delay before a re-read */
    int armed;          /* the timer runs: later events join its re-read */
    int follow_dir;     /* path is a symlink: any new entry of dir may be its new target */
    int gone;           /* the file was missing at the last re-read (said once) */
    char *last;         /* the bytes last read (applied or refused): the same again is no news */
    size_t last_len;
    size_t applied;     /* endpoints of the list last applied */
    px_metric *reload_ok, *reload_failed; /* plexus_naming_file_reloads_total */
} nf_state;

/** Reads and parses the file, and on success hands the list to the sink. At start
 *  (initial != 0) every failure is err's; later a failure is a warning and the last good
 *  list stays. PX_OK when the file's list is (now) the upstream's. */
px_status nf_reload(nf_state *s, int initial, px_err *err);

/** Starts watching s->dir on the naming thread (inotify, a settle timer). */
px_status nf_watch_start(nf_state *s, px_err *err);
/** Closes the watch, the timer and the inotify fd. */
void nf_watch_stop(nf_state *s);

#endif
