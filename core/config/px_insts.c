/* A scope's module instances (see px_insts.h). */
#include "px_insts.h"

#include <stdlib.h>
#include <string.h>

px_status px_insts_new(const px_modlist *mods, const px_module_env *env, px_insts *out,
                       px_err *err)
{
    memset(out, 0, sizeof *out);
    size_t total = 0, nk;
    for (size_t k = 0; k < PX_KIND_LIMIT; k++)
        total += mods[k].n;
    if (total == 0)
        return PX_OK;
    if ((out->all = calloc(total, sizeof *out->all)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    const px_kind *kinds = px_kinds_all(&nk);
    for (size_t i = 0; i < nk; i++) {
        px_module_kind k = kinds[i].id;
        out->first[k] = out->n;
        for (size_t j = 0; j < mods[k].n; j++) {
            px_inst *in = &out->all[out->n];
            in->ref = &mods[k].refs[j];
            in->ops = in->ref->mod->ops;
            px_status st = px_modref_create(in->ref, env, &in->state, err);
            if (st != PX_OK) {
                px_insts_free(out);
                return st;
            }
            out->n++;
            out->count[k]++;
        }
    }
    return PX_OK;
}

const void *px_insts_one(const px_insts *in, px_module_kind kind, void **state)
{
    if (in->count[kind] == 0) {
        *state = NULL;
        return NULL;
    }
    *state = in->all[in->first[kind]].state;
    return in->all[in->first[kind]].ops;
}

px_inst *px_insts_of(const px_insts *in, px_module_kind kind, size_t *n)
{
    *n = in->count[kind];
    return *n ? &in->all[in->first[kind]] : NULL;
}

void px_insts_free(px_insts *in)
{
    for (size_t i = in->n; i-- > 0;)
        px_modref_destroy(in->all[i].ref, in->all[i].state);
    free(in->all);
    memset(in, 0, sizeof *in);
}
