/* acl: who may call which methods, as a list of rules read from the config. */
#ifndef ACL_RULES_H
#define ACL_RULES_H

#include <stddef.h>
#include <plexus/plexus.h>

typedef enum acl_who_kind {
    ACL_ANYONE = 1,    /* "*": every call, anonymous ones too */
    ACL_ANONYMOUS,     /* "anonymous": calls no filter set a principal for */
    ACL_GROUP,         /* "group:NAME": calls whose principal is in group NAME */
    ACL_PRINCIPAL,     /* "NAME": calls of principal NAME */
} acl_who_kind;

typedef enum acl_what_kind {
    ACL_ANY_METHOD = 1, /* "*" */
    ACL_SERVICE,        /* every method of a service (text: "pkg.Svc/") */
    ACL_METHOD,         /* "pkg.Svc/Method" */
} acl_what_kind;

typedef struct acl_pattern {
    acl_what_kind kind;
    char *text;
    size_t len;
} acl_pattern;

typedef struct acl_rule {
    int allow;
    acl_who_kind who;
    char *name; /* ACL_GROUP, ACL_PRINCIPAL */
    acl_pattern *what;
    size_t n_what;
} acl_rule;

typedef struct acl_rules {
    acl_rule *r;
    size_t n;
} acl_rules;

/**
 * Parses "ACTION WHO METHOD..." rules (ACTION allow or deny; WHO *, anonymous,
 * group:NAME or a principal; METHOD "*", "pkg.Svc/" + "*" or pkg.Svc/Method). A bad rule is
 * refused with "FILE:LINE:COL: rules item N: what is wrong" at the item.
 */
px_status acl_rules_parse(const px_dir_list *list, acl_rules *out, px_err *err);
void acl_rules_free(acl_rules *rules);

/** The first rule matching a call of method by principal (NULL: anonymous) in groups
 *  (px_fcall_in_group's answer for a name, through in_group), or NULL. */
const acl_rule *acl_rules_match(const acl_rules *rules, const char *method,
                                const char *principal, int (*in_group)(void *ctx, const char *g),
                                void *ctx);

#endif
