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
