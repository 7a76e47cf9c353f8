/* Nesting limit for protobuf input. libprotobuf-c unpacks nested messages by recursion
 * with no limit, so a frame of a few MiB of nested length prefixes could exhaust the
 * stack. Types whose descriptor graph cannot nest deeper than the limit (most) are
 * decoded as they are; for the others a non-allocating pass over the wire bytes, with an
 * explicit stack, counts the depth first. */
#include "pb_depth.h"

#include <stddef.h>

/* ---- can this type nest deeper than the limit? (cached per descriptor) ---------- */

typedef struct pb_node {
    const ProtobufCMessageDescriptor *d;
    int state; /* 1 on the DFS path, 2 done */
    int height;
} pb_node;

#define PB_MAX_TYPES 256

/* Longest chain of message fields below d, in levels; > limit on a cycle or overflow. */
static int pb__height(const ProtobufCMessageDescriptor *d, pb_node *nodes, int *n)
{
    for (int i = 0; i < *n; i++)
        if (nodes[i].d == d)
            return nodes[i].state == 1 ? PX_PB_MAX_DEPTH + 1 : nodes[i].height;
    if (*n == PB_MAX_TYPES)
        return PX_PB_MAX_DEPTH + 1; /* too many types to reason about: scan */
    int me = (*n)++;
    nodes[me] = (pb_node){d, 1, 1};
    int h = 1;
    for (unsigned f = 0; f < d->n_fields && h <= PX_PB_MAX_DEPTH; f++) {
        const ProtobufCFieldDescriptor *fd = &d->fields[f];
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        int below = pb__height(fd->descriptor, nodes, n);
        if (below + 1 > h)
            h = below + 1;
    }
    nodes[me].state = 2;
    nodes[me].height = h;
    return h;
}

/* What a type needs checked, worked out once per descriptor (descriptors are static
 * data, so their address identifies them for the life of the process). A direct-mapped
 * table of words shared by all threads: descriptor address | flags | 1, read and
 * written whole with relaxed atomics, so a lookup is a load and a compare; a collision
 * only means computing again. Hand-written: a dozen lines, where a hash map would
 * need a lock. */
#define PB_INFO_SLOTS 64
static uint64_t pb__info[PB_INFO_SLOTS];

unsigned px_pb_desc_info(const ProtobufCMessageDescriptor *d)
{
    uintptr_t key = (uintptr_t)d;
    size_t slot = (size_t)((key >> 3) ^ (key >> 9)) % PB_INFO_SLOTS;
    uint64_t v = __atomic_load_n(&pb__info[slot], __ATOMIC_RELAXED);
    if ((v & ~(uint64_t)7) == key && (v & 1))
        return (unsigned)(v & 6);
    pb_node nodes[PB_MAX_TYPES];
    int n = 0;
    unsigned info = pb__height(d, nodes, &n) > PX_PB_MAX_DEPTH ? PX_PB_DEEP : 0;
    for (unsigned f = 0; f < d->n_fields; f++)
        if (d->fields[f].type == PROTOBUF_C_TYPE_MESSAGE)
            info |= PX_PB_HAS_MESSAGES;
    if ((key & 7) == 0) /* always so for a descriptor; else simply not cached */
        __atomic_store_n(&pb__info[slot], key | info | 1, __ATOMIC_RELAXED);
    return info;
}

/* ---- the wire scan --------------------------------------------------------------- */

static int pb__varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

int px_pb_depth_ok(const ProtobufCMessageDescriptor *desc, unsigned info, const uint8_t *p,
                   size_t len)
{
    if (!(info & PX_PB_DEEP))
        return 1;
    struct {
        const ProtobufCMessageDescriptor *d;
        size_t end;
    } st[PX_PB_MAX_DEPTH];
    int top = 0;
    st[0].d = desc;
    st[0].end = len;
    size_t pos = 0;
    for (;;) {
        while (pos >= st[top].end) {
            if (top == 0)
                return 1;
            top--;
        }
        uint64_t tag, n;
        /* Malformed input is not this pass's business: unpack reports it. */
        if (pb__varint(p, st[top].end, &pos, &tag) != 0)
            return 1;
        switch (tag & 7) {
        case 0:
            if (pb__varint(p, st[top].end, &pos, &n) != 0)
                return 1;
            break;
        case 1:
            pos += 8;
            break;
        case 5:
            pos += 4;
            break;
        case 2: {
            if (pb__varint(p, st[top].end, &pos, &n) != 0 || n > st[top].end - pos)
                return 1;
            const ProtobufCFieldDescriptor *fd =
                protobuf_c_message_descriptor_get_field(st[top].d, (unsigned)(tag >> 3));
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
                if (top + 1 >= PX_PB_MAX_DEPTH)
                    return 0; /* one level more than the limit */
                top++;
                st[top].d = fd->descriptor;
                st[top].end = pos + n;
            } else {
                pos += n;
            }
            break;
        }
        default:
            return 1;
        }
    }
}
