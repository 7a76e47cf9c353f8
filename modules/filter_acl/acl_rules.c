/* acl rules: parsing and first-match lookup (see acl_rules.h). */
#include "acl_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACL_WORDS_MAX 64

/* Letters, digits, '_' and '.' (a protobuf package and service name). */
static int acl_ident(const char *b, const char *e, int dots)
{
    if (b == e)
        return 0;
    for (; b < e; b++)
        if (!(isalnum((unsigned char)*b) || *b == '_' || (dots && *b == '.')))
            return 0;
    return 1;
}

/* One METHOD word into p; NULL or why it is not one. */
static const char *acl_pattern_parse(const char *w, size_t len, acl_pattern *p)
{
    const char *slash = memchr(w, '/', len), *end = w + len;
    if (len == 1 && w[0] == '*')
        p->kind = ACL_ANY_METHOD;
    else if (slash && acl_ident(w, slash, 1) && end - slash == 2 && slash[1] == '*') {
        p->kind = ACL_SERVICE;
        len--; /* kept as "pkg.Svc/": a prefix */
    } else if (slash && acl_ident(w, slash, 1) && acl_ident(slash + 1, end, 0))
        p->kind = ACL_METHOD;
    else
        return "is not *, package.Service/* or package.Service/Method";
    if ((p->text = malloc(len + 1)) == NULL)
        return "out of memory";
    memcpy(p->text, w, len);
    p->text[len] = '\0';
    p->len = len;
    return NULL;
}

/* The WHO word into r; NULL or why not. */
static const char *acl_who_parse(const char *w, size_t len, acl_rule *r)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)w[i] <= 0x20 || (unsigned char)w[i] >= 0x7f || w[i] == ',')
            return "is not *, anonymous, group:NAME or a principal (printable ASCII, no comma)";
    const char *name = w;
    if (len == 1 && w[0] == '*')
        r->who = ACL_ANYONE;
    else if (len == 9 && memcmp(w, "anonymous", 9) == 0)
        r->who = ACL_ANONYMOUS;
    else if (len > 6 && memcmp(w, "group:", 6) == 0) {
        r->who = ACL_GROUP;
        name += 6;
    } else if (len >= 6 && memcmp(w, "group:", 6) == 0)
        return "names no group";
    else
        r->who = ACL_PRINCIPAL;
    if (r->who == ACL_GROUP || r->who == ACL_PRINCIPAL) {
        size_t n = len - (size_t)(name - w);
        if (n > PX_PRINCIPAL_MAX)
            return "is longer than 128 bytes";
        if ((r->name = malloc(n + 1)) == NULL)
            return "out of memory";
        memcpy(r->name, name, n);
        r->name[n] = '\0';
    }
    return NULL;
}

static void acl_rule_free(acl_rule *r)
{
    free(r->name);
    for (size_t i = 0; i < r->n_what; i++)
        free(r->what[i].text);
    free(r->what);
}

/* One rule's text into r; NULL or why not ("'word' ..."), the offending word in *bad. */
static const char *acl_rule_parse(const char *text, acl_rule *r, char *bad, size_t bad_cap)
{
    const char *w[ACL_WORDS_MAX];
    size_t wl[ACL_WORDS_MAX], n = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (n == ACL_WORDS_MAX)
            return "has more than 62 methods (split it)";
        w[n] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        wl[n] = (size_t)(p - w[n]);
        n++;
    }
    if (n < 3)
        return "is not 'allow|deny WHO METHOD...' (e.g. 'allow group:admin *')";
    const char *why = NULL;
    size_t at = 0;
    if (wl[0] == 5 && memcmp(w[0], "allow", 5) == 0)
        r->allow = 1;
    else if (!(wl[0] == 4 && memcmp(w[0], "deny", 4) == 0))
        why = "is not allow or deny";
    if (!why && (why = acl_who_parse(w[1], wl[1], r)) != NULL)
        at = 1;
    if (!why && (r->what = calloc(n - 2, sizeof *r->what)) == NULL)
        why = "out of memory";
    for (size_t i = 2; !why && i < n; i++, r->n_what++)
        if ((why = acl_pattern_parse(w[i], wl[i], &r->what[i - 2])) != NULL)
            at = i;
    if (why)
        snprintf(bad, bad_cap, "%.*s", (int)wl[at], w[at]);
    return why;
}

px_status acl_rules_parse(const px_dir_list *list, acl_rules *out, px_err *err)
{
    *out = (acl_rules){NULL, 0};
    if (list == NULL || list->n == 0)
        return px_err_set(err, PX_INVALID_ARGUMENT,
                          "rules: none given (e.g. rules: ['allow group:admin *'])");
    if ((out->r = calloc(list->n, sizeof *out->r)) == NULL)
        return px_err_set(err, PX_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < list->n; i++, out->n++) {
        char bad[160];
        const px_dir_item *it = &list->items[i];
        const char *why = acl_rule_parse(it->str, &out->r[i], bad, sizeof bad);
        if (why == NULL)
            continue;
        px_status st = strcmp(why, "out of memory") == 0 ? PX_RESOURCE_EXHAUSTED
                                                          : PX_INVALID_ARGUMENT;
        if (strncmp(why, "is not 'allow", 13) == 0 || strncmp(why, "has more", 8) == 0)
            px_err_set(err, st, "%s:%d:%d: rules item %zu '%s' %s", list->file, it->line,
                       it->col, i + 1, it->str, why);
        else
            px_err_set(err, st, "%s:%d:%d: rules item %zu: '%s' %s", list->file, it->line,
                       it->col, i + 1, bad, why);
        out->n++; /* what it holds so far is freed with the others */
        acl_rules_free(out);
        return st;
    }
    return PX_OK;
}

void acl_rules_free(acl_rules *rules)
{
    for (size_t i = 0; i < rules->n; i++)
        acl_rule_free(&rules->r[i]);
    free(rules->r);
    *rules = (acl_rules){NULL, 0};
}

static int acl_method_matches(const acl_rule *r, const char *method, size_t len)
{
    for (size_t i = 0; i < r->n_what; i++) {
        const acl_pattern *p = &r->what[i];
        if (p->kind == ACL_ANY_METHOD ||
            (p->kind == ACL_SERVICE && len > p->len && memcmp(method, p->text, p->len) == 0) ||
            (p->kind == ACL_METHOD && len == p->len && memcmp(method, p->text, len) == 0))
            return 1;
    }
    return 0;
}

static int acl_who_matches(const acl_rule *r, const char *principal,
                           int (*in_group)(void *ctx, const char *g), void *ctx)
{
    switch (r->who) {
    case ACL_ANYONE: return 1;
    case ACL_ANONYMOUS: return principal == NULL;
    case ACL_GROUP: return principal != NULL && in_group(ctx, r->name);
    case ACL_PRINCIPAL: return principal != NULL && strcmp(principal, r->name) == 0;
    }
    return 0;
}

const acl_rule *acl_rules_match(const acl_rules *rules, const char *method,
                                const char *principal, int (*in_group)(void *ctx, const char *g),
                                void *ctx)
{
    size_t len = strlen(method);
    for (size_t i = 0; i < rules->n; i++)
        if (acl_who_matches(&rules->r[i], principal, in_group, ctx) &&
            acl_method_matches(&rules->r[i], method, len))
            return &rules->r[i];
    return NULL;
}
