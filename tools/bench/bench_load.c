/* plexus-codec-bench: finds codec modules and loads them as the core does (loader,
 * defaults, create), through the SDK's px_codec_open. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec_bench.h"

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
    px_bench_codec *c = &cs->v[cs->n];
    *c = (px_bench_codec){ 0 };
    /* No YAML keys: every directive takes its default, as a bare `codecs: [name]` does. */
    if (px_codec_open(NULL, file, "bench", &c->h, &err) != PX_OK) {
        fprintf(stderr, "plexus-codec-bench: %s\n", err.msg);
        return -1;
    }
    c->mod = px_codec_handle_module(c->h);
    c->ops = px_codec_handle_ops(c->h);
    c->state = px_codec_handle_state(c->h);
    c->path = px_codec_handle_path(c->h);
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
    cs->v = calloc(n_found + n_extra + 1, sizeof *cs->v);
    if (cs->v == NULL) {
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
    for (size_t i = 0; i < cs->n; i++)
        px_codec_close(cs->v[i].h);
    free(cs->v);
    *cs = (px_bench_codecs){ 0 };
}
