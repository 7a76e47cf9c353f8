/* plexus-codec-bench: what its files share (loaded codecs, raw reference loops, timing). */
#ifndef PX_CODEC_BENCH_H
#define PX_CODEC_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <plexus/plexus.h>

/** A codec module loaded the way the core loads it: checked, defaults applied, created. */
typedef struct px_bench_codec {
    px_codec_handle *h;
    const px_module *mod;
    const px_codec_ops *ops;
    void *state;
    const char *path;
} px_bench_codec;

typedef struct px_bench_codecs {
    px_bench_codec *v;
    size_t n;
} px_bench_codecs;

/**
 * Loads every codec_*.so in dir (standard codecs first: protobuf, json, xml, binary,
 * then the rest by name) and then each file of extra. Returns 0, or -1 after printing
 * why a module could not be loaded.
 */
int px_bench_load(px_bench_codecs *cs, const char *dir, char *const *extra, size_t n_extra);
/** The loaded codec called name, or NULL. */
const px_bench_codec *px_bench_find(const px_bench_codecs *cs, const char *name);
void px_bench_unload(px_bench_codecs *cs);

/**
 * The clock of every figure: by default CLOCK_THREAD_CPUTIME_ID, the CPU time of the
 * measuring thread, so time spent descheduled while other programs run on a shared
 * machine does not count; CLOCK_MONOTONIC (wall time) with -w.
 */
extern clockid_t px_bench_clock;
/** Nanoseconds on px_bench_clock. */
uint64_t px_bench_now_ns(void);

/** One timed run of iters calls; returns ns per call, or a negative value on failure. */
typedef double (*px_bench_run_fn)(void *arg, size_t iters);

/** One figure to measure: fn(arg, iters) gives ns per call; ns receives the median. */
typedef struct px_bench_task {
    px_bench_run_fn fn;
    void *arg;
    double ns; /**< the median of the timed runs; negative when a run failed */
} px_bench_task;

/**
 * Runs every task once untimed (a warm-up that also checks it works), then `runs`
 * rounds in which each task runs once in turn, so that a codec and the raw library
 * it is compared with see the same machine; sets each task's ns to its median.
 * runs is 1..15.
 */
void px_bench_interleaved(px_bench_task *tasks, size_t n, size_t iters, int runs);

/** A message and its protobuf encoding, for the raw libprotobuf-c loops. */
typedef struct px_bench_pb {
    const ProtobufCMessage *msg;
    uint8_t *packed; /**< protobuf_c_message_pack output; the pack loop rewrites it */
    size_t len;
} px_bench_pb;
/** Raw libprotobuf-c (arg: px_bench_pb): get_packed_size + pack into a reused buffer. */
double px_bench_raw_pb_pack(void *arg, size_t iters);
/** Raw libprotobuf-c (arg: px_bench_pb): unpack with its default allocator + free_unpacked. */
double px_bench_raw_pb_unpack(void *arg, size_t iters);

/** A document for the raw libxml2 reader loop. */
typedef struct px_bench_doc {
    const uint8_t *data;
    size_t len;
} px_bench_doc;
/** Raw libxml2 (arg: px_bench_doc): a new xmlReaderForMemory per parse, read every node,
 *  look at each name and text, free it. */
double px_bench_raw_xml_read(void *arg, size_t iters);
/** The same walk with one reader reset by xmlReaderNewMemory for each parse (what
 *  codec_xml does): the stricter reference. */
double px_bench_raw_xml_reuse(void *arg, size_t iters);

#endif
