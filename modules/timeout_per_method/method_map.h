/* A read-only map method -> budget, parsed once from "pkg.Svc/M=2s,pkg.Other/M=300ms". */
#ifndef PX_METHOD_MAP_H
#define PX_METHOD_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <plexus/px_status.h>

typedef struct method_entry {
    char *method; /* "pkg.Svc/Method"; the method part "*" stands for every method */
    int64_t us;
} method_entry;

typedef struct method_map {
    method_entry *e; /* sorted by method (strcmp), for bsearch */
    size_t n;
} method_map;

/**
 * Parses spec: comma-separated METHOD=DURATION entries, blanks around either side
 * ignored, each method at most once, durations 1ms..1h. NULL or blank: an empty map.
 * On failure fills err with a message naming the entry (1-based) and what is wrong.
 */
px_status method_map_parse(method_map *m, const char *spec, px_err *err);
/** The budget of method: its own entry, else its service's wildcard ("*") entry; -1 if neither. */
int64_t method_map_find(const method_map *m, const char *method);
void method_map_free(method_map *m);

#endif
