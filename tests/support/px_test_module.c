/* Test helper: dlopen a built module .so from PX_MODULE_DIR without the core loader. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include "px_test_module.h"

const px_module *px_test_load_module(const char *file, void **handle)
{
    const char *dir = getenv("PX_MODULE_DIR");
    char path[4096];
    *handle = NULL;
    if (dir == NULL) {
        fprintf(stderr, "px_test_load_module: PX_MODULE_DIR is not set\n");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, file);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "px_test_load_module: %s\n", dlerror());
        return NULL;
    }
    const px_module *mod = dlsym(h, PX_MODULE_SYMBOL);
    if (mod == NULL || mod->magic != PX_MODULE_MAGIC) {
        fprintf(stderr, "px_test_load_module: %s: no valid %s symbol\n", path, PX_MODULE_SYMBOL);
        dlclose(h);
        return NULL;
    }
    *handle = h;
    return mod;
}
