/* The module instances of one scope (a server or an upstream): every module its config
 * lists, created in the kind registry's order and destroyed in reverse. */
#ifndef PX_INSTS_H
#define PX_INSTS_H

#include <stddef.h>
#include "px_config_int.h"

typedef struct px_inst {
    const px_modref *ref;
    const void *ops;   /* ref->mod->ops */
    void *state;       /* what create() made */
} px_inst;

typedef struct px_insts {
    px_inst *all;                  /* grouped by kind, config order within a kind */
    size_t n;
    size_t first[PX_KIND_LIMIT];   /* all[first[k] .. first[k] + count[k]) are kind k */
    size_t count[PX_KIND_LIMIT];
} px_insts;

/** Creates an instance of every module of mods. On error, what was made is freed. */
px_status px_insts_new(const px_modlist *mods, const px_module_env *env, px_insts *out,
                       px_err *err);
/** The ops of the first instance of kind (its state in *state), or NULL when none. */
const void *px_insts_one(const px_insts *in, px_module_kind kind, void **state);
/** The instances of kind: *n of them (NULL when none). */
px_inst *px_insts_of(const px_insts *in, px_module_kind kind, size_t *n);
/** Destroys every instance, last created first. */
void px_insts_free(px_insts *in);

#endif
