/* The config as YAML, emitted with libyaml from the tree the config was loaded from. */
#include "px_admin_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static const char px__redacted[] = "<redacted>";

int px_admin_key_is_secret(const char *key)
{
    static const char *const words[] = {"token", "password", "secret"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        for (const char *p = key; *p; p++)
            if (strncasecmp(p, words[i], strlen(words[i])) == 0)
                return 1;
    return 0;
}

static int px__scalar(yaml_emitter_t *em, const char *text, size_t len, int plain)
{
    yaml_event_t ev;
    /* A quoted scalar stays quoted ('8080' is a string, not a number). */
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, 1, 1,
                                 plain ? YAML_ANY_SCALAR_STYLE : YAML_SINGLE_QUOTED_SCALAR_STYLE);
    return yaml_emitter_emit(em, &ev);
}

static int px__node(yaml_emitter_t *em, const px_ynode *n, int secret)
{
    yaml_event_t ev;
    if (secret)
        return px__scalar(em, px__redacted, sizeof px__redacted - 1, 0);
    switch (n->kind) {
    case PX_YSCALAR:
        return px__scalar(em, n->str, n->len, n->plain);
    case PX_YSEQ:
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_ANY_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++)
            if (!px__node(em, n->items[i], 0))
                return 0;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    case PX_YMAP:
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &ev))
            return 0;
        for (size_t i = 0; i < n->n; i++) {
            const px_ynode *k = n->pairs[i].key;
            if (!px__scalar(em, k->str, k->len, k->plain) ||
                !px__node(em, n->pairs[i].value, px_admin_key_is_secret(k->str)))
                return 0;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(em, &ev);
    }
    return 0;
}

static int px__write(void *data, unsigned char *buf, size_t size)
{
    return fwrite(buf, 1, size, data) == size;
}

char *px_admin_yaml(const px_ynode *root, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&text, &n);
    if (out == NULL)
        return NULL;
    yaml_emitter_t em;
    yaml_event_t ev;
    int ok = yaml_emitter_initialize(&em);
    if (ok) {
        yaml_emitter_set_output(&em, px__write, out);
        yaml_emitter_set_unicode(&em, 1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        ok = yaml_emitter_emit(&em, &ev);
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        ok = ok && yaml_emitter_emit(&em, &ev) && px__node(&em, root, 0);
        yaml_document_end_event_initialize(&ev, 1);
        ok = ok && yaml_emitter_emit(&em, &ev);
        yaml_stream_end_event_initialize(&ev);
        ok = ok && yaml_emitter_emit(&em, &ev) && yaml_emitter_flush(&em);
        yaml_emitter_delete(&em);
    }
    if (fclose(out) != 0 || !ok) {
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}
