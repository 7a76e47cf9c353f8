/* plexus-codec-bench: the reference loops, raw libprotobuf-c and a raw libxml2 reader walk. */
#include <stdlib.h>
#include <time.h>
#include <libxml/xmlreader.h>
#include "codec_bench.h"

/* Sums results here so the compiler cannot drop a loop whose output is unused. */
static volatile size_t px__sink;

clockid_t px_bench_clock = CLOCK_THREAD_CPUTIME_ID;

uint64_t px_bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(px_bench_clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int px__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void px_bench_interleaved(px_bench_task *tasks, size_t n, size_t iters, int runs)
{
    double (*t)[16] = calloc(n ? n : 1, sizeof *t);
    for (size_t k = 0; k < n; k++)
        tasks[k].ns = t != NULL && runs >= 1 && runs <= 15 ? tasks[k].fn(tasks[k].arg, iters) : -1;
    for (int r = 0; r < runs && t != NULL; r++)
        for (size_t k = 0; k < n; k++)
            if (tasks[k].ns >= 0 && (t[k][r] = tasks[k].fn(tasks[k].arg, iters)) < 0)
                tasks[k].ns = -1;
    for (size_t k = 0; k < n && t != NULL; k++) {
        if (tasks[k].ns < 0)
            continue;
        qsort(t[k], (size_t)runs, sizeof t[k][0], px__cmp_double);
        tasks[k].ns = runs % 2 ? t[k][runs / 2] : (t[k][runs / 2 - 1] + t[k][runs / 2]) / 2;
    }
    free(t);
}

double px_bench_raw_pb_pack(void *arg, size_t iters)
{
    px_bench_pb *pb = arg;
    size_t sum = 0;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        /* What codec_protobuf must do too: size the output, then pack into it. */
        size_t need = protobuf_c_message_get_packed_size(pb->msg);
        if (need != pb->len)
            return -1;
        sum += protobuf_c_message_pack(pb->msg, pb->packed);
    }
    uint64_t t1 = px_bench_now_ns();
    px__sink += sum;
    return (double)(t1 - t0) / (double)iters;
}

double px_bench_raw_pb_unpack(void *arg, size_t iters)
{
    px_bench_pb *pb = arg;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        ProtobufCMessage *m = protobuf_c_message_unpack(pb->msg->descriptor, NULL, pb->len, pb->packed);
        if (m == NULL)
            return -1;
        px__sink += m->descriptor->sizeof_message;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    uint64_t t1 = px_bench_now_ns();
    return (double)(t1 - t0) / (double)iters;
}

/* Visits every node, looking at each element's name and each text's value: the least
 * any reader-based decoder does. Returns 0 at the end of the document, -1 on an error. */
static int px__walk(xmlTextReaderPtr r, size_t *sum)
{
    int rc;
    while ((rc = xmlTextReaderRead(r)) == 1) {
        int type = xmlTextReaderNodeType(r);
        if (type == XML_READER_TYPE_ELEMENT) {
            const xmlChar *name = xmlTextReaderConstLocalName(r);
            *sum += name != NULL ? name[0] : 0;
        } else if (type == XML_READER_TYPE_TEXT) {
            const xmlChar *v = xmlTextReaderConstValue(r);
            *sum += v != NULL ? v[0] : 0;
        }
    }
    return rc == 0 ? 0 : -1;
}

/* The options codec_xml reads with. */
#define PX__XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

double px_bench_raw_xml_read(void *arg, size_t iters)
{
    px_bench_doc *doc = arg;
    size_t sum = 0;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters; i++) {
        xmlTextReaderPtr r = xmlReaderForMemory((const char *)doc->data, (int)doc->len, NULL, NULL,
                                                PX__XML_OPTIONS);
        if (r == NULL)
            return -1;
        int rc = px__walk(r, &sum);
        xmlFreeTextReader(r);
        if (rc != 0)
            return -1;
    }
    uint64_t t1 = px_bench_now_ns();
    px__sink += sum;
    return (double)(t1 - t0) / (double)iters;
}

double px_bench_raw_xml_reuse(void *arg, size_t iters)
{
    px_bench_doc *doc = arg;
    size_t sum = 0;
    xmlTextReaderPtr r = NULL;
    int rc = 0;
    uint64_t t0 = px_bench_now_ns();
    for (size_t i = 0; i < iters && rc == 0; i++) {
        if (r == NULL)
            r = xmlReaderForMemory((const char *)doc->data, (int)doc->len, NULL, NULL, PX__XML_OPTIONS);
        else if (xmlReaderNewMemory(r, (const char *)doc->data, (int)doc->len, NULL, NULL,
                                    PX__XML_OPTIONS) != 0)
            rc = -1;
        if (r == NULL || rc != 0 || px__walk(r, &sum) != 0)
            rc = -1;
    }
    uint64_t t1 = px_bench_now_ns();
    if (r != NULL)
        xmlFreeTextReader(r);
    px__sink += sum;
    return rc == 0 ? (double)(t1 - t0) / (double)iters : -1;
}
