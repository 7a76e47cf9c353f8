/* See px_mod_path.h. */
#include "px_mod_path.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int px_mod_path(const px_module_env *env, const char *path, char *out, size_t cap)
{
    int n;
    if (path[0] == '/') {
        n = snprintf(out, cap, "%s", path);
    } else {
        const char *file = env && env->config_file ? env->config_file : "";
        const char *slash = strrchr(file, '/');
        int dlen = slash ? (int)(slash - file) : 0; /* "/x.yaml": 0, the root */
        char cwd[4096] = "";
        if (file[0] != '/' && getcwd(cwd, sizeof cwd) == NULL)
            snprintf(cwd, sizeof cwd, ".");
        n = snprintf(out, cap, "%s%s%.*s/%s", cwd, cwd[0] && dlen ? "/" : "", dlen, file, path);
    }
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}
