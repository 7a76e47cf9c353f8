/* timeout_per_method's conf struct: what its directives fill (shared with its tests). */
#ifndef PX_TIMEOUT_PER_METHOD_H
#define PX_TIMEOUT_PER_METHOD_H

#include <stdint.h>

typedef struct timeout_per_method_conf {
    char *methods;      /**< "pkg.Svc/Method=2s,pkg.Svc/Other=300ms": parsed by create() */
    int64_t default_us; /**< budget of a method the map does not list */
    int64_t connect_us; /**< budget to establish a connection */
} timeout_per_method_conf;

#endif
