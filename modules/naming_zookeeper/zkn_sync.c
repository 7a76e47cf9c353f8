/* Reading the providers: the children of <root>/<service>/providers with a child watch,
 * each child's data with a data watch, and the list built and delivered once every read
 * of the latest listing has answered. Everything here runs on one session's completion
 * thread (the library calls back there), so the table needs no lock. A read that fails
 * for a connection problem delivers nothing: the reconnect reads everything again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkn.h"

/* What a request needs when it answers: the session, the listing it belongs to and,
 * for a data read, the child. */
typedef struct zkn_req {
    zkn_sess *s;
    uint64_t epoch;
    char name[];
} zkn_req;

static zkn_req *req_new(zkn_sess *s, const char *name)
{
    size_t l = name ? strlen(name) : 0;
    zkn_req *r = malloc(sizeof *r + l + 1);
    if (r == NULL)
        return NULL;
    r->s = s;
    r->epoch = s->epoch;
    memcpy(r->name, name ? name : "", l + 1);
    return r;
}

static int retired(const zkn_sess *s)
{
    return __atomic_load_n(&s->retired, __ATOMIC_ACQUIRE);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const zkn_entry *)a)->name, ((const zkn_entry *)b)->name);
}

static zkn_entry *find(zkn_sess *s, const char *name)
{
    zkn_entry key = {.name = (char *)name};
    return s->n ? bsearch(&key, s->ents, s->n, sizeof key, by_name) : NULL;
}

void zkn_sync_free_table(zkn_sess *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ents[i].name);
    free(s->ents);
    s->ents = NULL;
    s->n = 0;
}

static int by_address(const void *a, const void *b)
{
    return strcmp(((const px_naming_endpoint *)a)->address,
                  ((const px_naming_endpoint *)b)->address);
}

/* The table as a list: the nodes taken, one endpoint per address (two nodes of one
 * server, as during its reload, are one endpoint with the higher weight). */
static void deliver(zkn_sess *s)
{
    zkn *m = s->m;
    size_t k = 0, bad = 0;
    px_naming_endpoint *eps = calloc(s->n ? s->n : 1, sizeof *eps);
    if (eps == NULL) {
        px_log(PX_LOG_WARN, ZKN_MOD, "upstream %s: out of memory: the list stays as it was",
               m->upstream);
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        const zkn_entry *e = &s->ents[i];
        if (e->gone)
            continue;
        if (e->res == ZKN_NODE_BAD)
            bad++;
        if (e->res == ZKN_NODE_OK)
            eps[k++] = (px_naming_endpoint){.address = e->node.address, .weight = e->node.weight};
    }
    if (k == 0 && bad > 0) { /* garbage is not "no server is left" */
        px_log(PX_LOG_WARN, ZKN_MOD,
               "upstream %s: every node under %s is refused: the list stays as it was",
               m->upstream, m->path);
        free(eps);
        zkn_synced(m, 0, 0);
        return;
    }
    qsort(eps, k, sizeof *eps, by_address);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u > 0 && strcmp(eps[u - 1].address, eps[i].address) == 0) {
            if (eps[i].weight > eps[u - 1].weight)
                eps[u - 1].weight = eps[i].weight;
            continue;
        }
        eps[u++] = eps[i];
    }
    px_naming_set(m->sink, eps, u); /* entries the core refuses are logged by it */
    free(eps);
    px_metric_add(m->updates, 1);
    px_metric_set(m->endpoints, (double)u);
    zkn_synced(m, u, 1);
}

static void refused(zkn_sess *s, const char *name, const char *why)
{
    px_log(PX_LOG_WARN, ZKN_MOD, "upstream %s: znode %s/%s refused: %s (the other nodes apply)",
           s->m->upstream, s->m->path, name, why);
    px_metric_add(s->m->refused, 1);
}

static void data_done(int rc, const char *value, int len, const struct Stat *stat,
                      const void *data)
{
    zkn_req *r = (zkn_req *)data;
    zkn_sess *s = r->s;
    zkn_entry *e = r->epoch == s->epoch && !retired(s) ? find(s, r->name) : NULL;
    if (e == NULL || e->fresh || (rc != ZOK && rc != ZNONODE)) {
        /* an older listing's read, or a connection problem: the resync covers it */
        free(r);
        return;
    }
    e->fresh = 1;
    e->gone = rc == ZNONODE;
    if (rc == ZOK) {
        char why[256];
        const char *proto = s->m->protocol[0] ? s->m->protocol : NULL;
        e->res = zkn_node_parse(value, len, proto, &e->node, why, sizeof why);
        /* Said once per version of the node: a resync reads it again unchanged. */
        int64_t version = stat ? stat->mzxid : 0;
        if (e->res == ZKN_NODE_BAD && (version == 0 || version != e->bad_version))
            refused(s, r->name, why);
        e->bad_version = e->res == ZKN_NODE_BAD ? version : 0;
    }
    free(r);
    if (--s->pending == 0)
        deliver(s);
}

static void read_child(zkn_sess *s, zkn_entry *e)
{
    char path[ZKN_PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", s->m->path, e->name);
    zkn_req *r = req_new(s, e->name);
    if (r == NULL)
        return; /* out of memory: this listing never completes; the next one may */
    int rc = zoo_awget(s->zh, path, zkn_node_event, s, data_done, r);
    if (rc != ZOK) {
        free(r);
        return;
    }
    s->pending++;
}

static void listing_done(int rc, const struct String_vector *names, const struct Stat *stat,
                         const void *data);
static void exists_done(int rc, const struct Stat *stat, const void *data);

/* Asks for the children again (and re-arms the child watch). */
static void list_children(zkn_sess *s)
{
    s->epoch++;
    s->pending = 0;
    zkn_req *r = req_new(s, NULL);
    if (r == NULL)
        return;
    if (zoo_awget_children2(s->zh, s->m->path, zkn_node_event, s, listing_done, r) != ZOK)
        free(r); /* not connected: the reconnect lists again */
}

/* A new table for the names listed: entries kept for the names still there (a current
 * read stays current), the others read. */
static void take_listing(zkn_sess *s, const struct String_vector *names)
{
    size_t n = names ? (size_t)names->count : 0;
    zkn_entry *t = calloc(n ? n : 1, sizeof *t);
    if (t == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const zkn_entry *old = find(s, names->data[i]);
        t[k] = old ? *old : (zkn_entry){0}; /* the name is copied below: the old table is
                                             * searched still */
        t[k].fresh = old && old->fresh && !old->gone;
        t[k].gone = 0;
        if ((t[k].name = strdup(names->data[i])) != NULL)
            k++;
    }
    zkn_sync_free_table(s);
    s->ents = t;
    s->n = k;
    qsort(s->ents, s->n, sizeof *s->ents, by_name);
    for (size_t i = 0; i < s->n; i++)
        if (!s->ents[i].fresh)
            read_child(s, &s->ents[i]);
    if (s->pending == 0)
        deliver(s);
}

static void listing_done(int rc, const struct String_vector *names, const struct Stat *stat,
                         const void *data)
{
    (void)stat;
    zkn_req *r = (zkn_req *)data;
    zkn_sess *s = r->s;
    int current = r->epoch == s->epoch && !retired(s);
    free(r);
    if (!current)
        return; /* a newer listing is on its way */
    if (rc == ZOK) {
        s->missing_logged = 0;
        take_listing(s, names);
    } else if (rc == ZNONODE) {
        /* No server registered yet: deliver nothing, wait for the path to appear. */
        if (!s->missing_logged)
            px_log(PX_LOG_WARN, ZKN_MOD,
                   "upstream %s: %s does not exist: no endpoints until a server registers",
                   s->m->upstream, s->m->path);
        s->missing_logged = 1;
        zkn_req *e = req_new(s, NULL);
        if (e != NULL && zoo_awexists(s->zh, s->m->path, zkn_node_event, s, exists_done, e) != ZOK)
            free(e);
        zkn_synced(s->m, 0, 0);
    } else if (rc == ZNOAUTH) {
        px_log(PX_LOG_ERROR, ZKN_MOD,
               "upstream %s: not allowed to read %s (its ACL needs READ for this client): the "
               "list stays as it was",
               s->m->upstream, s->m->path);
        zkn_synced(s->m, 0, 0);
    } else {
        px_log(PX_LOG_DEBUG, ZKN_MOD, "upstream %s: listing %s: %s", s->m->upstream, s->m->path,
               zerror(rc));
    }
}

static void exists_done(int rc, const struct Stat *stat, const void *data)
{
    (void)stat;
    zkn_req *r = (zkn_req *)data;
    zkn_sess *s = r->s;
    int current = r->epoch == s->epoch && !retired(s);
    free(r);
    if (current && rc == ZOK)
        list_children(s); /* made between the listing and this check */
}

void zkn_node_event(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)state;
    zkn_sess *s = ctx;
    if (type == ZOO_SESSION_EVENT || retired(s) || path == NULL)
        return; /* session events go to the session's watcher */
    size_t pl = strlen(s->m->path);
    if (type == ZOO_CHANGED_EVENT && strncmp(path, s->m->path, pl) == 0 && path[pl] == '/') {
        zkn_entry *e = find(s, path + pl + 1);
        if (e != NULL)
            e->fresh = 0;
    }
    /* Children changed, a child changed or went, the path came or went: list again
     * (which re-arms the child watch) and read what is not current. */
    list_children(s);
}

void zkn_sync_all(zkn_sess *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->ents[i].fresh = 0;
    list_children(s);
}
