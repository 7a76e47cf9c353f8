/* The process's kept listening sockets (px_server_keep_listeners, px_server.h). */
#ifndef PX_LISTEN_TABLE_H
#define PX_LISTEN_TABLE_H

#include "px_net.h"

/** A descriptor of the kept socket of listener `listen` (resolved as addr) for IO loop
 *  slot, the server's own (close it when done); -1 when the table has none. */
int px__listen_table_take(const char *listen, const px_addr *addr, int slot);

#endif
