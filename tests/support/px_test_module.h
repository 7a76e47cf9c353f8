/* Test helper: dlopen a built module .so from PX_MODULE_DIR without the core loader. */
#ifndef PX_TEST_MODULE_H
#define PX_TEST_MODULE_H

#include <plexus/plexus.h>

/**
 * Opens $PX_MODULE_DIR/file, finds `plexus_module` and checks its magic. Returns the
 * descriptor and sets *handle (for dlclose), or prints why and returns NULL.
 */
const px_module *px_test_load_module(const char *file, void **handle);

#endif
