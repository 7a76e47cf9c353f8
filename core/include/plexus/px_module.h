/* The module ABI: one exported px_module descriptor per shared object. */
#ifndef PLEXUS_PX_MODULE_H
#define PLEXUS_PX_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "px_export.h"
#include "px_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "PXMD": lets the loader tell a Plexus module from any other symbol. */
#define PX_MODULE_MAGIC 0x50584d44u
/* The major changes only when an existing field or op changes meaning; the loader
 * refuses any other major. Minors only append (ops, spare slots), so an older
 * module keeps loading into a newer core. */
#define PX_ABI_MAJOR 1
#define PX_ABI_MINOR 6 /* 1: px_codec_ops.decode_with; 2: FILTER and NAMING kinds;
                        * 3: metadata API, px_call_opts grew (old symbols kept);
                        * 4: PROTOCOL kind; 5: px_log, embedding a server (px_server.h),
                        * px_cmsg.max_inflight, PX_PROTO_CANCEL_FREES, the codecs'
                        * descriptor walking (px_codec_util.h: functions only), a
                        * config's public view, px_codec_open, px_descset.h,
                        * PX_DIR_LIST and a call's principal (px_filter.h: functions
                        * and a directive type only); 6: REGISTRY kind (px_registry.h) */

#define PX__STR2(x) #x
#define PX__STR(x) PX__STR2(x)
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define PX__ENDIAN "be"
#else
#define PX__ENDIAN "le"
#endif
/* What must match between the core and a module for the structs in these headers
 * to have the same layout: pointer, long, size_t and int64 sizes, byte order. Unlike
 * nginx's signature it does not encode build options: those never change the ABI. */
#define PX_MODULE_SIGNATURE                                                    \
    "ptr" PX__STR(__SIZEOF_POINTER__) "-long" PX__STR(__SIZEOF_LONG__)         \
    "-size" PX__STR(__SIZEOF_SIZE_T__) "-i64_8-" PX__ENDIAN

/** The symbol every module exports. */
#define PX_MODULE_SYMBOL "plexus_module"

typedef enum px_module_kind {
    PX_MOD_CODEC = 1,    /**< ops: px_codec_ops */
    PX_MOD_BALANCER = 2, /**< ops: px_balancer_ops */
    PX_MOD_FAILOVER = 3, /**< ops: px_failover_ops */
    PX_MOD_TIMEOUT = 4,  /**< ops: px_timeout_ops */
    PX_MOD_SERVICE = 5,  /**< ops: px_service_ops */
    PX_MOD_NAMING = 6,   /**< ops: px_naming_ops (px_naming.h); since ABI 1.2 */
    PX_MOD_FILTER = 7,   /**< ops: px_filter_ops (px_filter.h), since ABI 1.2 */
    PX_MOD_PROTOCOL = 8, /**< ops: px_protocol_ops (px_protocol.h), since ABI 1.4 */
    PX_MOD_REGISTRY = 9, /**< ops: px_registry_ops (px_registry.h), since ABI 1.6 */
} px_module_kind;

/** "codec", "balancer", ...; "unknown" otherwise. */
PX_API const char *px_module_kind_name(px_module_kind kind);
/** File-name prefix the loader uses for a kind: "codec_", "lb_", "failover_", "timeout_",
 *  "service_", "naming_", "filter_", "proto_", "registry_". */
PX_API const char *px_module_kind_prefix(px_module_kind kind);
/** The installed module directory this libplexus searches last (docs/CONFIG.md): found
 *  from where libplexus runs, so it follows a moved install; the build's modules/ inside
 *  a build tree. Never NULL. Since ABI 1.5. */
PX_API const char *px_module_dir(void);

/** The value type of a config directive and the C type it is stored as. */
typedef enum px_dir_type {
    PX_DIR_BOOL = 1, /**< int: true/false, yes/no, on/off */
    PX_DIR_INT,      /**< int64_t */
    PX_DIR_DOUBLE,   /**< double */
    PX_DIR_DURATION, /**< int64_t microseconds: "250ms", "5s", "100us", "2m", "1h" */
    PX_DIR_SIZE,     /**< uint64_t bytes: "4MiB", "512KiB", "1GiB", "64KB", "1024" */
    PX_DIR_STRING,   /**< char *, owned by the core and freed with the config */
    PX_DIR_ENUM,     /**< int: index into enum_values */
    PX_DIR_LIST,     /**< px_dir_list *: a YAML sequence of strings (one string: a list of
                      *   one), each with its place in the file; NULL when absent; no
                      *   default, min or max. Since ABI 1.5's library: an older core
                      *   refuses the table ("unknown type") */
} px_dir_type;

/** One string of a PX_DIR_LIST value and where it was written (1-based). */
typedef struct px_dir_item {
    const char *str;
    int line, col;
} px_dir_item;

/** A PX_DIR_LIST value, owned by the core (one block, freed with the config). A module's
 *  create() that refuses an item says "FILE:LINE:COL: ..." with file and the item's
 *  place: the core then adds no place of its own. */
typedef struct px_dir_list {
    const char *file; /**< the config file the items come from */
    size_t n;
    px_dir_item items[];
} px_dir_list;

/** "bool", "int", "double", "duration", "size", "string", "enum", "list"; "unknown" otherwise.
 *  Since ABI 1.5. */
PX_API const char *px_dir_type_name(px_dir_type type);

/**
 * A config key a module accepts, as data (nginx's ngx_command_t made small).
 * The core parses the YAML value with the setter of `type`, checks it against
 * min/max, and stores it at `offset` in the module's conf struct of conf_size
 * bytes. Defaults and bounds are YAML text parsed by the same setter, so a
 * duration default reads "300ms". A table ends with an entry whose name is NULL.
 */
typedef struct px_directive {
    const char *name;                /**< the YAML key */
    px_dir_type type;                /**< value type */
    size_t offset;                   /**< offsetof(conf struct, field) */
    const char *def;                 /**< default as YAML text; NULL: zero */
    int required;                    /**< nonzero: missing key is an error */
    const char *min;                 /**< inclusive lower bound as text, or NULL */
    const char *max;                 /**< inclusive upper bound as text, or NULL */
    const char *const *enum_values;  /**< PX_DIR_ENUM: NULL-terminated names */
    const char *help;                /**< one line for docs and `plexus modules` */
} px_directive;

/** What the core tells a module instance about where it runs. */
typedef struct px_module_env {
    const char *config_file; /**< the YAML file the instance comes from */
    const char *server_id;   /**< server.id, or "" in a client */
    const char *scope;       /**< "server", or the upstream name in a client */
    void *spare[4];
} px_module_env;

/**
 * The descriptor each module .so exports as `plexus_module`. Start it with
 * PX_MODULE_HEADER. create() may be NULL (state is then the conf pointer).
 */
typedef struct px_module {
    uint32_t magic;        /**< PX_MODULE_MAGIC */
    uint16_t abi_major;    /**< PX_ABI_MAJOR the module was built with */
    uint16_t abi_minor;    /**< PX_ABI_MINOR the module was built with */
    const char *signature; /**< PX_MODULE_SIGNATURE the module was built with */
    px_module_kind kind;
    const char *name;        /**< the name YAML uses: "random", "protobuf", "calc" */
    const char *version;     /**< the module's own version, "1.0.0" */
    const char *description; /**< one line */
    size_t conf_size;                 /**< bytes of the conf struct directives fill */
    const px_directive *directives;   /**< NULL or a table ending with {NULL} */
    /** Makes an instance from its validated conf; returns PX_OK or fills err. */
    px_status (*create)(const px_module_env *env, const void *conf, void **state, px_err *err);
    /** Frees what create made. May be NULL. */
    void (*destroy)(void *state);
    const void *ops;  /**< the kind's op table */
    void *spare[8];   /**< zero: room for minor ABI versions */
} px_module;

#define PX_MODULE_HEADER                                                        \
    .magic = PX_MODULE_MAGIC, .abi_major = PX_ABI_MAJOR,                        \
    .abi_minor = PX_ABI_MINOR, .signature = PX_MODULE_SIGNATURE

/** Declares the exported descriptor: `PX_MODULE_DECLARE = { PX_MODULE_HEADER, ... };` */
#ifdef __cplusplus
#define PX_MODULE_DECLARE extern "C" PX_API const px_module plexus_module; const px_module plexus_module
#else
#define PX_MODULE_DECLARE PX_API const px_module plexus_module
#endif

#ifdef __cplusplus
}
#endif
#endif
