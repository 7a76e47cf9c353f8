/* naming `file`: the endpoint list a file holds, parsed from YAML or plain lines, each
 * entry with its place in the file so a refusal says FILE:LINE:COL. */
#ifndef NF_LIST_H
#define NF_LIST_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/px_status.h>

/** The largest file read: a list of endpoints is kilobytes; more is a wrong path. */
#define NF_FILE_MAX (4u << 20)
#define NF_WEIGHT_MAX 10000

typedef struct nf_entry {
    char *address;   /**< as written: "10.0.0.5:7101", "[fd00::5]:7101" */
    uint32_t weight; /**< 1..NF_WEIGHT_MAX */
    int line, col;   /**< 1-based, where the address is */
} nf_entry;

typedef struct nf_list {
    nf_entry *e;
    size_t n, cap;
} nf_list;

typedef enum nf_format { NF_PLAIN = 0, NF_YAML = 1 } nf_format;

/** NF_YAML for a name ending in .yaml or .yml, NF_PLAIN otherwise. */
nf_format nf_format_of(const char *path);

/**
 * Parses text[0..len) (not NUL-terminated; any bytes) as fmt into out, which the caller
 * zeroed. PX_OK with at least one entry, every address numeric and listed once, every
 * weight in 1..10000; otherwise PX_INVALID_ARGUMENT, out empty, and err->msg
 * "FILE:LINE:COL: what" (or "FILE: what" for the file as a whole), FILE being `file`.
 */
px_status nf_parse(const char *text, size_t len, nf_format fmt, const char *file, nf_list *out,
                   px_err *err);
void nf_list_free(nf_list *l);

/* ---- shared by the two parsers (nf_list.c) ---- */

/**
 * Appends address[0..alen) with weight text wtext[0..wlen) (NULL: weight 1), written at
 * line:col, after checking both (the address with the core's parser); the weight's own
 * place is wline:wcol. PX_OK, or err set with the place.
 */
px_status nf_add(nf_list *l, const char *file, const char *address, size_t alen, int line,
                 int col, const char *wtext, size_t wlen, int wline, int wcol, px_err *err);
px_status nf_parse_plain(const char *text, size_t len, const char *file, nf_list *out,
                         px_err *err);
px_status nf_parse_yaml(const char *text, size_t len, const char *file, nf_list *out,
                        px_err *err);

#endif
