/* Codec helpers: copies into a decoded message's memory (the caller's protobuf-c allocator, or malloc). */
#include <string.h>
#include "px_codec_util.h"

char *px__cu_strdup(ProtobufCAllocator *alloc, const void *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *copy = px__cu_alloc(alloc, len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}
