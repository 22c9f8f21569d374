#include "h5attr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fail.h"
#include "models/algos/agents.h"

herr_t afs_h5_attr_write(hid_t obj, const char *name, hid_t type, hsize_t len, const void *value)
{
    hid_t space = len ? H5Screate_simple(1, &len, NULL) : H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, value);
    if (a >= 0)
        H5Aclose(a);
    H5Sclose(space);
    return rc;
}

herr_t afs_h5_attr_read(hid_t obj, const char *name, hid_t type, hsize_t len, void *value)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    /* Exactly the elements asked for: a file may hold anything there (an
     * array where a scalar belongs would overrun value). */
    hid_t space = H5Aget_space(a);
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    H5S_class_t cls = space >= 0 ? H5Sget_simple_extent_type(space) : H5S_NO_CLASS;
    int fits = len ? cls == H5S_SIMPLE && rank == 1 && points == (hssize_t)len
                   : cls == H5S_SCALAR && points == 1;
    if (space >= 0)
        H5Sclose(space);
    herr_t rc = fits ? H5Aread(a, type, value) : -1;
    H5Aclose(a);
    return rc;
}

/* Strings are fixed-length, stored inside the attribute's header message
 * (checksummed in the files afsim writes): a variable-length string lives
 * in HDF5's global heap, which has no checksum, and a damaged heap
 * reference makes HDF5 1.10 loop for minutes (found by fuzzing). */
static hid_t string_type(size_t len)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, len ? len : 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

herr_t afs_h5_attr_write_string(hid_t obj, const char *name, const char *value)
{
    size_t len = strlen(value) + 1;
    hid_t t = string_type(len);
    herr_t rc = afs_h5_attr_write(obj, name, t, 0, value);
    H5Tclose(t);
    return rc;
}

herr_t afs_h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t n)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    size_t len = type >= 0 ? H5Tget_size(type) : 0;
    int ok = type >= 0 && H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) == 0 &&
             len > 0 && len <= n && space >= 0 && H5Sget_simple_extent_type(space) == H5S_SCALAR;
    herr_t rc = -1;
    if (ok) {
        hid_t mem = string_type(len);
        char *text = calloc(1, len + 1);
        if (text && H5Aread(a, mem, text) >= 0 && strlen(text) < n) {
            snprintf(buf, n, "%s", text);
            rc = 0;
        }
        free(text);
        H5Tclose(mem);
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}

herr_t afs_h5_config_write(hid_t obj, const afs_config *cfg)
{
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        const char *field = (const char *)cfg + k->offset;
        char name[128], text[AFS_PATH_MAX + 8];
        int64_t v;
        herr_t rc;
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        switch (k->type) {
        case AFS_T_FLOAT: rc = afs_h5_attr_write(obj, name, H5T_NATIVE_FLOAT, 0, field); break;
        case AFS_T_U32:
            v = *(const uint32_t *)(const void *)field;
            rc = afs_h5_attr_write(obj, name, H5T_NATIVE_INT64, 0, &v);
            break;
        case AFS_T_INT:
        case AFS_T_BOOL:
            v = *(const int *)(const void *)field;
            rc = afs_h5_attr_write(obj, name, H5T_NATIVE_INT64, 0, &v);
            break;
        default:
            afs_config_format(cfg, k, text, sizeof text);
            rc = afs_h5_attr_write_string(obj, name, text);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Keys added after afsim first wrote checkpoints: a file without one was
 * written before the key existed, so it reads the value afsim behaved with
 * then (NULL: the key's default, where that default is that behaviour),
 * rather than being refused. So does a learning method's whole section
 * (new_method): any other missing key is an error. */
static const struct added_key {
    const char *name;  /* a key, or a whole section as "section." */
    const char *then;  /* the value before the key existed; NULL: its default */
} added[] = {
    {"best_response.rounds", NULL}, {"deadline.alpha", NULL},
    {"amdrl.eval_init", "threshold"}, /* the default became sample on 2026-12-06 */
    {"amdrl.", NULL}, /* its keys came one by one, after the section itself */
    {"train.epsilon", "0"}, {"train.epsilon_end", "0"}, {"train.keep_best", "false"},
};

static const struct added_key *added_later(const char *name)
{
    for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
        size_t len = strlen(added[i].name);
        if (added[i].name[len - 1] == '.' ? !strncmp(name, added[i].name, len)
                                          : !strcmp(name, added[i].name))
            return &added[i];
    }
    return NULL;
}

/* Whether `section` is a learning method's that obj has no key of: obj
 * was written before that method existed, and its keys read their
 * defaults (a new method's section needs no entry in `added`). One key
 * missing among the others is still an error. */
static int new_method(hid_t obj, const char *section)
{
    if (!afs_learner_find(section))
        return 0;
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        char name[128];
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        if (!strcmp(k->section, section) && H5Aexists(obj, name) > 0)
            return 0;
    }
    return 1;
}

int afs_h5_config_read(hid_t obj, const char *where, afs_config *cfg, char *err, size_t n)
{
    for (int i = 0; i < afs_config_key_count(); i++) {
        const afs_config_key *k = afs_config_key_at(i);
        char name[128], text[AFS_PATH_MAX + 8];
        snprintf(name, sizeof name, "%s.%s", k->section, k->name);
        herr_t rc;
        const struct added_key *a = added_later(name);
        if (H5Aexists(obj, name) == 0 && (a || new_method(obj, k->section))) {
            if (afs_config_set(cfg, k->section, k->name, a && a->then ? a->then : k->def,
                               "default", err, n))
                return -1;
            continue;
        }
        if (k->type == AFS_T_FLOAT) {
            float f;
            rc = afs_h5_attr_read(obj, name, H5T_NATIVE_FLOAT, 0, &f);
            snprintf(text, sizeof text, "%.9g", f);
        } else if (k->type == AFS_T_STRING) {
            rc = afs_h5_attr_read_string(obj, name, text, sizeof text);
        } else {
            int64_t v;
            rc = afs_h5_attr_read(obj, name, H5T_NATIVE_INT64, 0, &v);
            if (k->type == AFS_T_BOOL)
                snprintf(text, sizeof text, "%s", v ? "true" : "false");
            else
                snprintf(text, sizeof text, "%lld", (long long)v);
        }
        if (rc < 0)
            return afs_fail(err, n, "%s: the configuration key %s is missing or unreadable", where,
                            name);
        if (afs_config_set(cfg, k->section, k->name, text, where, err, n))
            return -1;
    }
    return 0;
}
