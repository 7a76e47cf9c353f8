/* Files holding secrets: a token file (server) or a client's token. */
#ifndef AT_SECRET_FILE_H
#define AT_SECRET_FILE_H

#include <stddef.h>
#include <plexus/plexus.h>

/**
 * Reads path (relative to the config file's folder; made absolute into abs[abs_cap]) into
 * a malloc'd NUL-terminated *out of *len bytes. Refused, with err naming what and the
 * absolute path: a file that cannot be opened, is not a regular file, is readable or
 * writable by group or others, or is larger than 1 MiB.
 */
px_status at_read_secret(const px_module_env *env, const char *what, const char *path,
                         char **out, size_t *len, char *abs, size_t abs_cap, px_err *err);
/** Zeroes s[0..len) and frees it (NULL: nothing). */
void at_wipe_free(char *s, size_t len);

#endif
