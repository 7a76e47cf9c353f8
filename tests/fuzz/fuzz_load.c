/* Fuzz support: a codec instance from a generated server config. */
#include "fuzz_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plexus/px_config.h"
#include "px_config_int.h"

/* Reachable for the process's life (it owns the loaded module): not a leak. */
static px_config *cfg;

const px_codec_ops *px_fuzz_load_codec(const char *name, void **state, const px_module **mod)
{
    char path[] = "/tmp/px-fuzz-codec-XXXXXX";
    int fd = mkstemp(path);
    char yaml[1024];
    int n = snprintf(yaml, sizeof yaml,
                     "modules:\n  path: [%s]\nserver:\n  listen: 127.0.0.1:1\n  codecs: [%s]\n",
                     PX_FUZZ_MODULE_DIR, name);
    if (fd < 0 || write(fd, yaml, (size_t)n) != n) {
        perror("px_fuzz_load_codec: config file");
        abort();
    }
    close(fd);
    unsetenv("PLEXUS_MODULE_PATH");
    px_err err;
    px_status st = px_config_load(path, &cfg, &err);
    unlink(path);
    const px_modref *ref = st == PX_OK ? &cfg->server.mods[PX_MOD_CODEC].refs[0] : NULL;
    px_module_env env = {.config_file = path, .server_id = "fuzz", .scope = "server"};
    if (st != PX_OK || px_modref_create(ref, &env, state, &err) != PX_OK) {
        fprintf(stderr, "px_fuzz_load_codec: codec %s: %s\n", name, err.msg);
        abort();
    }
    if (mod != NULL)
        *mod = ref->mod;
    return ref->mod->ops;
}
