#include "checkpoint.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fail.h"
#include "h5attr.h"

static herr_t write_floats(hid_t group, const char *name, afs_backend *b, const float *dev,
                           size_t count, float *host)
{
    hsize_t len = count;
    b->to_host(b, host, dev, count * sizeof *host);
    hid_t space = H5Screate_simple(1, &len, NULL);
    hid_t ds = H5Dcreate2(group, name, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, H5P_DEFAULT,
                          H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host);
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return rc;
}

static herr_t read_floats(hid_t group, const char *name, afs_backend *b, float *dev,
                          size_t count, float *host)
{
    hid_t ds = H5Dopen2(group, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t space = H5Dget_space(ds);
    hsize_t len = 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank == 1) /* a dimension per rank: check the rank first */
        H5Sget_simple_extent_dims(space, &len, NULL);
    if (space >= 0)
        H5Sclose(space);
    herr_t rc = rank == 1 && len == count
                    ? H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, host) : -1;
    H5Dclose(ds);
    if (rc >= 0)
        b->to_backend(b, dev, host, count * sizeof *host);
    return rc;
}

static int save_net(hid_t nets_group, const char *name, afs_backend *b, const afs_mlp *net,
                    float *host)
{
    hid_t g = H5Gcreate2(nets_group, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0)
        return -1;
    int64_t t = net->adam_t;
    int rc = afs_h5_attr_write(g, "sizes", H5T_NATIVE_INT, (hsize_t)net->layers + 1, net->sizes) < 0 ||
             afs_h5_attr_write(g, "adam_t", H5T_NATIVE_INT64, 0, &t) < 0 ||
             write_floats(g, "params", b, net->params, net->n_params, host) < 0 ||
             write_floats(g, "adam_m", b, net->adam_m, net->n_params, host) < 0 ||
             write_floats(g, "adam_v", b, net->adam_v, net->n_params, host) < 0;
    H5Gclose(g);
    return rc ? -1 : 0;
}

static size_t largest(afs_mlp *const *nets, int count)
{
    size_t m = 1;
    for (int i = 0; i < count; i++)
        m = nets[i]->n_params > m ? nets[i]->n_params : m;
    return m;
}

int afs_checkpoint_save(const char *path, afs_backend *b, afs_mlp *const *nets,
                        const char *const *names, int count, const afs_counters *c,
                        char *err, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    float *host = malloc(largest(nets, count) * sizeof *host);
    /* HDF5 1.10's format: checksummed superblock and object headers, which
     * HDF5 verifies as it reads (afs_checkpoint_load refuses older ones). */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    hid_t f = host ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : -1;
    H5Pclose(fapl);
    if (f < 0) {
        free(host);
        return afs_fail(err, n, "%s: cannot create the checkpoint (directory missing or not writable?)", tmp);
    }
    int64_t schema = AFS_CHECKPOINT_SCHEMA;
    hid_t g = H5Gcreate2(f, "networks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = g < 0 || afs_h5_attr_write(f, "schema_version", H5T_NATIVE_INT64, 0, &schema) < 0 ||
              afs_h5_attr_write(f, "seed", H5T_NATIVE_UINT32, 0, &c->seed) < 0 ||
              afs_h5_attr_write(f, "episode", H5T_NATIVE_INT64, 0, &c->episode) < 0 ||
              afs_h5_attr_write(f, "slot", H5T_NATIVE_INT64, 0, &c->slot) < 0 ||
              afs_h5_attr_write(f, "updates", H5T_NATIVE_INT64, 0, &c->updates) < 0;
    for (int i = 0; i < count && !bad; i++)
        bad = save_net(g, names[i], b, nets[i], host);
    if (g >= 0)
        H5Gclose(g);
    bad |= H5Fclose(f) < 0;
    free(host);
    if (bad) {
        remove(tmp);
        return afs_fail(err, n, "%s: writing the checkpoint failed (disk full?); the previous one is kept", path);
    }
    if (rename(tmp, path))
        return afs_fail(err, n, "%s: cannot move the new checkpoint into place", path);
    return 0;
}

static int load_net(hid_t nets_group, const char *path, const char *name, afs_backend *b,
                    afs_mlp *net, float *host, char *err, size_t n)
{
    hid_t g = H5Gopen2(nets_group, name, H5P_DEFAULT);
    if (g < 0)
        return afs_fail(err, n, "%s: no network '%s' in the checkpoint", path, name);
    int sizes[AFS_MLP_MAX_LAYERS + 1] = {0};
    int64_t t = 0;
    hid_t a = H5Aopen(g, "sizes", H5P_DEFAULT);
    hid_t space = a >= 0 ? H5Aget_space(a) : -1;
    hssize_t len = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
    int same = len == net->layers + 1 &&
               afs_h5_attr_read(g, "sizes", H5T_NATIVE_INT, (hsize_t)len, sizes) >= 0 &&
               !memcmp(sizes, net->sizes, (size_t)len * sizeof(int));
    if (!same) {
        H5Gclose(g);
        return afs_fail(err, n, "%s: network '%s' has other layer sizes than the one configured",
                        path, name);
    }
    int rc = afs_h5_attr_read(g, "adam_t", H5T_NATIVE_INT64, 0, &t) < 0 ||
             read_floats(g, "params", b, net->params, net->n_params, host) < 0 ||
             read_floats(g, "adam_m", b, net->adam_m, net->n_params, host) < 0 ||
             read_floats(g, "adam_v", b, net->adam_v, net->n_params, host) < 0;
    H5Gclose(g);
    if (rc)
        return afs_fail(err, n, "%s: network '%s' is incomplete", path, name);
    net->adam_t = (long)t;
    return 0;
}

/* A checkpoint is HDF5 with a superblock of version 2 or later (checksums):
 * what afs_checkpoint_save writes. Checked before HDF5 parses the file,
 * which it cannot always do safely when the file is damaged. */
static int checksummed_hdf5(const char *path, char *err, size_t n)
{
    static const unsigned char signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[9];
    FILE *f = fopen(path, "rb");
    if (!f)
        return afs_fail(err, n, "%s: cannot open the checkpoint: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    if (got < sizeof head || memcmp(head, signature, sizeof signature))
        return afs_fail(err, n, "%s: not a checkpoint (not an HDF5 file)", path);
    if (head[8] < 2)
        return afs_fail(err, n, "%s: not a checkpoint written by this afsim (HDF5 superblock "
                        "version %d, without checksums)", path, head[8]);
    return 0;
}

int afs_checkpoint_load(const char *path, afs_backend *b, afs_mlp *const *nets,
                        const char *const *names, int count, afs_counters *c,
                        char *err, size_t n)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (checksummed_hdf5(path, err, n))
        return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return afs_fail(err, n, "%s: cannot open the checkpoint (missing, or not HDF5)", path);
    int64_t schema = 0;
    int rc = 0;
    if (afs_h5_attr_read(f, "schema_version", H5T_NATIVE_INT64, 0, &schema) < 0 ||
        schema != AFS_CHECKPOINT_SCHEMA) {
        rc = afs_fail(err, n, "%s: checkpoint schema %lld, this afsim reads %d", path,
                      (long long)schema, AFS_CHECKPOINT_SCHEMA);
    } else if (afs_h5_attr_read(f, "seed", H5T_NATIVE_UINT32, 0, &c->seed) < 0 ||
               afs_h5_attr_read(f, "episode", H5T_NATIVE_INT64, 0, &c->episode) < 0 ||
               afs_h5_attr_read(f, "slot", H5T_NATIVE_INT64, 0, &c->slot) < 0 ||
               afs_h5_attr_read(f, "updates", H5T_NATIVE_INT64, 0, &c->updates) < 0) {
        rc = afs_fail(err, n, "%s: the checkpoint's counters are missing", path);
    }
    hid_t g = rc ? -1 : H5Gopen2(f, "networks", H5P_DEFAULT);
    float *host = malloc(largest(nets, count) * sizeof *host);
    for (int i = 0; i < count && !rc; i++)
        rc = g < 0 || !host ? afs_fail(err, n, "%s: no /networks group", path)
                            : load_net(g, path, names[i], b, nets[i], host, err, n);
    free(host);
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    return rc ? -1 : 0;
}
