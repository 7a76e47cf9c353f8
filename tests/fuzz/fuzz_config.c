/* libFuzzer target: px_config_load (YAML tree, schema, module loading, directives) on
 * a file written from the input. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plexus/px_config.h"

/*
 * The file lives in PX_FUZZ_WORK_DIR, so seeds name the modules of this build with
 * `modules: {path: [../modules]}` (relative to the file). Every input must either
 * load (and free cleanly) or be refused with a message that starts with the file
 * name, as px_config_load promises ("FILE:LINE:COL: ..." or "FILE: ...").
 */
static char file[512];

/* libFuzzer keeps pointers to each instrumented module's coverage counters: a module
 * the loader dlcloses must stay mapped, so every module is opened once here for good. */
static void pin_modules(void)
{
    DIR *d = opendir(PX_FUZZ_MODULE_DIR);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", PX_FUZZ_MODULE_DIR, e->d_name);
        if (!dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
            fprintf(stderr, "fuzz_config: cannot pin %s: %s\n", path, dlerror());
    }
    closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    mkdir(PX_FUZZ_WORK_DIR, 0755);
    snprintf(file, sizeof file, "%s/fuzz-%d.yaml", PX_FUZZ_WORK_DIR, (int)getpid());
    unsetenv("PLEXUS_MODULE_PATH");
    /* Mutated host names are looked up at load: one try of at most 1 s each. */
    setenv("RES_OPTIONS", "timeout:1 attempts:1", 0);
    pin_modules();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        perror(file);
        abort();
    }
    close(fd);
    px_config *cfg = NULL;
    px_err err;
    px_err_clear(&err);
    if (px_config_load(file, &cfg, &err) == PX_OK) {
        px_config_free(cfg);
        return 0;
    }
    size_t fl = strlen(file);
    if (strncmp(err.msg, file, fl) != 0 || err.msg[fl] != ':' || strlen(err.msg) < fl + 3) {
        fprintf(stderr, "fuzz_config: a refusal does not say where: \"%s\"\n", err.msg);
        abort();
    }
    return 0;
}
