/* Where this installation's standard modules are: found from where the core runs. */
#define _GNU_SOURCE /* dladdr1 */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "plexus/px_module.h"
#include "px_moduledir.h"

/* Set by core/CMakeLists.txt; these fallbacks only serve a build without it. */
#ifndef PX_MODULEDIR_FROM_BIN
#define PX_MODULEDIR_FROM_BIN "../lib/plexus/modules"
#endif
#ifndef PX_MODULEDIR_FROM_LIB
#define PX_MODULEDIR_FROM_LIB "plexus/modules"
#endif
#ifndef PX_DEFAULT_MODULE_DIR
#define PX_DEFAULT_MODULE_DIR "/usr/local/lib/plexus/modules"
#endif
#ifndef PX_BUILD_DIR
#define PX_BUILD_DIR ""
#endif
#ifndef PX_BUILD_MODULEDIR
#define PX_BUILD_MODULEDIR ""
#endif

static pthread_once_t px__once = PTHREAD_ONCE_INIT;
static char px__dir[PATH_MAX];

static int px__is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The real path of the file this code is in, and whether that is the main program
 * (the core linked in) or a shared library (libplexus.so). 0, or -1 when unknown. */
static int px__own_file(char *out, int *is_program)
{
    Dl_info info;
    struct link_map *map = NULL;
    /* Any function of the core will do: this one is in the same object as all of it. */
    if (dladdr1((void *)(uintptr_t)px__own_file, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 ||
        map == NULL)
        return -1;
    /* The main program's link map has no name; its file is /proc/self/exe. */
    *is_program = map->l_name == NULL || map->l_name[0] == '\0';
    if (!*is_program)
        return realpath(map->l_name, out) != NULL ? 0 : -1;
    ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    if (n <= 0)
        return -1;
    out[n] = '\0';
    return 0;
}

/* A program or library inside the build tree (PX_BUILD_DIR), which has no install layout. */
static int px__in_build_tree(const char *dir)
{
    size_t bl = strlen(PX_BUILD_DIR);
    return bl > 0 && strncmp(dir, PX_BUILD_DIR, bl) == 0 && (dir[bl] == '\0' || dir[bl] == '/');
}

static void px__find(void)
{
    char self[PATH_MAX], cand[PATH_MAX], real[PATH_MAX];
    int is_program = 0;
    snprintf(px__dir, sizeof px__dir, "%s", PX_DEFAULT_MODULE_DIR);
    if (px__own_file(self, &is_program) != 0)
        return; /* no dladdr, no /proc: the configured install location */
    char *slash = strrchr(self, '/');
    if (slash == NULL)
        return;
    *slash = '\0'; /* self is now the file's folder */
    const char *rel = is_program ? PX_MODULEDIR_FROM_BIN : PX_MODULEDIR_FROM_LIB;
    if (rel[0] == '/')
        snprintf(cand, sizeof cand, "%s", rel); /* an absolute libdir: not relocatable */
    else if (snprintf(cand, sizeof cand, "%s/%s", self, rel) >= (int)sizeof cand)
        return;
    if (px__is_dir(cand) && realpath(cand, real) != NULL)
        snprintf(px__dir, sizeof px__dir, "%s", real);
    else if (px__in_build_tree(self) && PX_BUILD_MODULEDIR[0] != '\0')
        snprintf(px__dir, sizeof px__dir, "%s", PX_BUILD_MODULEDIR);
    else
        snprintf(px__dir, sizeof px__dir, "%s", cand); /* missing: errors name it */
}

const char *px_moduledir_installed(void)
{
    pthread_once(&px__once, px__find);
    return px__dir;
}

const char *px_module_dir(void)
{
    return px_moduledir_installed();
}
