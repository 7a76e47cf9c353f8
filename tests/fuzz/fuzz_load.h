/* Fuzz support: load a codec module the way plexusd does (config, loader, create). */
#ifndef PX_FUZZ_LOAD_H
#define PX_FUZZ_LOAD_H

#include "plexus/px_codec.h"

/**
 * Loads codec `name` from PX_FUZZ_MODULE_DIR through px_config_load (loader checks,
 * directive defaults) and creates an instance; the config stays loaded for the
 * process's life. *mod (when mod is not NULL) receives the module's descriptor.
 * Aborts with a message on failure.
 */
const px_codec_ops *px_fuzz_load_codec(const char *name, void **state, const px_module **mod);

#endif
