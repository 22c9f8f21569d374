/* The configuration: every key, its type, range, default, unit and meaning,
 * in one table (config.c) that drives parsing, checking, --dump, the HDF5
 * attributes and docs/model.md's tables. */
#ifndef AFS_CONFIG_H
#define AFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "core/config_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AFS_CONFIG_MAX_BYTES (1 << 20) /* a configuration file is text, and small */

typedef enum { AFS_T_INT, AFS_T_U32, AFS_T_FLOAT, AFS_T_BOOL, AFS_T_STRING } afs_key_type;

typedef struct afs_config_key {
    const char *section, *name;
    afs_key_type type;
    size_t offset;        /* into afs_config */
    size_t size;          /* of a string field */
    double lo, hi;        /* allowed range of numbers */
    int lo_open;          /* lo itself not allowed */
    const char *def;      /* default, as written in a file */
    const char *unit;
    const char *doc;
} afs_config_key;

int afs_config_key_count(void);
const afs_config_key *afs_config_key_at(int index);
/* The index of section.name, or -1. */
int afs_config_key_index(const char *section, const char *name);

/* Fills every key with its default. */
void afs_config_defaults(afs_config *cfg);

/* Each returns 0, or -1 with a message in err naming where (file:line or
 * the option), the key, the value and what is allowed. */
int afs_config_set(afs_config *cfg, const char *section, const char *name,
                   const char *value, const char *where, char *err, size_t n);
/* A regular file of at most AFS_CONFIG_MAX_BYTES, text without NUL bytes. */
int afs_config_load(afs_config *cfg, const char *path, char *err, size_t n);
/* afs_config_load, with the entries of sections that are not the
 * configuration's ([sweep] and [profile.NAME] of a sweep file) handed to
 * extra first: it returns 1 for an entry it took, 0 for one it leaves to
 * the configuration, -1 on an error (message in err, naming where). */
typedef int (*afs_config_extra)(void *user, const char *section, const char *name,
                                const char *value, const char *where, char *err, size_t n);
int afs_config_load_with(afs_config *cfg, const char *path, afs_config_extra extra, void *user,
                         char *err, size_t n);
int afs_config_set_arg(afs_config *cfg, const char *assignment,
                       const char *where, char *err, size_t n);
/* Checks relations between keys (min <= max, ...) and that the quantities
 * derived from them (gains, rates, start and run times) are finite and
 * positive, naming the keys and where each was set. */
int afs_config_check(const afs_config *cfg, char *err, size_t n);

/* The value of a key as it would be written in a file. */
void afs_config_format(const afs_config *cfg, const afs_config_key *key,
                       char *buf, size_t n);
/* The first key (in table order) whose value differs between a and b and
 * whose "section.name" is not in `allowed` (NULL-terminated); -1 when
 * none does. Values compare as afs_config_format writes them. */
int afs_config_first_difference(const afs_config *a, const afs_config *b,
                                const char *const *allowed);
/* Writes the effective configuration as an INI file with comments. */
void afs_config_dump(const afs_config *cfg, FILE *out);

#ifdef __cplusplus
}
#endif

#endif
