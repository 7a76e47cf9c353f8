/* FILTER "auth_mtls": the verified client certificate of a server's TLS connection
 * (server.tls verify_client) names the caller: its common name or one of its
 * subjectAltNames becomes the call's principal, for acl and the handler. */
#include <stdlib.h>
#include <string.h>
#include <plexus/plexus.h>

typedef struct mtls_conf {
    int from;     /* index in mtls_from */
    int required; /* a call without a usable certificate is refused */
} mtls_conf;

static const char *const mtls_from[] = {"cn", "uri", "dns", "email", NULL};
static const char *const mtls_san_prefix[] = {NULL, "URI:", "DNS:", "email:"};

/* The CN of an RFC 2253 subject ("CN=alice,O=Example"; a ',' inside a value is "\,"),
 * unescaped into out; 0 when there is none or it does not fit. Written here: the SDK
 * hands filters the subject as text. */
static int mtls_cn(const char *subject, char *out, size_t cap)
{
    const char *p = subject;
    while (*p) {
        int at_cn = strncmp(p, "CN=", 3) == 0;
        if (at_cn)
            p += 3;
        size_t n = 0;
        for (; *p && *p != ','; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (at_cn) {
                if (n + 1 >= cap)
                    return 0;
                out[n++] = *p;
            }
        }
        if (at_cn) {
            out[n] = '\0';
            return n > 0;
        }
        if (*p == ',')
            p++;
    }
    return 0;
}

static px_filter_verdict mtls_request(void *state, px_fcall *call)
{
    const mtls_conf *c = state;
    const char *subject = px_fcall_peer_subject(call);
    char name[256] = "";
    int found = 0;
    if (subject && c->from == 0) {
        found = mtls_cn(subject, name, sizeof name);
    } else if (subject) {
        const char *pre = mtls_san_prefix[c->from];
        size_t pl = strlen(pre);
        for (size_t i = 0; !found; i++) {
            const char *san = px_fcall_peer_san(call, i);
            if (!san)
                break;
            if (strncmp(san, pre, pl) == 0 && strlen(san + pl) < sizeof name) {
                strcpy(name, san + pl);
                found = 1;
            }
        }
    }
    px_err err;
    if (found && px_fcall_set_principal(call, name, &err) == PX_OK)
        return PX_FILTER_CONTINUE;
    if (!subject && !c->required)
        return PX_FILTER_CONTINUE; /* anonymous: acl decides */
    /* The same words whatever failed: no certificate, no such name, a name that cannot
     * be a principal. */
    px_fcall_reject(call, PX_UNAUTHENTICATED, "missing or invalid credentials");
    return PX_FILTER_REJECT;
}

static const px_directive mtls_directives[] = {
    {.name = "principal", .type = PX_DIR_ENUM, .offset = offsetof(mtls_conf, from), .def = "cn",
     .enum_values = mtls_from,
     .help = "what of the client certificate names the caller: its cn, or its first "
             "subjectAltName of kind uri, dns or email"},
    {.name = "required", .type = PX_DIR_BOOL, .offset = offsetof(mtls_conf, required),
     .def = "true",
     .help = "refuse (UNAUTHENTICATED) a call whose connection presented no certificate; "
             "false: it goes on without a principal"},
    {.name = NULL},
};

static const px_filter_ops mtls_ops = {
    .sides = PX_FILTER_SERVER,
    .on_request = mtls_request,
};

PX_MODULE_DECLARE = {
    PX_MODULE_HEADER,
    .kind = PX_MOD_FILTER,
    .name = "auth_mtls",
    .version = "1.0.0",
    .description = "the verified client certificate's name becomes the call's principal",
    .conf_size = sizeof(mtls_conf),
    .directives = mtls_directives,
    .ops = &mtls_ops,
};
