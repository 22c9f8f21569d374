/* HDF5 attributes in one call each, shared by the results writer and the
 * checkpoints. Both return a negative value on failure, as HDF5 does. */
#ifndef AFS_H5ATTR_H
#define AFS_H5ATTR_H

#include <hdf5.h>
#include <stddef.h>

#include "config.h"

/* Writes a scalar attribute (len 0) or a 1-D one of len elements. */
herr_t afs_h5_attr_write(hid_t obj, const char *name, hid_t type, hsize_t len, const void *value);
/* Reads a scalar attribute (len 0) or a 1-D one of exactly len elements;
 * -1 when it has another shape. */
herr_t afs_h5_attr_read(hid_t obj, const char *name, hid_t type, hsize_t len, void *value);

/* A variable-length UTF-8 string attribute; and one read back into buf
 * (-1 when it is not a string, or does not fit). */
herr_t afs_h5_attr_write_string(hid_t obj, const char *name, const char *value);
herr_t afs_h5_attr_read_string(hid_t obj, const char *name, char *buf, size_t n);

/* Every configuration key as an attribute `section.key` of obj (numbers as
 * float32 or int64, booleans as 0/1, strings as text). */
herr_t afs_h5_config_write(hid_t obj, const afs_config *cfg);
/* Sets every key of cfg from those attributes, checked as any setting is
 * (where: the file, for messages); 0, or -1 with err (a missing or invalid
 * key). */
int afs_h5_config_read(hid_t obj, const char *where, afs_config *cfg, char *err, size_t n);

#endif
