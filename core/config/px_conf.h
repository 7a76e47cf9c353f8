/* Typed value setters and the directive engine that fills a conf struct from a YAML mapping. */
#ifndef PX_CONF_H
#define PX_CONF_H

#include "plexus/px_units.h"
#include <stdint.h>
#include "plexus/px_module.h"
#include "plexus/px_status.h"
#include "px_yaml.h"

/*
 * Setters (nginx's ngx_conf_set_*_slot made plain): each parses text and returns
 * NULL on success, or a short phrase that reads after the quoted value, e.g.
 * "'5 parsecs' is not a duration (use e.g. 250ms, 5s)". Nothing is stored on failure.
 */

/* Durations and sizes: px_parse_duration / px_parse_size, in the SDK (plexus/px_units.h). */
/** true/false, yes/no, on/off in any letter case; stores 1 or 0. */
const char *px_parse_bool(const char *text, int *out);
/** A base-10 integer with optional sign. */
const char *px_parse_int(const char *text, int64_t *out);
/** A finite decimal or exponent number. */
const char *px_parse_double(const char *text, double *out);
/** Stores the index of text in the NULL-terminated values. */
const char *px_parse_enum(const char *text, const char *const *values, int *out);

/**
 * Fills conf from the mapping `map` with the table `dirs` (a NULL dirs is an empty
 * table; a NULL map has no keys). Keys in skip_keys (NULL-terminated, may be NULL)
 * are accepted and left to the caller. Rejects a non-mapping, unknown keys
 * (listing the accepted ones), values of the wrong node kind, values the setter
 * refuses, values outside min..max and missing required keys; stores defaults
 * for the keys that are absent. Types stored at conf + offset are those of
 * px_dir_type. conf must be zeroed (or released): on failure every string this
 * call stored is freed again. err->msg reads "FILE:LINE:COL: name: problem".
 */
px_status px_conf_apply(const px_directive *dirs, void *conf, const px_ynode *map,
                        const char *const *skip_keys, const char *file, px_err *err);
/** px_conf_apply whose messages name keys "scope.key" (scope may be NULL). */
px_status px_conf_apply_scoped(const px_directive *dirs, void *conf, const px_ynode *map,
                               const char *const *skip_keys, const char *scope,
                               const char *file, px_err *err);
/** Parses one value node with d's setter, checks its range and stores it. */
px_status px_conf_set(const px_directive *d, void *conf, const px_ynode *value,
                      const char *scope, const char *file, px_err *err);
/** Stores d's default (zero / NULL when it has none). */
px_status px_conf_set_default(const px_directive *d, void *conf, px_err *err);
/** Frees the strings of a conf filled by px_conf_apply and sets them to NULL. */
void px_conf_release(const px_directive *dirs, void *conf);

/**
 * Checks a directive table's shape for the loader: names present and unique,
 * known types, enum values present, min/max only on numeric types and parsed by
 * the type's setter, min <= max, defaults parsed and within range, no default on
 * a required key. err->msg reads "directive 'name': problem".
 */
px_status px_conf_check_table(const px_directive *dirs, px_err *err);

#endif
