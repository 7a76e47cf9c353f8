/* The config as YAML for the admin's /config, secrets redacted. */
#ifndef PX_ADMIN_YAML_H
#define PX_ADMIN_YAML_H

#include <stddef.h>
#include "px_yaml.h"

/** Whether a key's value is a secret /config hides: its name contains "token",
 *  "password" or "secret", in any letter case. */
int px_admin_key_is_secret(const char *key);
/** root as a YAML document, every secret's value "<redacted>"; malloc'd, *len its
 *  length; NULL when out of memory. */
char *px_admin_yaml(const px_ynode *root, size_t *len);

#endif
