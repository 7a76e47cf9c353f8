/* Finds module .so files on the module path, dlopens them and checks the descriptor. */
#ifndef PX_LOADER_H
#define PX_LOADER_H

#include <stddef.h>
#include "plexus/px_module.h"

typedef struct px_loader px_loader;

px_loader *px_loader_new(void);
/** Appends a directory to the search path (copied; one already on it is not added
 * again). Returns 0, -1 on OOM. */
int px_loader_add_path(px_loader *l, const char *dir);
/** Appends each directory of a ':'-separated list (PLEXUS_MODULE_PATH; empty entries are
 * skipped; NULL: none). Returns 0, -1 on OOM. */
int px_loader_add_path_list(px_loader *l, const char *list);
/** The folder a relative module file ("../lb/x.so") is relative to (copied); without
 * one, the current directory. Returns 0, -1 on OOM. */
int px_loader_set_base(px_loader *l, const char *dir);
size_t px_loader_path_count(const px_loader *l);
const char *px_loader_path_at(const px_loader *l, size_t i);

/**
 * Loads the module `name` of `kind`: a module built into libplexus (px_builtin.h) first,
 * with *path PX_BUILTIN_PATH; else searches "<prefix><name>.so" (prefix from
 * px_module_kind_prefix) in each path, in order; a name containing '/' is a file
 * (relative to the base folder, px_loader_set_base; messages show where it led).
 * Already loaded (kind, name) pairs are returned from the cache. Refuses, with
 * err->msg naming the file and the reason: not found (listing every path tried),
 * dlopen failure, no `plexus_module` symbol, bad magic, ABI major or signature
 * mismatch, wrong kind, a descriptor name other than `name`, a duplicate
 * (kind, name) from another file, a malformed directive table.
 * On success *mod and *path (owned by the loader) are set.
 */
px_status px_loader_load(px_loader *l, px_module_kind kind, const char *name,
                         const px_module **mod, const char **path, px_err *err);

/** Loads and checks one file of any kind (kind 0) or of `kind`. Same refusals. */
px_status px_loader_load_file(px_loader *l, const char *file, px_module_kind kind,
                              const px_module **mod, px_err *err);

/** Modules loaded so far, in load order (for `plexus modules`). */
size_t px_loader_count(const px_loader *l);
const px_module *px_loader_at(const px_loader *l, size_t i, const char **path);

/** dlcloses every module and frees the loader. */
void px_loader_free(px_loader *l);

#endif
