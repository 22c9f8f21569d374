#include "h5attr.h"

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

herr_t afs_h5_attr_read(hid_t obj, const char *name, hid_t type, void *value)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Aread(a, type, value);
    if (a >= 0)
        H5Aclose(a);
    return rc;
}
