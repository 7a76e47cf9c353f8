/* Finds module .so files on the module path, dlopens them and checks the descriptor. */
#define _GNU_SOURCE /* dladdr1: the size of the exported descriptor */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "px_loader.h"
#include "px_builtin.h"
#include "px_conf.h"
#include "px_kinds.h"

typedef struct px__loaded {
    const px_module *mod;
    char *path;   /* the file as it was opened; PX_BUILTIN_PATH for a built-in module */
    void *handle; /* from dlopen; NULL for a built-in module */
} px__loaded;

/* Not thread-safe: modules are loaded while a config is read, before any thread runs. */
struct px_loader {
    char *base; /* relative module files are relative to this folder; NULL: the cwd */
    char **paths;
    size_t n_paths;
    px__loaded *mods;
    size_t n_mods, cap_mods;
};

/* What a refusal message starts with: who asked for which module. */
typedef struct px__want {
    px_module_kind kind; /* 0: any kind */
    const char *name;    /* the descriptor name asked for, or NULL (an explicit file) */
    char prefix[160];    /* "module 'random' (balancer): " or "" */
} px__want;

px_loader *px_loader_new(void)
{
    return calloc(1, sizeof(px_loader));
}

int px_loader_add_path(px_loader *l, const char *dir)
{
    /* An empty directory would make "lb_x.so", which dlopen looks up on the
     * system library path: never what a config means. */
    if (dir == NULL || dir[0] == '\0')
        return -1;
    /* The installed directory may also be listed in the config: searched once. */
    for (size_t i = 0; i < l->n_paths; i++)
        if (strcmp(l->paths[i], dir) == 0)
            return 0;
    char *copy = strdup(dir);
    if (copy == NULL)
        return -1;
    char **p = realloc(l->paths, (l->n_paths + 1) * sizeof *p);
    if (p == NULL) {
        free(copy);
        return -1;
    }
    p[l->n_paths++] = copy;
    l->paths = p;
    return 0;
}

int px_loader_add_path_list(px_loader *l, const char *list)
{
    if (list == NULL)
        return 0;
    char *copy = strdup(list);
    if (copy == NULL)
        return -1;
    int rc = 0;
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && rc == 0; d = strtok_r(NULL, ":", &save))
        rc = px_loader_add_path(l, d);
    free(copy);
    return rc;
}

int px_loader_set_base(px_loader *l, const char *dir)
{
    char *copy = strdup(dir);
    if (copy == NULL)
        return -1;
    free(l->base);
    l->base = copy;
    return 0;
}

size_t px_loader_path_count(const px_loader *l)
{
    return l->n_paths;
}

const char *px_loader_path_at(const px_loader *l, size_t i)
{
    return i < l->n_paths ? l->paths[i] : NULL;
}

size_t px_loader_count(const px_loader *l)
{
    return l->n_mods;
}

const px_module *px_loader_at(const px_loader *l, size_t i, const char **path)
{
    if (i >= l->n_mods)
        return NULL;
    if (path)
        *path = l->mods[i].path;
    return l->mods[i].mod;
}

void px_loader_free(px_loader *l)
{
    if (l == NULL)
        return;
    /* Reverse load order: a later module may use an earlier one's symbols. */
    for (size_t i = l->n_mods; i-- > 0;) {
        if (l->mods[i].handle == NULL)
            continue; /* built in: nothing was opened */
        dlclose(l->mods[i].handle);
        free(l->mods[i].path);
    }
    for (size_t i = 0; i < l->n_paths; i++)
        free(l->paths[i]);
    free(l->mods);
    free(l->paths);
    free(l->base);
    free(l);
}

static int px__kind_valid(px_module_kind kind)
{
    return px_kind_get(kind) != NULL;
}

static px__loaded *px__find_by_name(px_loader *l, px_module_kind kind, const char *name)
{
    for (size_t i = 0; i < l->n_mods; i++)
        if (l->mods[i].mod->kind == kind && strcmp(l->mods[i].mod->name, name) == 0)
            return &l->mods[i];
    return NULL;
}

static px__loaded *px__find_by_mod(px_loader *l, const px_module *mod)
{
    for (size_t i = 0; i < l->n_mods; i++)
        if (l->mods[i].mod == mod)
            return &l->mods[i];
    return NULL;
}

/* Bytes a directive of `type` occupies in the conf struct; 0 for an unknown type. */
static size_t px__dir_size(px_dir_type type)
{
    switch (type) {
    case PX_DIR_BOOL:
    case PX_DIR_ENUM: return sizeof(int);
    case PX_DIR_INT:
    case PX_DIR_DURATION: return sizeof(int64_t);
    case PX_DIR_DOUBLE: return sizeof(double);
    case PX_DIR_SIZE: return sizeof(uint64_t);
    case PX_DIR_STRING: return sizeof(char *);
    case PX_DIR_LIST: return sizeof(px_dir_list *);
    }
    return 0;
}

/* The part of a directive table only the loader can check: every field fits conf_size. */
static px_status px__check_offsets(const px_module *m, px_err *err)
{
    for (const px_directive *d = m->directives; d->name; d++) {
        size_t sz = px__dir_size(d->type);
        if (sz == 0)
            return px_err_set(err, PX_INVALID_ARGUMENT, "directive '%s' has unknown type %d",
                              d->name, (int)d->type);
        if (d->offset > m->conf_size || sz > m->conf_size - d->offset)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "directive '%s' at offset %zu (%zu bytes) lies outside "
                              "conf_size %zu",
                              d->name, d->offset, sz, m->conf_size);
    }
    return PX_OK;
}

/* Size of the symbol at addr as the ELF symbol table records it; 0 when unknown. */
static size_t px__symbol_size(const void *addr)
{
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 || sym == NULL)
        return 0;
    return sym->st_size;
}

/* Every reason to refuse a descriptor, checked before any of its hooks runs. */
static px_status px__check_descriptor(px_loader *l, const px__want *w, const char *file,
                                      const px_module *m, px_err *err)
{
    const char *pre = w->prefix;
    /* A built-in descriptor is no exported symbol: dladdr would name its neighbour. */
    size_t symsize = strcmp(file, PX_BUILTIN_PATH) == 0 ? 0 : px__symbol_size(m);
    if (symsize != 0 && symsize < sizeof m->magic)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: symbol '%s' is only %zu bytes: not a Plexus module descriptor",
                          pre, file, PX_MODULE_SYMBOL, symsize);
    if (m->magic != PX_MODULE_MAGIC)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: bad magic 0x%08x in '%s' (expected 0x%08x): not a Plexus "
                          "module descriptor",
                          pre, file, (unsigned)m->magic, PX_MODULE_SYMBOL,
                          (unsigned)PX_MODULE_MAGIC);
    /* Minors only append inside the fixed-size struct, so the size is stable per major. */
    if (symsize != 0 && symsize < offsetof(px_module, spare))
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: symbol '%s' is %zu bytes, a px_module descriptor is %zu",
                          pre, file, PX_MODULE_SYMBOL, symsize, sizeof(px_module));
    if (m->abi_major != PX_ABI_MAJOR)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: module ABI %u.%u is incompatible with the core's ABI %d.%d "
                          "(major differs): rebuild the module against this SDK",
                          pre, file, (unsigned)m->abi_major, (unsigned)m->abi_minor,
                          PX_ABI_MAJOR, PX_ABI_MINOR);
    if (m->signature == NULL || strcmp(m->signature, PX_MODULE_SIGNATURE) != 0)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: signature mismatch: module built as '%s', core is '%s' "
                          "(type sizes or byte order differ): rebuild the module for this "
                          "platform",
                          pre, file, m->signature ? m->signature : "(none)",
                          PX_MODULE_SIGNATURE);
    if (!px__kind_valid(m->kind))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s%s: unknown module kind %d", pre, file,
                          (int)m->kind);
    if (w->kind != 0 && m->kind != w->kind)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s%s: wrong kind: the module is a %s, a %s was expected", pre, file,
                          px_module_kind_name(m->kind), px_module_kind_name(w->kind));
    if (m->name == NULL || m->name[0] == '\0')
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s%s: the descriptor has no name", pre,
                          file);
    if (w->name != NULL && strcmp(m->name, w->name) != 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s%s: name mismatch: the descriptor is named '%s', expected '%s'",
                          pre, file, m->name, w->name);
    px__loaded *dup = px__find_by_name(l, m->kind, m->name);
    if (dup != NULL)
        return px_err_set(err, PX_ALREADY_EXISTS,
                          "%s%s: duplicate %s '%s': already loaded from %s", pre, file,
                          px_module_kind_name(m->kind), m->name, dup->path);
    if (m->ops == NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s%s: %s '%s' has no ops table", pre,
                          file, px_module_kind_name(m->kind), m->name);
    const px_kind *k = px_kind_get(m->kind);
    if (m->abi_minor < k->since_minor)
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: %s '%s' declares ABI %u.%u, but %s modules exist since "
                          "ABI %d.%u",
                          pre, file, k->name, m->name, (unsigned)m->abi_major,
                          (unsigned)m->abi_minor, k->name, PX_ABI_MAJOR, k->since_minor);
    const char *missing = k->missing_op(m->ops);
    if (missing != NULL)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "%s%s: %s '%s' has no '%s' op, which every %s module needs", pre,
                          file, k->name, m->name, missing, k->name);
    if (m->directives != NULL) {
        px_err derr;
        px_err_clear(&derr);
        px_status st = px_conf_check_table(m->directives, &derr);
        if (st == PX_OK)
            st = px__check_offsets(m, &derr);
        if (st != PX_OK)
            return px_err_set(err, st, "%s%s: bad directive table of %s '%s': %s", pre, file,
                              px_module_kind_name(m->kind), m->name, derr.msg);
    }
    return PX_OK;
}

/* Adds a checked module to the loaded list. 0, or -1 when out of memory. */
static int px__record(px_loader *l, const px_module *m, char *path, void *handle)
{
    if (l->n_mods == l->cap_mods) {
        size_t cap = l->cap_mods ? l->cap_mods * 2 : 8;
        px__loaded *p = realloc(l->mods, cap * sizeof *p);
        if (p == NULL)
            return -1;
        l->mods = p;
        l->cap_mods = cap;
    }
    l->mods[l->n_mods++] = (px__loaded){.mod = m, .path = path, .handle = handle};
    return 0;
}

/* Opens one file, checks it and records it; cached when the same object is loaded. */
static px_status px__open(px_loader *l, const px__want *w, const char *file,
                          const px_module **mod, const char **path, px_err *err)
{
    const char *pre = w->prefix;
    struct stat sb;
    if (stat(file, &sb) != 0)
        return px_err_set(err, errno == ENOENT ? PX_NOT_FOUND : PX_PERMISSION_DENIED,
                          "%s%s: %s", pre, file,
                          errno == ENOENT ? "not found" : strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s%s: not a regular file", pre, file);
    /* Loading runs the file's code in this process: whoever may write the file, or
     * swap it in its folder, could run code here. */
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return px_err_set(err, PX_PERMISSION_DENIED,
                          "%s%s: writable by group or others (mode %04o); refusing to load it "
                          "(fix: chmod go-w %s)",
                          pre, file, (unsigned)(sb.st_mode & 07777), file);
    char dir[4096];
    const char *slash = strrchr(file, '/');
    size_t dl = slash ? (size_t)(slash - file) : 0;
    if (dl == 0 || dl >= sizeof dir)
        snprintf(dir, sizeof dir, "%s", dl == 0 && slash ? "/" : ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)dl, file);
    struct stat db;
    if (stat(dir, &db) == 0 && (db.st_mode & (S_IWGRP | S_IWOTH)) && !(db.st_mode & S_ISVTX))
        return px_err_set(err, PX_PERMISSION_DENIED,
                          "%s%s: its directory %s is writable by group or others (mode %04o); "
                          "refusing to load it (fix: chmod go-w %s)",
                          pre, file, dir, (unsigned)(db.st_mode & 07777), dir);

    dlerror();
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        return px_err_set(err, PX_FAILED_PRECONDITION, "%s%s: cannot be loaded: %s", pre, file,
                          why ? why : "dlopen failed");
    }
    dlerror();
    const px_module *m = dlsym(h, PX_MODULE_SYMBOL);
    if (m == NULL) {
        dlclose(h);
        return px_err_set(err, PX_FAILED_PRECONDITION,
                          "%s%s: no '%s' symbol: not a Plexus module", pre, file,
                          PX_MODULE_SYMBOL);
    }

    /* dlopen returns the same object for a file already loaded (even by another
     * path); it was checked then, only the kind and name asked for may differ. */
    px__loaded *same = px__find_by_mod(l, m);
    if (same != NULL) {
        dlclose(h); /* drops the reference this dlopen added */
        if (w->kind != 0 && m->kind != w->kind)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "%s%s: wrong kind: the module is a %s, a %s was expected", pre,
                              file, px_module_kind_name(m->kind), px_module_kind_name(w->kind));
        if (w->name != NULL && strcmp(m->name, w->name) != 0)
            return px_err_set(err, PX_INVALID_ARGUMENT,
                              "%s%s: name mismatch: the descriptor is named '%s', expected '%s'",
                              pre, file, m->name, w->name);
        *mod = m;
        if (path)
            *path = same->path;
        return PX_OK;
    }

    px_status st = px__check_descriptor(l, w, file, m, err);
    char *copy = st == PX_OK ? strdup(file) : NULL;
    if (st == PX_OK && (copy == NULL || px__record(l, m, copy, h) != 0))
        st = px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s%s: out of memory", pre, file);
    if (st != PX_OK) {
        free(copy);
        dlclose(h);
        return st;
    }
    *mod = m;
    if (path)
        *path = copy;
    return PX_OK;
}

/* A built-in module, checked as a file is (its descriptor is as much a contract). */
static px_status px__builtin(px_loader *l, const px__want *w, const px_module *m,
                             const px_module **mod, const char **path, px_err *err)
{
    px_status st = px__check_descriptor(l, w, PX_BUILTIN_PATH, m, err);
    if (st != PX_OK)
        return st;
    if (px__record(l, m, (char *)PX_BUILTIN_PATH, NULL) != 0)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%sout of memory", w->prefix);
    *mod = m;
    if (path)
        *path = PX_BUILTIN_PATH;
    return PX_OK;
}

/* "<dir>/<file>" without doubling a trailing slash; NULL on OOM. */
static char *px__join(const char *dir, const char *file)
{
    size_t dl = strlen(dir), fl = strlen(file);
    int slash = dl > 0 && dir[dl - 1] == '/';
    char *s = malloc(dl + !slash + fl + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, dir, dl);
    if (!slash)
        s[dl++] = '/';
    memcpy(s + dl, file, fl + 1);
    return s;
}

/* Appends s to the fixed buffer, ending with "..." when it no longer fits. */
static void px__append_trunc(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t sl = strlen(s);
    if (*len + sl + 4 > cap) {
        if (*len + 4 <= cap) {
            memcpy(buf + *len, "...", 4);
            *len = cap; /* full: later appends are dropped */
        }
        return;
    }
    memcpy(buf + *len, s, sl + 1);
    *len += sl;
}

px_status px_loader_load(px_loader *l, px_module_kind kind, const char *name,
                         const px_module **mod, const char **path, px_err *err)
{
    if (l == NULL || mod == NULL || name == NULL || name[0] == '\0')
        return px_err_set(err, PX_INVALID_ARGUMENT, "module load: no module name given");
    if (!px__kind_valid(kind))
        return px_err_set(err, PX_INVALID_ARGUMENT, "module '%s': unknown module kind %d", name,
                          (int)kind);
    px__want w = {.kind = kind, .name = NULL};
    snprintf(w.prefix, sizeof w.prefix, "module '%s' (%s): ", name, px_module_kind_name(kind));

    /* An explicit file: its descriptor may carry any name. */
    if (strchr(name, '/') != NULL && (name[0] == '/' || l->base == NULL))
        return px__open(l, &w, name, mod, path, err);
    if (strchr(name, '/') != NULL) {
        char *file = px__join(l->base, name);
        if (file == NULL)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%sout of memory", w.prefix);
        px_status st = px__open(l, &w, file, mod, path, err);
        free(file);
        return st;
    }

    px__loaded *hit = px__find_by_name(l, kind, name);
    if (hit != NULL) {
        *mod = hit->mod;
        if (path)
            *path = hit->path;
        return PX_OK;
    }

    w.name = name;
    /* Built-in modules come first: the core's own `static` cannot be shadowed by a
     * stray file on the path. */
    const px_module *b = px_builtin_find(kind, name);
    if (b != NULL)
        return px__builtin(l, &w, b, mod, path, err);
    char file[256];
    int n = snprintf(file, sizeof file, "%s%s.so", px_module_kind_prefix(kind), name);
    if (n < 0 || (size_t)n >= sizeof file)
        return px_err_set(err, PX_INVALID_ARGUMENT, "%sthe name is too long", w.prefix);

    char tried[400];
    size_t tl = 0;
    tried[0] = '\0';
    for (size_t i = 0; i < l->n_paths; i++) {
        char *cand = px__join(l->paths[i], file);
        if (cand == NULL)
            return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%sout of memory", w.prefix);
        struct stat sb;
        /* The first file that exists wins; a broken one is reported, not skipped,
         * so a stale module early on the path cannot hide behind a later one. */
        if (stat(cand, &sb) == 0) {
            px_status st = px__open(l, &w, cand, mod, path, err);
            free(cand);
            return st;
        }
        if (i > 0)
            px__append_trunc(tried, sizeof tried, &tl, ", ");
        px__append_trunc(tried, sizeof tried, &tl, cand);
        free(cand);
    }
    return px_err_set(err, PX_NOT_FOUND, "%s%s not found; searched: %s", w.prefix, file,
                      l->n_paths ? tried : "(no module path configured)");
}

px_status px_loader_load_file(px_loader *l, const char *file, px_module_kind kind,
                              const px_module **mod, px_err *err)
{
    if (l == NULL || mod == NULL || file == NULL || file[0] == '\0')
        return px_err_set(err, PX_INVALID_ARGUMENT, "module load: no file given");
    if (kind != 0 && !px__kind_valid(kind))
        return px_err_set(err, PX_INVALID_ARGUMENT, "%s: unknown module kind %d", file,
                          (int)kind);
    px__want w = {.kind = kind, .name = NULL, .prefix = ""};
    if (strchr(file, '/') != NULL)
        return px__open(l, &w, file, mod, NULL, err);
    /* A bare "x.so" would make dlopen search the system library path; the caller
     * named a file, so it is the one in the current directory. */
    char *local = px__join(".", file);
    if (local == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "%s: out of memory", file);
    px_status st = px__open(l, &w, local, mod, NULL, err);
    free(local);
    return st;
}
