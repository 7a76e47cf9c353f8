/* plexus-codec-bench: encode / decode ns per op and bytes of each codec module on the calc corpus. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "calc.pb-c.h"
#include "codec_bench.h"
#include "px_arena.h"
#include "px_test_calc.h"

#ifndef PX_VERSION
#define PX_VERSION "unknown"
#endif
#define PX__MAX_MSGS 32
#define PX__MAX_CODECS 16

static volatile size_t px__sink;

static void px__usage(FILE *to)
{
    fprintf(to,
            "usage: plexus-codec-bench [-n ITERS] [-r RUNS] [-m INDEX] [-w] [-d DIR] [CODEC.so ...]\n"
            "  Times encode and decode of every codec module (codec_*.so in DIR, then each\n"
            "  CODEC.so given) on the calc corpus: AddRequest{a, b, 16-byte tag} and the\n"
            "  EchoMsg samples of the codec tests, beside raw libprotobuf-c pack / unpack and\n"
            "  raw libxml2 reader walks of codec_xml's output. A codec with decode_with (ABI\n"
            "  1.1) is also timed decoding into a 256-byte arena, as the server's call record\n"
            "  (malloc past it). Prints markdown tables.\n"
            "  -n ITERS  calls per timed run for a message of <= 64 protobuf bytes; larger\n"
            "            messages get ITERS * 64 / size, at least min(ITERS, 100)\n"
            "            (default 20000)\n"
            "  -r RUNS   timed runs per figure, after one warm-up; the median is shown\n"
            "            (default 5, at most 15)\n"
            "  -m INDEX  measure only message INDEX of the corpus (0: AddRequest, k: Echo k-1)\n"
            "  -w        time with the wall clock (CLOCK_MONOTONIC) instead of the thread's\n"
            "            CPU time (CLOCK_THREAD_CPUTIME_ID)\n"
            "  -d DIR    where codec_*.so are found (default $PX_MODULE_DIR, else the\n"
            "            module directory of this install, or of this build)\n"
            "  -h, --help     print this help and exit\n"
            "  -V, --version  print the version and exit\n");
}

typedef struct px__msg {
    char name[96];
    const ProtobufCMessage *msg;
} px__msg;

/* The server's per-call decode arena (core/px_server.c): its size, 16-byte aligned. */
#define PX__ARENA_BYTES 256

/* What the codec loops need. */
typedef struct px__job {
    const px_bench_codec *codec;
    const ProtobufCMessage *msg;
    px_buf out;     /* the encoding; the encode loop rewrites it in place */
    px_err err;
    px_codec_decode_with_fn decode_with; /* NULL: the codec has none */
    px_arena arena;
    _Alignas(16) unsigned char arena_mem[PX__ARENA_BYTES];
} px__job;

static double px__run_encode(void *arg, size_t iters)
{
    px__job *j = arg;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        j->out.len = 0; /* a reused buffer, as a connection's write buffer is */
        if (j->codec->ops->encode(j->codec->state, j->msg, &j->out, &j->err) != PX_OK)
            return -1;
    }
    uint64_t t1 = px_bench_now_ns();
    return (double)(t1 - t0) / (double)iters;
}

static double px__run_decode(void *arg, size_t iters)
{
    px__job *j = arg;
    const ProtobufCMessageDescriptor *d = j->msg->descriptor;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        ProtobufCMessage *m = NULL;
        if (j->codec->ops->decode(j->codec->state, d, j->out.data, j->out.len, &m, &j->err) != PX_OK)
            return -1;
        px__sink += m->descriptor->sizeof_message;
        protobuf_c_message_free_unpacked(m, NULL); /* as the core frees a decoded message */
    }
    uint64_t t1 = px_bench_now_ns();
    return (double)(t1 - t0) / (double)iters;
}

/* decode_with into the arena + px_arena_free_message: what the server does per request. */
static double px__run_decode_with(void *arg, size_t iters)
{
    px__job *j = arg;
    const ProtobufCMessageDescriptor *d = j->msg->descriptor;
    px_arena_init(&j->arena, j->arena_mem, sizeof j->arena_mem);
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        ProtobufCMessage *m = NULL;
        if (j->decode_with(j->codec->state, d, j->out.data, j->out.len, &j->arena.alloc, &m,
                           &j->err) != PX_OK)
            return -1;
        px__sink += m->descriptor->sizeof_message;
        px_arena_free_message(&j->arena, m);
    }
    uint64_t t1 = px_bench_now_ns();
    return (double)(t1 - t0) / (double)iters;
}

/* One measured cell: ns/op, or a note when the codec failed. */
typedef struct px__cell {
    double enc, dec; /* < 0: not measured */
    double decw;     /* decode_with into the arena; < 0: not measured (no decode_with) */
    size_t bytes;
    int ok;
} px__cell;

static void px__print_ns(double ns)
{
    if (ns < 0)
        printf(" %12s |", "-");
    else if (ns < 10000)
        printf(" %12.1f |", ns);
    else
        printf(" %12.0f |", ns);
}

static void px__row(const char *msg, const char *who, const px__cell *c)
{
    printf("| %-50s | %-27s |", msg, who);
    if (!c->ok) {
        printf(" %8s | %12s | %12s | %12s |\n", "-", "failed", "failed", "failed");
        return;
    }
    if (c->bytes == (size_t)-1)
        printf(" %8s |", "-");
    else
        printf(" %8zu |", c->bytes);
    px__print_ns(c->enc);
    px__print_ns(c->dec);
    px__print_ns(c->decw);
    printf("\n");
}

/* Sums over the corpus, per codec (index PX__MAX_CODECS: raw protobuf-c, +1: the raw
 * reused libxml2 reader); missing: some message could not be measured. */
typedef struct px__totals {
    double enc[PX__MAX_CODECS + 2], dec[PX__MAX_CODECS + 2];
    int missing[PX__MAX_CODECS + 2];
} px__totals;

static void px__measure(const px__msg *m, const px_bench_codecs *cs, size_t base_iters, int runs,
                        px__totals *tot, px__cell *refs, px__cell *cells)
{
    px_bench_pb pb = { .msg = m->msg, .len = protobuf_c_message_get_packed_size(m->msg) };
    pb.packed = malloc(pb.len ? pb.len : 1);
    protobuf_c_message_pack(m->msg, pb.packed);
    size_t size = pb.len > 64 ? pb.len : 64;
    size_t iters = base_iters * 64 / size, floor = base_iters < 100 ? base_iters : 100;
    if (iters < floor)
        iters = floor;

    /* Tasks: raw pack, raw unpack, then encode, decode (and decode_with) of each codec
     * that can encode this message, then the raw reader walk of codec_xml's document. */
    px_bench_task tasks[3 * PX__MAX_CODECS + 4];
    size_t n_tasks = 0, at[PX__MAX_CODECS] = { 0 };
    tasks[n_tasks++] = (px_bench_task){ px_bench_raw_pb_pack, &pb, 0 };
    tasks[n_tasks++] = (px_bench_task){ px_bench_raw_pb_unpack, &pb, 0 };
    static px__job jobs[PX__MAX_CODECS]; /* big (the arenas): not on the stack */
    size_t at_with[PX__MAX_CODECS] = { 0 };
    px_bench_doc doc = { NULL, 0 };
    for (size_t i = 0; i < cs->n; i++) {
        px__job *j = &jobs[i];
        *j = (px__job){ .codec = &cs->v[i], .msg = m->msg, .decode_with = px_codec_decode_with(cs->v[i].mod) };
        at[i] = 0;
        if (cs->v[i].ops->encode(cs->v[i].state, m->msg, &j->out, &j->err) != PX_OK)
            continue;
        at[i] = n_tasks;
        tasks[n_tasks++] = (px_bench_task){ px__run_encode, j, 0 };
        tasks[n_tasks++] = (px_bench_task){ px__run_decode, j, 0 };
        if (j->decode_with != NULL) {
            at_with[i] = n_tasks;
            tasks[n_tasks++] = (px_bench_task){ px__run_decode_with, j, 0 };
        }
        if (strcmp(cs->v[i].mod->name, "xml") == 0)
            doc = (px_bench_doc){ j->out.data, j->out.len };
    }
    size_t xml_at = 0;
    if (doc.data != NULL) {
        xml_at = n_tasks;
        tasks[n_tasks++] = (px_bench_task){ px_bench_raw_xml_read, &doc, 0 };
        tasks[n_tasks++] = (px_bench_task){ px_bench_raw_xml_reuse, &doc, 0 };
    }
    px_bench_interleaved(tasks, n_tasks, iters, runs);

    px__cell raw = { .bytes = pb.len, .enc = tasks[0].ns, .dec = tasks[1].ns, .decw = -1 };
    raw.ok = raw.enc >= 0 && raw.dec >= 0;
    px__row(m->name, "protobuf-c (raw)", &raw);
    if (raw.ok) {
        tot->enc[PX__MAX_CODECS] += raw.enc;
        tot->dec[PX__MAX_CODECS] += raw.dec;
    } else {
        tot->missing[PX__MAX_CODECS] = 1;
    }
    refs[0] = raw;
    for (size_t i = 0; i < cs->n; i++) {
        px__cell *c = &cells[i];
        *c = (px__cell){ .enc = -1, .dec = -1, .decw = -1 };
        if (at[i] != 0) {
            c->bytes = jobs[i].out.len;
            c->enc = tasks[at[i]].ns;
            c->dec = tasks[at[i] + 1].ns;
            c->ok = c->enc >= 0 && c->dec >= 0;
            if (at_with[i] != 0) {
                c->decw = tasks[at_with[i]].ns;
                c->ok = c->ok && c->decw >= 0;
            }
        }
        if (!c->ok) {
            fprintf(stderr, "plexus-codec-bench: %s on %s: %s\n", cs->v[i].mod->name, m->name,
                    jobs[i].err.msg);
            tot->missing[i] = 1;
        } else {
            tot->enc[i] += c->enc;
            tot->dec[i] += c->dec;
        }
        px__row(m->name, cs->v[i].mod->name, c);
    }
    /* The same document codec_xml reads, walked by a bare xmlTextReader: a new reader
     * per parse, then one reader reset for each parse (the reference of the target). */
    px__cell rx = { .enc = -1, .dec = -1, .decw = -1, .bytes = (size_t)-1 };
    if (xml_at != 0 && tasks[xml_at].ns >= 0 && tasks[xml_at + 1].ns >= 0) {
        rx = (px__cell){ .enc = -1, .dec = tasks[xml_at].ns, .decw = -1, .bytes = doc.len, .ok = 1 };
        px__row(m->name, "libxml2 reader (raw)", &rx);
        rx.dec = tasks[xml_at + 1].ns;
        px__row(m->name, "libxml2 reused reader (raw)", &rx);
        tot->dec[PX__MAX_CODECS + 1] += rx.dec;
    } else {
        tot->missing[PX__MAX_CODECS + 1] = 1;
    }
    refs[1] = rx;
    for (size_t i = 0; i < cs->n; i++)
        px_buf_free(&jobs[i].out);
    free(pb.packed);
}

/* "0.97x (target <= 1.10x: met)" */
static void px__ratio(const char *what, double num, double den, double target)
{
    printf("| %-66s |", what);
    if (num < 0 || den <= 0) {
        printf(" %8s | %8s | %-26s |\n", "-", "-", "not measured");
        return;
    }
    double r = num / den;
    printf(" %7.2fx | %7.2fx |", r, target);
    if (r <= target)
        printf(" %-26s |\n", "met");
    else
        printf(" missed by %5.1f%%%-10s |\n", (r / target - 1) * 100, "");
}

static void px__targets(const char *scope, const px_bench_codecs *cs, const double *enc,
                        const double *dec, const double *raw)
{
    const px_bench_codec *pb = px_bench_find(cs, "protobuf"), *bin = px_bench_find(cs, "binary"),
                         *xml = px_bench_find(cs, "xml");
    double pb_enc = pb ? enc[pb - cs->v] : -1, pb_dec = pb ? dec[pb - cs->v] : -1;
    char what[128];
    snprintf(what, sizeof what, "%s: codec_protobuf encode / raw protobuf-c pack", scope);
    px__ratio(what, pb_enc, raw[0], 1.10);
    snprintf(what, sizeof what, "%s: codec_protobuf decode / raw protobuf-c unpack", scope);
    px__ratio(what, pb_dec, raw[1], 1.10);
    snprintf(what, sizeof what, "%s: codec_binary decode / codec_protobuf decode", scope);
    px__ratio(what, bin ? dec[bin - cs->v] : -1, pb_dec, 1.00);
    snprintf(what, sizeof what, "%s: codec_xml decode / raw reused libxml2 reader", scope);
    px__ratio(what, xml ? dec[xml - cs->v] : -1, raw[2], 1.50);
}

int main(int argc, char **argv)
{
    long iters = 20000, runs = 5, only = -1;
    const char *dir = getenv("PX_MODULE_DIR");
    static const struct option longs[] = { { "help", no_argument, NULL, 'h' },
                                           { "version", no_argument, NULL, 'V' }, { 0 } };
    int opt;
    while ((opt = getopt_long(argc, argv, "n:r:m:wd:hV", longs, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'n':
            iters = strtol(optarg, &end, 10);
            if (*end != '\0' || iters < 1 || iters > 100000000) {
                fprintf(stderr, "plexus-codec-bench: -n wants a count 1..100000000, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            runs = strtol(optarg, &end, 10);
            if (*end != '\0' || runs < 1 || runs > 15) {
                fprintf(stderr, "plexus-codec-bench: -r wants a count 1..15, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'm':
            only = strtol(optarg, &end, 10);
            if (*end != '\0' || only < 0 || only >= PX__MAX_MSGS) {
                fprintf(stderr, "plexus-codec-bench: -m wants a corpus index, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'w':
            px_bench_clock = CLOCK_MONOTONIC;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'h':
            px__usage(stdout);
            return 0;
        case 'V':
            printf("plexus-codec-bench (Plexus) %s\n", PX_VERSION);
            return 0;
        default: /* getopt said what was wrong */
            fputs("Try 'plexus-codec-bench --help' for more information.\n", stderr);
            return 2;
        }
    }
    if (dir == NULL || *dir == '\0')
        dir = px_module_dir();

    px_bench_codecs cs;
    if (px_bench_load(&cs, dir, argv + optind, (size_t)(argc - optind)) != 0) {
        px_bench_unload(&cs);
        return 1;
    }
    if (cs.n > PX__MAX_CODECS) {
        fprintf(stderr, "plexus-codec-bench: %zu codecs, at most %d are measured\n", cs.n, PX__MAX_CODECS);
        cs.n = PX__MAX_CODECS;
    }

    /* The corpus: the benchmark request, then every EchoMsg sample of the codec tests. */
    static px__msg msgs[PX__MAX_MSGS];
    static Calc__EchoMsg echo[PX__MAX_MSGS];
    static char tag[] = "0123456789abcdef";
    static Calc__AddRequest add = CALC__ADD_REQUEST__INIT;
    add.a = 1;
    add.b = 2;
    add.tag = tag;
    size_t n_msgs = 0;
    snprintf(msgs[n_msgs].name, sizeof msgs[n_msgs].name, "AddRequest{a, b, 16-byte tag}");
    msgs[n_msgs++].msg = &add.base;
    for (size_t i = 0; i < px_test_echo_sample_count() && n_msgs < PX__MAX_MSGS; i++) {
        const char *what = px_test_echo_sample(i, &echo[i]);
        snprintf(msgs[n_msgs].name, sizeof msgs[n_msgs].name, "Echo %zu: %.40s", i, what);
        msgs[n_msgs++].msg = &echo[i].base;
    }

    if (only >= (long)n_msgs) {
        fprintf(stderr, "plexus-codec-bench: -m %ld: the corpus has messages 0..%zu\n", only, n_msgs - 1);
        px_bench_unload(&cs);
        return 2;
    }
    printf("codecs from %s:", dir);
    for (size_t i = 0; i < cs.n; i++)
        printf(" %s (%s)", cs.v[i].mod->name, cs.v[i].path);
    printf("\n%ld calls per timed run (scaled down past 64 protobuf bytes), median of %ld runs, %s\n\n",
           iters, runs, px_bench_clock == CLOCK_MONOTONIC ? "wall clock" : "thread CPU time");
    printf("| %-50s | %-27s | %8s | %12s | %12s | %12s |\n", "message", "codec", "bytes", "encode ns/op",
           "decode ns/op", "decode_with");
    printf("|%s|%s|%s|%s|%s|%s|\n", "----------------------------------------------------",
           "-----------------------------", "---------:", "-------------:", "-------------:",
           "-------------:");
    px__totals tot = { 0 };
    px__cell add_raw[2] = { { 0 } }, add_cells[PX__MAX_CODECS] = { { 0 } };
    for (size_t k = 0; k < n_msgs; k++) {
        if (only >= 0 && k != (size_t)only)
            continue;
        px__cell raw[2], cells[PX__MAX_CODECS];
        px__measure(&msgs[k], &cs, (size_t)iters, (int)runs, &tot, raw, cells);
        if (k == 0 || (size_t)only == k) {
            memcpy(add_raw, raw, sizeof raw);
            memcpy(add_cells, cells, sizeof cells);
        }
    }

    printf("\n| %-66s | %8s | %8s | %-26s |\n", "target", "ratio", "target", "");
    printf("|%s|%s|%s|%s|\n", "--------------------------------------------------------------------",
           "---------:", "---------:", "----------------------------");
    double enc[PX__MAX_CODECS], dec[PX__MAX_CODECS], raw[3];
    for (size_t i = 0; i < cs.n; i++) {
        enc[i] = add_cells[i].ok ? add_cells[i].enc : -1;
        dec[i] = add_cells[i].ok ? add_cells[i].dec : -1;
    }
    raw[0] = add_raw[0].enc;
    raw[1] = add_raw[0].dec;
    raw[2] = add_raw[1].dec;
    char scope[32] = "AddRequest";
    if (only > 0)
        snprintf(scope, sizeof scope, "Echo %ld", only - 1);
    px__targets(scope, &cs, enc, dec, raw);
    if (only >= 0) {
        px_bench_unload(&cs);
        return 0;
    }
    for (size_t i = 0; i < cs.n; i++) {
        enc[i] = tot.missing[i] ? -1 : tot.enc[i];
        dec[i] = tot.missing[i] ? -1 : tot.dec[i];
    }
    raw[0] = tot.missing[PX__MAX_CODECS] ? -1 : tot.enc[PX__MAX_CODECS];
    raw[1] = tot.missing[PX__MAX_CODECS] ? -1 : tot.dec[PX__MAX_CODECS];
    raw[2] = tot.missing[PX__MAX_CODECS + 1] ? -1 : tot.dec[PX__MAX_CODECS + 1];
    px__targets("whole corpus (sum)", &cs, enc, dec, raw);
    px_bench_unload(&cs);
    return 0;
}
