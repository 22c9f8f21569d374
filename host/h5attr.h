/* HDF5 attributes in one call each, shared by the results writer and the
 * checkpoints. Both return a negative value on failure, as HDF5 does. */
#ifndef AFS_H5ATTR_H
#define AFS_H5ATTR_H

#include <hdf5.h>

/* Writes a scalar attribute (len 0) or a 1-D one of len elements. */
herr_t afs_h5_attr_write(hid_t obj, const char *name, hid_t type, hsize_t len, const void *value);
/* Reads a scalar attribute (len 0) or a 1-D one of exactly len elements;
 * -1 when it has another shape. */
herr_t afs_h5_attr_read(hid_t obj, const char *name, hid_t type, hsize_t len, void *value);

#endif
