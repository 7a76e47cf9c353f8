/* plexus-codec-bench: finds codec modules and loads them as the core does (loader, defaults, create). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec_bench.h"
#include "px_conf.h"
#include "px_loader.h"

/* The standard codecs come first, in this order; any other follows by file name. */
static const char *const px__standard[] = { "codec_protobuf.so", "codec_json.so", "codec_xml.so",
                                            "codec_binary.so", NULL };

static int px__rank(const char *file)
{
    for (int i = 0; px__standard[i] != NULL; i++)
        if (strcmp(file, px__standard[i]) == 0)
            return i;
    return 100;
}

static int px__cmp_files(const void *a, const void *b)
{
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int rx = px__rank(x), ry = px__rank(y);
    return rx != ry ? rx - ry : strcmp(x, y);
}

static int px__is_codec_file(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "codec_", 6) == 0 && n > 9 && strcmp(name + n - 3, ".so") == 0;
}

static int px__load_one(px_bench_codecs *cs, const char *file)
{
    px_err err;
    px_err_clear(&err);
    const px_module *mod;
    if (px_loader_load_file(cs->loader, file, PX_MOD_CODEC, &mod, &err) != PX_OK) {
        fprintf(stderr, "plexus-codec-bench: %s\n", err.msg);
        return -1;
    }
    px_bench_codec *c = &cs->v[cs->n];
    *c = (px_bench_codec){ .mod = mod, .ops = mod->ops };
    if ((c->path = strdup(file)) == NULL ||
        (mod->conf_size > 0 && (c->conf = calloc(1, mod->conf_size)) == NULL)) {
        fprintf(stderr, "plexus-codec-bench: out of memory loading %s\n", file);
        free(c->path);
        return -1;
    }
    /* No YAML keys: every directive takes its default, as a bare `codecs: [name]` does. */
    if (px_conf_apply(mod->directives, c->conf, NULL, NULL, file, &err) != PX_OK) {
        fprintf(stderr, "plexus-codec-bench: %s: %s\n", file, err.msg);
        free(c->conf);
        free(c->path);
        return -1;
    }
    c->state = c->conf;
    if (mod->create != NULL) {
        px_module_env env = { .config_file = "(plexus-codec-bench)", .server_id = "", .scope = "bench" };
        if (mod->create(&env, c->conf, &c->state, &err) != PX_OK) {
            fprintf(stderr, "plexus-codec-bench: %s: create: %s\n", file, err.msg);
            px_conf_release(mod->directives, c->conf);
            free(c->conf);
            free(c->path);
            return -1;
        }
    }
    cs->n++;
    return 0;
}

/* The codec_*.so files of dir, standard ones first; NULL on error (printed). */
static char **px__scan(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    *n = 0;
    if (d == NULL) {
        fprintf(stderr, "plexus-codec-bench: cannot read the module directory %s\n", dir);
        return NULL;
    }
    size_t cap = 8;
    char **files = malloc(cap * sizeof *files);
    struct dirent *e;
    while (files != NULL && (e = readdir(d)) != NULL) {
        if (!px__is_codec_file(e->d_name))
            continue;
        if (*n == cap) {
            char **grown = realloc(files, (cap *= 2) * sizeof *files);
            if (grown == NULL)
                break;
            files = grown;
        }
        if ((files[*n] = strdup(e->d_name)) == NULL)
            break;
        (*n)++;
    }
    closedir(d);
    if (files == NULL)
        fprintf(stderr, "plexus-codec-bench: out of memory reading %s\n", dir);
    else
        qsort(files, *n, sizeof *files, px__cmp_files);
    return files;
}

int px_bench_load(px_bench_codecs *cs, const char *dir, char *const *extra, size_t n_extra)
{
    *cs = (px_bench_codecs){ 0 };
    size_t n_found = 0;
    char **found = dir != NULL ? px__scan(dir, &n_found) : NULL;
    if (dir != NULL && found == NULL)
        return -1;
    int rc = 0;
    cs->loader = px_loader_new();
    cs->v = calloc(n_found + n_extra + 1, sizeof *cs->v);
    if (cs->loader == NULL || cs->v == NULL) {
        fprintf(stderr, "plexus-codec-bench: out of memory\n");
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n_found; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, found[i]);
        rc = px__load_one(cs, path);
    }
    for (size_t i = 0; rc == 0 && i < n_extra; i++)
        rc = px__load_one(cs, extra[i]);
    for (size_t i = 0; i < n_found; i++)
        free(found[i]);
    free(found);
    return rc;
}

const px_bench_codec *px_bench_find(const px_bench_codecs *cs, const char *name)
{
    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->v[i].mod->name, name) == 0)
            return &cs->v[i];
    return NULL;
}

void px_bench_unload(px_bench_codecs *cs)
{
    for (size_t i = 0; i < cs->n; i++) {
        px_bench_codec *c = &cs->v[i];
        if (c->mod->create != NULL && c->mod->destroy != NULL)
            c->mod->destroy(c->state);
        px_conf_release(c->mod->directives, c->conf);
        free(c->conf);
        free(c->path);
    }
    free(cs->v);
    if (cs->loader != NULL)
        px_loader_free(cs->loader);
    *cs = (px_bench_codecs){ 0 };
}
