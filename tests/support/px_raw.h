/* Test helper: speak the wire protocol by hand over a raw socket. */
#ifndef PX_RAW_H
#define PX_RAW_H

#include <stddef.h>
#include <stdint.h>
#include "px_frame.h"

/** Connects to 127.0.0.1:port (blocking, 5 s receive timeout); -1 on failure. */
int px_raw_connect(int port);
/** Writes the frames in one write; returns 0 when all bytes went out. */
int px_raw_send(int fd, const px_frame *frames, int n);
/** Sends a HELLO naming codec. */
int px_raw_hello(int fd, const char *codec);

/** Reads frames from one connection, keeping what has arrived beyond a frame. */
typedef struct px_raw_reader {
    int fd;
    uint8_t buf[65536];
    size_t len, used;
    char text[1024]; /* the last frame's body as a NUL-terminated string */
} px_raw_reader;

/**
 * The next frame (its pointers stay valid until the next call), with its body in
 * r->text. Returns 0, or -1 when the peer closed or nothing came within 5 s.
 */
int px_raw_next(px_raw_reader *r, px_frame *f);
/** Whether the peer closes the connection (EOF) within 5 s, after draining frames. */
int px_raw_closed(px_raw_reader *r);

/** A connection to 127.0.0.1:port that sent HELLO for codec and got it back; fd -1 if not. */
px_raw_reader px_raw_open(int port, const char *codec);
/** Sends calc.Calculator/Add(20, 22) with this id and metadata section (protobuf); 0
 *  when it went out. */
int px_raw_send_add(px_raw_reader *r, uint64_t id, const uint8_t *meta, uint32_t meta_len);
/** One calc.Calculator/Add(20, 22) with this id on r (protobuf): 0 when answered 42. */
int px_raw_add(px_raw_reader *r, uint64_t id);

#endif
