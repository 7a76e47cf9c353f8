/* FILTER "acl": allows or denies each call of a server by who makes it (the principal
 * and groups an earlier filter such as auth_token set) and the method, with rules read
 * from the config, first match wins. */
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>

#include "acl_rules.h"

typedef struct acl_conf {
    px_dir_list *rules;
    int def; /* index in acl_defaults */
} acl_conf;

static const char *const acl_defaults[] = {"deny", "allow", NULL};

typedef struct acl_state {
    acl_rules rules;
    int allow_by_default;
} acl_state;

static int acl_in_group(void *ctx, const char *group)
{
    return px_fcall_in_group(ctx, group);
}

static px_filter_verdict acl_request(void *state, px_fcall *call)
{
    const acl_state *s = state;
    const char *method = px_fcall_method(call);
    const acl_rule *r = acl_rules_match(&s->rules, method, px_fcall_principal(call),
                                        acl_in_group, call);
    if (r ? r->allow : s->allow_by_default)
        return PX_FILTER_CONTINUE;
    /* The method only: which rule said no is the server's business. */
    px_fcall_reject(call, PX_PERMISSION_DENIED, "%s: permission denied", method);
    return PX_FILTER_REJECT;
}

static px_status acl_create(const px_module_env *env, const void *conf, void **state,
                            px_err *err)
{
    (void)env;
    const acl_conf *c = conf;
    acl_state *s = calloc(1, sizeof *s);
    if (s == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    px_status st = acl_rules_parse(c->rules, &s->rules, err);
    if (st != PX_OK) {
        free(s);
        return st;
    }
    s->allow_by_default = c->def == 1;
    *state = s;
    return PX_OK;
}

static void acl_destroy(void *state)
{
    acl_state *s = state;
    acl_rules_free(&s->rules);
    free(s);
}

static const px_directive acl_directives[] = {
    {.name = "rules", .type = PX_DIR_LIST, .offset = offsetof(acl_conf, rules), .required = 1,
     .help = "'allow|deny WHO METHOD...' in order, first match wins; WHO: *, anonymous, "
             "group:NAME or a principal; METHOD: *, pkg.Svc/* or pkg.Svc/Method"},
    {.name = "default", .type = PX_DIR_ENUM, .offset = offsetof(acl_conf, def), .def = "deny",
     .enum_values = acl_defaults, .help = "what a call no rule matches gets"},
    {.name = NULL},
};

static const px_filter_ops acl_ops = {
    .sides = PX_FILTER_SERVER,
    .on_request = acl_request,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "acl",
    .version = "1.0.0",
    .description = "allow or deny calls by principal, group and method (first match wins)",
    .conf_size = sizeof(acl_conf),
    .directives = acl_directives,
    .create = acl_create,
    .destroy = acl_destroy,
    .ops = &acl_ops,
};
