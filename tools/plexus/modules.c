/* plexus modules -c FILE: every module the config loaded, and the directives each accepts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Column widths over every module, so the table lines up as one. */
typedef struct px__widths {
    int kind, name, version;
    int dname, dtype, ddef;
} px__widths;

static int px__max(int a, size_t b)
{
    return (size_t)a > b ? a : (int)b;
}

static const char *px__default_text(const px_directive *d)
{
    if (d->def != NULL)
        return d->def;
    return d->required ? "(required)" : "-";
}

static void px__measure(const px_config *cfg, px__widths *w)
{
    *w = (px__widths){strlen("KIND"), strlen("NAME"), strlen("VERSION"), 0, 0, 0};
    for (size_t i = 0; i < px_config_module_count(cfg); i++) {
        const px_module *m = px_config_module(cfg, i, NULL);
        w->kind = px__max(w->kind, strlen(px_module_kind_name(m->kind)));
        w->name = px__max(w->name, strlen(m->name));
        w->version = px__max(w->version, strlen(m->version ? m->version : "-"));
        for (const px_directive *d = m->directives; d && d->name; d++) {
            w->dname = px__max(w->dname, strlen(d->name));
            w->dtype = px__max(w->dtype, strlen(px_dir_type_name(d->type)));
            w->ddef = px__max(w->ddef, strlen(px__default_text(d)));
        }
    }
}

static void px__print_directives(const px_module *m, const px__widths *w)
{
    if (m->directives == NULL || m->directives[0].name == NULL) {
        printf("    (no directives)\n");
        return;
    }
    for (const px_directive *d = m->directives; d->name; d++) {
        printf("    %-*s  %-*s  %-*s", w->dname, d->name, w->dtype, px_dir_type_name(d->type),
               w->ddef, px__default_text(d));
        if (d->type == PX_DIR_ENUM && d->enum_values != NULL) {
            printf("  one of:");
            for (const char *const *v = d->enum_values; *v; v++)
                printf(" %s", *v);
        }
        if (d->help != NULL)
            printf("  %s", d->help);
        printf("\n");
    }
}

void px_cli_modules_help(void)
{
    printf("Usage: plexus modules -c FILE\n"
           "List the modules a configuration loads (kind, name, version, file) and under\n"
           "each the directives (YAML keys) it accepts: name, type, default, range, help.\n"
           "\n"
           "  -c, --config=FILE  the YAML configuration\n"
           "  -h, --help         print this help and exit\n"
           "  -V, --version      print the version and exit\n"
           "\n"
           "Exit status: 0 listed; 1 the configuration did not load; 2 bad arguments.\n");
}

int px_cli_modules(int argc, char **argv)
{
    int rc = PX_CLI_OK;
    const char *file = px_cli_only_config(argc, argv, px_cli_modules_help, &rc);
    if (file == NULL)
        return rc;
    px_config *cfg = px_cli_load_config(file);
    if (cfg == NULL)
        return PX_CLI_FAIL;
    px__widths w;
    px__measure(cfg, &w);
    printf("%-*s  %-*s  %-*s  %s\n", w.kind, "KIND", w.name, "NAME", w.version, "VERSION", "PATH");
    for (size_t i = 0; i < px_config_module_count(cfg); i++) {
        const char *path = NULL;
        const px_module *m = px_config_module(cfg, i, &path);
        printf("%-*s  %-*s  %-*s  %s\n", w.kind, px_module_kind_name(m->kind), w.name, m->name,
               w.version, m->version ? m->version : "-", path ? path : "-");
        px__print_directives(m, &w);
    }
    if (px_config_module_count(cfg) == 0)
        printf("(the configuration loads no modules)\n");
    px_config_free(cfg);
    return PX_CLI_OK;
}
