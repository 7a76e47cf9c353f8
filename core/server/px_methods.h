/* The server's method table: "package.Service/Method" -> handler, O(1) lookup. */
#ifndef PX_METHODS_H
#define PX_METHODS_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>
#include "plexus/px_status.h"
#include "px_pool.h"

typedef struct px_method {
    char *name;        /* "calc.Calculator/Add" */
    size_t name_len;
    ProtobufCService *service;
    unsigned index;    /* method index within the service */
    const ProtobufCMessageDescriptor *input, *output;
    px_pool *pool;     /* NULL: run on the IO thread */
    const struct px_fchain *chain; /* the server's and the service's filters; NULL: none */
} px_method;

typedef struct px_methods {
    px_method *items;
    size_t n, cap;
    size_t *slots;     /* open addressing: index+1, 0 = empty */
    size_t n_slots;
} px_methods;

/** Adds every method of service, run on pool (NULL: the IO thread) through chain (NULL:
 *  no filters); refuses a duplicate full name. */
px_status px_methods_add(px_methods *t, ProtobufCService *svc, px_pool *pool,
                         const struct px_fchain *chain, px_err *err);
/** Builds the index after the last add. */
px_status px_methods_seal(px_methods *t, px_err *err);
const px_method *px_methods_find(const px_methods *t, const char *name, size_t len);
/** Whether any method of service "package.Service" exists (to tell unknown service from unknown method). */
int px_methods_has_service(const px_methods *t, const char *svc, size_t len);
void px_methods_free(px_methods *t);

#endif
