/* afsim._afsim: the vectorized environment (host/vecenv.h) as a CPython
 * extension, in C with the CPython and NumPy C APIs (docs/python.md).
 *
 * Objects and who keeps whom alive (no reference cycles, so no garbage
 * collector support is needed):
 *
 *   VecEnv --> Buffers --> backend capsule
 *     |           ^
 *     +--> views -+        (NumPy arrays / DeviceArrays / DLPack capsules)
 *
 * Buffers owns one afs_vecenv (its state and its buffers); the views of its
 * buffers hold a reference to it, so that a view never outlives the memory
 * it shows. VecEnv.close() drops the VecEnv's references: the memory goes
 * when the last view is gone. The backend (afs_backend) lives in a capsule
 * that the Buffers holds (a reset with a new seed keeps the afs_vecenv and
 * its buffers: afs_vecenv_set_seed).
 *
 * The CPU backend's buffers are host memory: obs, reward and done are
 * NumPy arrays over them (zero copies). The CUDA backend's
 * are device memory: they are DeviceArrays, with __dlpack__ and
 * __cuda_array_interface__ (the DLPack structures are declared below, after
 * the public specification, dlpack.h v0.8). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/config.h"
#include "host/metrics.h"
#include "core/policy_names.h"
#include "host/vecenv.h"
#include "kernels/backend.h"

#define ERR_LEN 2048
/* At or above this many agents a step runs without the GIL (other Python
 * threads run meanwhile); below it, releasing costs more than it gives. */
#define NOGIL_AGENTS 8192

/* ---- DLPack (https://github.com/dmlc/dlpack, include/dlpack/dlpack.h) ---- */

typedef enum { kDLCPU = 1, kDLCUDA = 2 } DLDeviceType;
typedef struct {
    int32_t device_type; /* DLDeviceType: a C enum, int-sized */
    int32_t device_id;
} DLDevice;
typedef enum { kDLInt = 0, kDLUInt = 1, kDLFloat = 2, kDLBool = 6 } DLDataTypeCode;
typedef struct {
    uint8_t code, bits;
    uint16_t lanes;
} DLDataType;
typedef struct {
    void *data;
    DLDevice device;
    int32_t ndim;
    DLDataType dtype;
    int64_t *shape;
    int64_t *strides; /* NULL: compact, row-major */
    uint64_t byte_offset;
} DLTensor;
typedef struct DLManagedTensor {
    DLTensor dl_tensor;
    void *manager_ctx;
    void (*deleter)(struct DLManagedTensor *self);
} DLManagedTensor;

/* ---- Module state ---- */

static PyTypeObject BuffersType, VecEnvType, DeviceArrayType;
static PyObject *obs_scales(double queue_cap);

/* ---- Buffers: owns one afs_vecenv ---- */

typedef struct {
    PyObject_HEAD
    afs_vecenv *v;
    PyObject *backend; /* capsule of the afs_backend v lives on */
} BuffersObject;

static void Buffers_dealloc(BuffersObject *self)
{
    if (self->v)
        afs_vecenv_destroy(self->v);
    self->v = NULL;
    Py_XDECREF(self->backend);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject BuffersType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "afsim._afsim._Buffers",
    .tp_doc = "the memory of one vectorized environment (kept alive by its views)",
    .tp_basicsize = sizeof(BuffersObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Buffers_dealloc,
};

static void backend_capsule_free(PyObject *cap)
{
    afs_backend *b = PyCapsule_GetPointer(cap, "afsim.backend");
    if (b)
        b->destroy(b);
    else
        PyErr_Clear();
}

/* ---- DeviceArray: a view of a CUDA buffer ---- */

typedef struct {
    PyObject_HEAD
    BuffersObject *owner;
    void *data;
    int ndim;
    int64_t shape[3];
    DLDataType dtype;
    const char *typestr; /* NumPy's: "<f4", "|u1", "|b1", "<f8" */
    int device_id;
} DeviceArrayObject;

static void DeviceArray_dealloc(DeviceArrayObject *self)
{
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static size_t dl_itemsize(DLDataType t) { return (size_t)(t.bits / 8) * t.lanes; }

static size_t DeviceArray_count(const DeviceArrayObject *d)
{
    size_t n = 1;
    for (int i = 0; i < d->ndim; i++)
        n *= (size_t)d->shape[i];
    return n;
}

typedef struct {
    DLManagedTensor t;
    int64_t shape[3];
    PyObject *owner;
} ManagedCtx;

static void managed_deleter(DLManagedTensor *t)
{
    ManagedCtx *ctx = (ManagedCtx *)t->manager_ctx;
    /* a consumer may call this from any thread, with or without the GIL */
    PyGILState_STATE s = PyGILState_Ensure();
    Py_XDECREF(ctx->owner);
    PyGILState_Release(s);
    free(ctx);
}

static void dltensor_capsule_free(PyObject *cap)
{
    /* a capsule never consumed (renamed "used_dltensor") still owns its tensor */
    if (PyCapsule_IsValid(cap, "dltensor")) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        DLManagedTensor *t = PyCapsule_GetPointer(cap, "dltensor");
        if (t && t->deleter)
            t->deleter(t);
        PyErr_Restore(type, value, tb);
    }
}

static PyObject *DeviceArray_dlpack(DeviceArrayObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"stream", "max_version", "dl_device", "copy", NULL};
    PyObject *stream = Py_None, *max_version = Py_None, *dl_device = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOO", kwlist, &stream, &max_version,
                                     &dl_device, &copy))
        return NULL;
    (void)max_version; /* we give the unversioned (0.x) capsule, which every consumer takes */
    if (copy != Py_None && PyObject_IsTrue(copy) == 1) {
        PyErr_SetString(PyExc_BufferError, "afsim's device arrays are exported without a copy "
                        "(copy=True is not supported)");
        return NULL;
    }
    if (dl_device != Py_None) {
        int type = -1, id = -1;
        if (!PyArg_ParseTuple(dl_device, "ii;dl_device must be (device_type, device_id)", &type,
                              &id))
            return NULL;
        if (type != kDLCUDA || id != self->device_id) {
            PyErr_Format(PyExc_BufferError, "afsim's array lives on (%d, %d) (CUDA device %d); "
                         "dl_device (%d, %d) would need a copy", kDLCUDA, self->device_id,
                         self->device_id, type, id);
            return NULL;
        }
    }
    /* afsim works on the legacy default stream: a consumer on it (None or 1)
     * is ordered after our kernels; any other stream waits for the device */
    if (stream != Py_None) {
        long s = PyLong_AsLong(stream);
        if (s == -1 && PyErr_Occurred())
            return NULL;
        if (s != 1) {
            afs_backend *b = self->owner->v->b;
            Py_BEGIN_ALLOW_THREADS
            b->synchronize(b);
            Py_END_ALLOW_THREADS
        }
    }
    ManagedCtx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return PyErr_NoMemory();
    for (int i = 0; i < self->ndim; i++)
        ctx->shape[i] = self->shape[i];
    ctx->owner = (PyObject *)self->owner;
    Py_INCREF(ctx->owner);
    ctx->t.manager_ctx = ctx;
    ctx->t.deleter = managed_deleter;
    ctx->t.dl_tensor = (DLTensor){self->data, {kDLCUDA, self->device_id}, self->ndim,
                                  self->dtype, ctx->shape, NULL, 0};
    PyObject *cap = PyCapsule_New(&ctx->t, "dltensor", dltensor_capsule_free);
    if (!cap) {
        Py_DECREF(ctx->owner);
        free(ctx);
    }
    return cap;
}

static PyObject *DeviceArray_dlpack_device(DeviceArrayObject *self, PyObject *unused)
{
    (void)unused;
    return Py_BuildValue("(ii)", (int)kDLCUDA, self->device_id);
}

static PyObject *DeviceArray_shape(DeviceArrayObject *self, void *unused)
{
    (void)unused;
    PyObject *t = PyTuple_New(self->ndim);
    for (int i = 0; t && i < self->ndim; i++)
        PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(self->shape[i]));
    return t;
}

static PyObject *DeviceArray_dtype(DeviceArrayObject *self, void *unused)
{
    (void)unused;
    PyArray_Descr *d = NULL;
    PyObject *s = PyUnicode_FromString(self->typestr);
    if (!s || !PyArray_DescrConverter(s, &d))
        d = NULL;
    Py_XDECREF(s);
    return (PyObject *)d;
}

static PyObject *DeviceArray_ptr(DeviceArrayObject *self, void *unused)
{
    (void)unused;
    return PyLong_FromVoidPtr(self->data);
}

static PyObject *DeviceArray_cai(DeviceArrayObject *self, void *unused)
{
    (void)unused;
    PyObject *shape = DeviceArray_shape(self, NULL);
    if (!shape)
        return NULL;
    /* stream 1: the legacy default stream, the one afsim's kernels run on */
    return Py_BuildValue("{s:N,s:s,s:(NO),s:O,s:i,s:i}", "shape", shape, "typestr",
                         self->typestr, "data", PyLong_FromVoidPtr(self->data), Py_False,
                         "strides", Py_None, "version", 3, "stream", 1);
}

/* A host copy as a NumPy array (waits for the device). */
static PyObject *DeviceArray_to_numpy(DeviceArrayObject *self, PyObject *unused)
{
    (void)unused;
    PyArray_Descr *d = (PyArray_Descr *)DeviceArray_dtype(self, NULL);
    if (!d)
        return NULL;
    npy_intp dims[3];
    for (int i = 0; i < self->ndim; i++)
        dims[i] = (npy_intp)self->shape[i];
    PyObject *a = PyArray_NewFromDescr(&PyArray_Type, d, self->ndim, dims, NULL, NULL, 0, NULL);
    if (!a)
        return NULL;
    afs_backend *b = self->owner->v->b;
    size_t bytes = DeviceArray_count(self) * dl_itemsize(self->dtype);
    void *dst = PyArray_DATA((PyArrayObject *)a);
    Py_BEGIN_ALLOW_THREADS
    b->to_host(b, dst, self->data, bytes);
    Py_END_ALLOW_THREADS
    return a;
}

static PyObject *DeviceArray_array(DeviceArrayObject *self, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw; /* dtype, copy: NumPy converts the result further itself */
    return DeviceArray_to_numpy(self, NULL);
}

static PyObject *DeviceArray_repr(DeviceArrayObject *self)
{
    char shape[96];
    int o = 0;
    for (int i = 0; i < self->ndim; i++)
        o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", i ? ", " : "",
                      (long long)self->shape[i]);
    return PyUnicode_FromFormat("afsim.DeviceArray(shape=(%s%s), dtype='%s', device='cuda:%d')",
                                shape, self->ndim == 1 ? "," : "", self->typestr,
                                self->device_id);
}

static PyMethodDef DeviceArray_methods[] = {
    {"__dlpack__", (PyCFunction)(void (*)(void))DeviceArray_dlpack, METH_VARARGS | METH_KEYWORDS,
     "__dlpack__(*, stream=None, max_version=None, dl_device=None, copy=None): a DLPack "
     "capsule of the device buffer, without a copy"},
    {"__dlpack_device__", (PyCFunction)DeviceArray_dlpack_device, METH_NOARGS,
     "(2, device id): a CUDA device"},
    {"to_numpy", (PyCFunction)DeviceArray_to_numpy, METH_NOARGS,
     "a host copy as a NumPy array"},
    {"__array__", (PyCFunction)(void (*)(void))DeviceArray_array, METH_VARARGS | METH_KEYWORDS,
     "a host copy (np.asarray copies from the device)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef DeviceArray_getset[] = {
    {"shape", (getter)DeviceArray_shape, NULL, "the shape", NULL},
    {"dtype", (getter)DeviceArray_dtype, NULL, "the NumPy dtype of the elements", NULL},
    {"ptr", (getter)DeviceArray_ptr, NULL, "the device address of the first element", NULL},
    {"__cuda_array_interface__", (getter)DeviceArray_cai, NULL,
     "the CUDA array interface (version 3): CuPy, Numba, torch.as_tensor", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject DeviceArrayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "afsim.DeviceArray",
    .tp_doc = "A view of a buffer of a vectorized environment on a CUDA device: "
              "torch.from_dlpack(x) or cupy.from_dlpack(x) use it without a copy; "
              "np.asarray(x) or x.to_numpy() copy it to the host.",
    .tp_basicsize = sizeof(DeviceArrayObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)DeviceArray_dealloc,
    .tp_repr = (reprfunc)DeviceArray_repr,
    .tp_methods = DeviceArray_methods,
    .tp_getset = DeviceArray_getset,
};

static PyObject *device_array(BuffersObject *owner, void *data, int ndim, const int64_t *shape,
                              DLDataType dtype, const char *typestr)
{
    DeviceArrayObject *d = PyObject_New(DeviceArrayObject, &DeviceArrayType);
    if (!d)
        return NULL;
    Py_INCREF(owner);
    d->owner = owner;
    d->data = data;
    d->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        d->shape[i] = shape[i];
    d->dtype = dtype;
    d->typestr = typestr;
    d->device_id = 0; /* the CUDA backend runs on device 0 (kernels/cuda/backend_cuda.cu) */
    return (PyObject *)d;
}

/* ---- VecEnv ---- */

typedef struct {
    PyObject_HEAD
    BuffersObject *buf;   /* NULL once closed */
    PyObject *backend;    /* the backend capsule */
    afs_config *cfg;      /* the effective configuration (config_value, config_dump) */
    uint32_t seed;
    int E, M, slots, cuda;
    int busy;             /* a step or reset runs without the GIL */
    PyObject *obs, *reward, *done; /* the persistent views of buf's buffers */
    /* PettingZoo: the names the templates are for, {name: False},
     * {name: True}, {name: row view of obs} (made at first use) */
    PyObject *pz_names, *pz_false, *pz_true, *pz_rows;
    PyObject *pz_infos; /* {name: one shared read-only empty mapping} (copy false) */
    uint8_t *staging;     /* host actions before their copy to the device [E M] */
    float *host_obs;      /* CUDA: host copies for the PettingZoo step [E M obs_dim] */
    float *host_reward;   /* [E M] */
} VecEnvObject;

static PyObject *closed_error(void)
{
    PyErr_SetString(PyExc_RuntimeError, "this afsim.VecEnv is closed: make a new one "
                    "(close() released its memory; arrays taken from it keep theirs)");
    return NULL;
}

static afs_vecenv *live(VecEnvObject *self)
{
    if (!self->buf) {
        closed_error();
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "this afsim.VecEnv is being stepped or reset in "
                        "another thread: one call at a time per environment");
        return NULL;
    }
    return self->buf->v;
}

static PyObject *host_view(BuffersObject *owner, int typenum, int ndim, npy_intp *dims, void *data)
{
    PyObject *a = PyArray_New(&PyArray_Type, ndim, dims, typenum, NULL, data, 0,
                              NPY_ARRAY_CARRAY, NULL);
    if (!a)
        return NULL;
    Py_INCREF(owner);
    if (PyArray_SetBaseObject((PyArrayObject *)a, (PyObject *)owner) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

static void drop_views(VecEnvObject *self)
{
    Py_CLEAR(self->obs);
    Py_CLEAR(self->reward);
    Py_CLEAR(self->done);
    Py_CLEAR(self->pz_rows); /* views of the old buffers */
}

/* The views of buf's obs, reward, done and episode_acc. */
static int make_views(VecEnvObject *self)
{
    BuffersObject *o = self->buf;
    afs_vecenv *v = o->v;
    drop_views(self);
    if (!self->cuda) {
        npy_intp d_obs[3] = {v->E, v->M, v->obs_dim}, d_em[2] = {v->E, v->M};
        self->obs = host_view(o, NPY_FLOAT32, 3, d_obs, v->obs);
        self->reward = host_view(o, NPY_FLOAT32, 2, d_em, v->reward);
        self->done = host_view(o, NPY_BOOL, 2, d_em, v->done); /* 0 or 1 bytes */
    } else {
        int64_t s_obs[3] = {v->E, v->M, v->obs_dim}, s_em[2] = {v->E, v->M};
        self->obs = device_array(o, v->obs, 3, s_obs, (DLDataType){kDLFloat, 32, 1}, "<f4");
        self->reward = device_array(o, v->reward, 2, s_em, (DLDataType){kDLFloat, 32, 1}, "<f4");
        self->done = device_array(o, v->done, 2, s_em, (DLDataType){kDLBool, 8, 1}, "|b1");
    }
    if (!self->obs || !self->reward || !self->done) {
        drop_views(self);
        Py_CLEAR(self->buf); /* no views, no environment: closed */
        return -1;
    }
    return 0;
}

/* A new Buffers: afs_vecenv_create on the VecEnv's backend. */
static BuffersObject *new_buffers(VecEnvObject *self, uint32_t seed)
{
    afs_backend *b = PyCapsule_GetPointer(self->backend, "afsim.backend");
    if (!b)
        return NULL;
    char err[ERR_LEN];
    afs_vecenv *v;
    self->busy = 1; /* close() in another thread waits for this */
    Py_BEGIN_ALLOW_THREADS
    v = afs_vecenv_create(self->cfg, b, self->E, seed, err, sizeof err);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (!v) {
        PyErr_SetString(strstr(err, "out of") || strstr(err, "memory") ? PyExc_MemoryError
                                                                       : PyExc_ValueError, err);
        return NULL;
    }
    BuffersObject *o = PyObject_New(BuffersObject, &BuffersType);
    if (!o) {
        afs_vecenv_destroy(v);
        return NULL;
    }
    o->v = v;
    o->backend = self->backend;
    Py_INCREF(o->backend);
    return o;
}

static void free_host(VecEnvObject *self)
{
    PyMem_Free(self->staging);
    PyMem_Free(self->host_obs);
    PyMem_Free(self->host_reward);
    self->staging = NULL;
    self->host_obs = NULL;
    self->host_reward = NULL;
}

static void VecEnv_release(VecEnvObject *self)
{
    drop_views(self);
    Py_CLEAR(self->pz_names);
    Py_CLEAR(self->pz_false);
    Py_CLEAR(self->pz_true);
    Py_CLEAR(self->pz_infos);
    Py_CLEAR(self->buf);
    Py_CLEAR(self->backend);
    free_host(self);
    PyMem_Free(self->cfg);
    self->cfg = NULL;
}

static void VecEnv_dealloc(VecEnvObject *self)
{
    VecEnv_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Applies one "section.key=value" as the command line's --set does. */
static int set_one(afs_config *cfg, const char *assignment)
{
    char err[ERR_LEN];
    if (afs_config_set_arg(cfg, assignment, "--set", err, sizeof err)) {
        PyErr_SetString(PyExc_ValueError, err);
        return -1;
    }
    return 0;
}

/* A value of a `set` mapping as a configuration file writes it. */
static PyObject *value_text(PyObject *value)
{
    if (PyBool_Check(value))
        return PyUnicode_FromString(value == Py_True ? "true" : "false");
    if (PyUnicode_Check(value)) {
        Py_INCREF(value);
        return value;
    }
    if (PyFloat_Check(value))
        return PyObject_Repr(value); /* shortest round-trip digits */
    return PyObject_Str(value);
}

static int apply_sets(afs_config *cfg, PyObject *sets)
{
    if (sets == Py_None)
        return 0;
    if (PyUnicode_Check(sets)) {
        const char *s = PyUnicode_AsUTF8(sets);
        return s ? set_one(cfg, s) : -1;
    }
    if (PyDict_Check(sets)) {
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        while (PyDict_Next(sets, &pos, &k, &val)) {
            if (!PyUnicode_Check(k)) {
                PyErr_Format(PyExc_TypeError, "set: keys are \"section.key\" strings, got %R", k);
                return -1;
            }
            PyObject *text = value_text(val);
            if (!text)
                return -1;
            PyObject *a = PyUnicode_FromFormat("%U=%U", k, text);
            Py_DECREF(text);
            if (!a)
                return -1;
            const char *s = PyUnicode_AsUTF8(a);
            int rc = s ? set_one(cfg, s) : -1;
            Py_DECREF(a);
            if (rc)
                return -1;
        }
        return 0;
    }
    PyObject *seq = PySequence_Fast(sets, "set: give a dict {\"section.key\": value} or a list "
                                          "of \"section.key=value\" strings");
    if (!seq)
        return -1;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "set: entries are \"section.key=value\" strings, got %R",
                         item);
            Py_DECREF(seq);
            return -1;
        }
        const char *s = PyUnicode_AsUTF8(item);
        if (!s || set_one(cfg, s)) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

/* An keyword argument that overrides a run.* key, through the same checks. */
static int set_kw(afs_config *cfg, const char *key, PyObject *value)
{
    if (value == Py_None)
        return 0;
    if (!PyUnicode_Check(value) && !PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s: expected %s, got %R", key,
                     strcmp(key, "backend") ? "an integer" : "'cpu', 'cuda' or 'auto'", value);
        return -1;
    }
    PyObject *a = PyUnicode_FromFormat("run.%s=%S", key, value);
    if (!a)
        return -1;
    char err[ERR_LEN];
    const char *s = PyUnicode_AsUTF8(a);
    char where[64];
    snprintf(where, sizeof where, "VecEnv(%s=)", key);
    int rc = s ? afs_config_set_arg(cfg, s, where, err, sizeof err) : -1;
    Py_DECREF(a);
    if (rc && s)
        PyErr_SetString(PyExc_ValueError, err);
    return rc ? -1 : 0;
}

static int VecEnv_init(VecEnvObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"config", "set", "envs", "backend", "seed", "threads", NULL};
    PyObject *config = Py_None, *sets = Py_None, *envs = Py_None, *backend = Py_None,
             *seed = Py_None, *threads = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OOOOO", kwlist, &config, &sets, &envs,
                                     &backend, &seed, &threads))
        return -1;
    VecEnv_release(self); /* __init__ called twice */
    char err[ERR_LEN];
    afs_config *cfg = PyMem_Calloc(1, sizeof *cfg);
    if (!cfg) {
        PyErr_NoMemory();
        return -1;
    }
    self->cfg = cfg;
    afs_config_defaults(cfg);
    if (config != Py_None) {
        PyObject *path = NULL;
        if (!PyUnicode_FSConverter(config, &path))
            return -1;
        int rc = afs_config_load(cfg, PyBytes_AS_STRING(path), err, sizeof err);
        Py_DECREF(path);
        if (rc) {
            PyErr_SetString(PyExc_ValueError, err);
            return -1;
        }
    }
    if (apply_sets(cfg, sets) || set_kw(cfg, "envs", envs) || set_kw(cfg, "backend", backend) ||
        set_kw(cfg, "seed", seed) || set_kw(cfg, "threads", threads))
        return -1;
    if (afs_config_check(cfg, err, sizeof err)) {
        PyErr_SetString(PyExc_ValueError, err);
        return -1;
    }
    /* the backend, as afsim's command line opens it (host/main.c) */
    afs_backend *b = NULL;
    const char *want = cfg->run.backend;
    if (strcmp(want, "cpu")) {
        char why[512] = "this build of the Python package has no CUDA backend (bash "
                        "python/install.sh --cuda, or AFSIM_CUDA=ON pip install ., on a "
                        "machine with nvcc)";
        if (afs_cuda_built()) {
            Py_BEGIN_ALLOW_THREADS
            b = afs_backend_cuda_create(why, sizeof why);
            Py_END_ALLOW_THREADS
        }
        if (b)
            b->set_tf32(b, cfg->nn.tf32);
        else if (!strcmp(want, "cuda")) {
            PyErr_Format(PyExc_RuntimeError, "backend 'cuda': %s (backend='cpu' runs the same "
                         "model on the CPU)", why);
            return -1;
        }
    }
    if (!b && !(b = afs_backend_cpu_create(cfg->run.threads))) {
        PyErr_SetString(PyExc_MemoryError, "out of memory creating the CPU backend");
        return -1;
    }
    self->backend = PyCapsule_New(b, "afsim.backend", backend_capsule_free);
    if (!self->backend) {
        b->destroy(b);
        return -1;
    }
    self->cuda = !b->host_memory;
    self->E = cfg->run.envs;
    self->M = cfg->env.agents;
    self->slots = cfg->env.slots;
    self->seed = cfg->run.seed;
    if (!(self->buf = new_buffers(self, self->seed)))
        return -1;
    size_t A = (size_t)self->E * self->M;
    if (self->cuda) {
        self->staging = PyMem_Malloc(A);
        self->host_obs = PyMem_Malloc(A * AFS_OBS_DIM * sizeof(float));
        self->host_reward = PyMem_Malloc(A * sizeof(float));
        if (!self->staging || !self->host_obs || !self->host_reward) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return make_views(self);
}

/* ---- Actions ---- */

static int action_error(size_t i, int M, const char *value)
{
    /* afs_vecenv_check_actions's message, for a value it cannot hold (not a byte) */
    PyErr_Format(PyExc_ValueError, "action[%zu] = %s (environment %zu, agent %zu): an action is 0 "
                 "(send the function to the cloud) or 1 (run it at the EN)",
                 i, value, i / (size_t)M, i % (size_t)M);
    return -1;
}

/* Copies n values of an integer array (native byte order, contiguous) of
 * kind 'b', 'i' or 'u' and the given item size into dst as 0/1, refusing
 * any other value. */
static int convert_actions(const void *src, char kind, int size, size_t n, int M, uint8_t *dst)
{
    char buf[64];
#define LOOP(T, FMT, CAST)                                                              \
    do {                                                                                \
        const T *s = (const T *)src;                                                    \
        for (size_t i = 0; i < n; i++) {                                                \
            if (s[i] != 0 && s[i] != 1) {                                               \
                snprintf(buf, sizeof buf, FMT, (CAST)s[i]);                             \
                return action_error(i, M, buf);                                         \
            }                                                                           \
            dst[i] = (uint8_t)s[i];                                                     \
        }                                                                               \
    } while (0)
    if (kind == 'u' || kind == 'b') {
        switch (size) {
        case 1: LOOP(uint8_t, "%llu", unsigned long long); return 0;
        case 2: LOOP(uint16_t, "%llu", unsigned long long); return 0;
        case 4: LOOP(uint32_t, "%llu", unsigned long long); return 0;
        case 8: LOOP(uint64_t, "%llu", unsigned long long); return 0;
        }
    } else {
        switch (size) {
        case 1: LOOP(int8_t, "%lld", long long); return 0;
        case 2: LOOP(int16_t, "%lld", long long); return 0;
        case 4: LOOP(int32_t, "%lld", long long); return 0;
        case 8: LOOP(int64_t, "%lld", long long); return 0;
        }
    }
#undef LOOP
    PyErr_Format(PyExc_TypeError, "actions: integers of %d bytes are not supported", size);
    return -1;
}

static int shape_error(const char *what, int ndim, const npy_intp *dims, int E, int M)
{
    char shape[160];
    int o = 0;
    shape[0] = 0;
    for (int i = 0; i < ndim && o < (int)sizeof shape - 24; i++)
        o += snprintf(shape + o, sizeof shape - (size_t)o, "%s%lld", i ? ", " : "",
                      (long long)dims[i]);
    PyErr_Format(PyExc_ValueError, "%s: shape (%s%s) is neither (E, M) = (%d, %d) nor (E*M,) = "
                 "(%lld,): one action per agent", what, shape, ndim == 1 ? "," : "", E, M,
                 (long long)E * M);
    return -1;
}

/* A CUDA tensor given through DLPack, copied on the device into v->action. */
static int device_actions(afs_vecenv *v, PyObject *obj, int *done)
{
    *done = 0;
    PyObject *dev = PyObject_CallMethod(obj, "__dlpack_device__", NULL);
    if (!dev)
        return -1;
    int type = 0, id = 0;
    int ok = PyArg_ParseTuple(dev, "ii", &type, &id);
    Py_DECREF(dev);
    if (!ok)
        return -1;
    if (type != kDLCUDA)
        return 0; /* a host tensor: NumPy takes it */
    PyObject *kwargs = Py_BuildValue("{s:i}", "stream", 1);
    PyObject *meth = kwargs ? PyObject_GetAttrString(obj, "__dlpack__") : NULL;
    PyObject *empty = meth ? PyTuple_New(0) : NULL;
    PyObject *cap = empty ? PyObject_Call(meth, empty, kwargs) : NULL;
    Py_XDECREF(kwargs);
    Py_XDECREF(meth);
    Py_XDECREF(empty);
    if (!cap)
        return -1;
    DLManagedTensor *t = PyCapsule_GetPointer(cap, "dltensor");
    if (!t) {
        Py_DECREF(cap);
        return -1;
    }
    DLTensor *x = &t->dl_tensor;
    size_t A = (size_t)v->E * v->M;
    int rc = -1;
    npy_intp dims[8];
    for (int i = 0; i < x->ndim && i < 8; i++)
        dims[i] = (npy_intp)x->shape[i];
    int shape_ok = (x->ndim == 1 && (size_t)x->shape[0] == A) ||
                   (x->ndim == 2 && x->shape[0] == v->E && x->shape[1] == v->M);
    int contiguous = !x->strides || x->ndim == 0 ||
                     (x->strides[x->ndim - 1] == 1 && (x->ndim == 1 || x->strides[0] == v->M));
    if (x->device.device_id != 0)
        PyErr_Format(PyExc_ValueError, "actions on CUDA device %d: the environment is on device "
                     "0", x->device.device_id);
    else if (!shape_ok)
        shape_error("actions", x->ndim < 8 ? x->ndim : 8, dims, v->E, v->M);
    else if (!((x->dtype.code == kDLUInt || x->dtype.code == kDLBool) && x->dtype.bits == 8 &&
               x->dtype.lanes == 1))
        PyErr_Format(PyExc_TypeError, "actions on the device must be uint8 or bool (DLPack type "
                     "code %d, %d bits): convert them there, e.g. a.to(torch.uint8)",
                     x->dtype.code, x->dtype.bits);
    else if (!contiguous)
        PyErr_SetString(PyExc_ValueError, "actions on the device must be contiguous");
    else {
        afs_backend *b = v->b;
        const char *src = (const char *)x->data + x->byte_offset;
        if ((void *)src != (void *)v->action)
            b->copy(b, v->action, src, A);
        rc = 0;
        *done = 1;
    }
    /* consumed: the capsule's destructor leaves the tensor to us */
    PyCapsule_SetName(cap, "used_dltensor");
    if (t->deleter)
        t->deleter(t);
    Py_DECREF(cap);
    return rc;
}

/* Writes the actions of obj into v->action, checked. */
static int load_actions(VecEnvObject *self, afs_vecenv *v, PyObject *obj)
{
    size_t A = (size_t)v->E * v->M;
    if (self->cuda && !PyArray_Check(obj) && PyObject_HasAttrString(obj, "__dlpack_device__")) {
        int done;
        if (device_actions(v, obj, &done))
            return -1;
        if (done)
            return 0;
    }
    PyArrayObject *a = (PyArrayObject *)PyArray_FROM_O(obj);
    if (!a)
        return -1;
    int rc = -1;
    char kind = PyArray_DESCR(a)->kind;
    int ndim = PyArray_NDIM(a);
    npy_intp *dims = PyArray_DIMS(a);
    if (kind != 'b' && kind != 'i' && kind != 'u') {
        PyErr_Format(PyExc_TypeError, "actions: dtype %S is not an integer or boolean type: give "
                     "one 0 (cloud) or 1 (EN) per agent, as integers or booleans",
                     (PyObject *)PyArray_DESCR(a));
        goto out;
    }
    if (!((ndim == 1 && (size_t)dims[0] == A) || (ndim == 2 && dims[0] == v->E &&
                                                   dims[1] == v->M))) {
        shape_error("actions", ndim, dims, v->E, v->M);
        goto out;
    }
    uint8_t *dst = self->cuda ? self->staging : v->action;
    int itemsize = (int)PyArray_ITEMSIZE(a);
    if (itemsize == 1 && PyArray_ISCARRAY_RO(a) && !self->cuda) {
        /* uint8, int8 or bool: straight in; the library's check says what is wrong */
        if (PyArray_DATA(a) != (void *)dst)
            memcpy(dst, PyArray_DATA(a), A);
        char err[ERR_LEN];
        if (afs_vecenv_check_actions(v, err, sizeof err)) {
            if (kind == 'i') /* say -1, not 255 */
                convert_actions(PyArray_DATA(a), kind, 1, A, v->M, dst);
            else
                PyErr_SetString(PyExc_ValueError, err);
            goto out;
        }
    } else {
        /* contiguous, aligned, in this machine's byte order */
        PyArray_Descr *native = PyArray_ISNBO(PyArray_DESCR(a)->byteorder)
                                    ? (Py_INCREF(PyArray_DESCR(a)), PyArray_DESCR(a))
                                    : PyArray_DescrNewByteorder(PyArray_DESCR(a), NPY_NATIVE);
        if (!native)
            goto out;
        PyArrayObject *c = (PyArrayObject *)PyArray_FromArray(a, native, NPY_ARRAY_IN_ARRAY);
        if (!c)
            goto out;
        int r = convert_actions(PyArray_DATA(c), kind, itemsize, A, v->M, dst);
        Py_DECREF(c);
        if (r)
            goto out;
    }
    if (self->cuda)
        v->b->to_backend(v->b, v->action, self->staging, A);
    rc = 0;
out:
    Py_DECREF(a);
    return rc;
}

/* ---- Metrics ---- */

static const char *const acc_names[AFS_ACC_N] = {
    "generated", "completed", "success", "dropped", "late", "offloaded", "cold",
    "latency", "cost", "reward",
};

/* The ratios afs_row_from_sums fills, in afs_metric_columns' order. */
#define N_RATIOS 8
static const char *const ratio_names[N_RATIOS] = {
    "mean_latency_s", "success_rate", "mean_cost", "mean_reward",
    "offload_fraction", "drop_rate", "miss_rate", "cold_start_fraction",
};

static double ratio_of(const afs_episode_row *r, int k)
{
    switch (k) {
    case 0: return r->mean_latency_s;
    case 1: return r->success_rate;
    case 2: return r->mean_cost;
    case 3: return r->mean_reward;
    case 4: return r->offload_fraction;
    case 5: return r->drop_rate;
    case 6: return r->miss_rate;
    default: return r->cold_start_fraction;
    }
}

/* The last finished episode's sums on the host: a pointer into the CPU
 * buffer, or a copy in *copy (to free) from the device. */
static const double *host_acc(VecEnvObject *self, afs_vecenv *v, double **copy)
{
    *copy = NULL;
    if (!self->cuda)
        return v->episode_acc;
    size_t bytes = (size_t)v->E * AFS_ACC_N * sizeof(double);
    if (!(*copy = PyMem_Malloc(bytes ? bytes : 1))) {
        PyErr_NoMemory();
        return NULL;
    }
    v->b->to_host(v->b, *copy, v->episode_acc, bytes);
    return *copy;
}

/* Per environment (total = 0: arrays [E]) or over all of them in
 * environment order as afsim run sums them (total = 1: floats). */
static PyObject *metrics_of(const double *acc, int E, int total)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    if (total) {
        afs_episode_sums s;
        memset(&s, 0, sizeof s);
        for (int a = 0; a < AFS_ACC_N; a++) /* afs_sum_over_envs's order */
            for (int e = 0; e < E; e++)
                s.v[a] += acc[(size_t)e * AFS_ACC_N + a];
        afs_episode_row r;
        memset(&r, 0, sizeof r);
        afs_row_from_sums(&r, &s);
        PyObject *f = PyLong_FromLongLong(r.functions);
        if (!f || PyDict_SetItemString(d, "functions", f)) {
            Py_XDECREF(f);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(f);
        for (int k = 0; k < N_RATIOS; k++) {
            PyObject *x = PyFloat_FromDouble(ratio_of(&r, k));
            if (!x || PyDict_SetItemString(d, ratio_names[k], x)) {
                Py_XDECREF(x);
                Py_DECREF(d);
                return NULL;
            }
            Py_DECREF(x);
        }
        return d;
    }
    npy_intp dims[1] = {E};
    PyObject *arrs[N_RATIOS + 1] = {0};
    arrs[0] = PyArray_SimpleNew(1, dims, NPY_INT64);
    for (int k = 0; k < N_RATIOS; k++)
        arrs[k + 1] = PyArray_SimpleNew(1, dims, NPY_FLOAT64);
    int ok = 1;
    for (int k = 0; k <= N_RATIOS; k++)
        ok &= arrs[k] != NULL;
    if (ok) {
        for (int e = 0; e < E; e++) {
            afs_episode_sums s;
            afs_episode_row r;
            memcpy(s.v, acc + (size_t)e * AFS_ACC_N, sizeof s.v);
            memset(&r, 0, sizeof r);
            afs_row_from_sums(&r, &s);
            ((int64_t *)PyArray_DATA((PyArrayObject *)arrs[0]))[e] = r.functions;
            for (int k = 0; k < N_RATIOS; k++)
                ((double *)PyArray_DATA((PyArrayObject *)arrs[k + 1]))[e] = ratio_of(&r, k);
        }
        ok = !PyDict_SetItemString(d, "functions", arrs[0]);
        for (int k = 0; ok && k < N_RATIOS; k++)
            ok = !PyDict_SetItemString(d, ratio_names[k], arrs[k + 1]);
    }
    for (int k = 0; k <= N_RATIOS; k++)
        Py_XDECREF(arrs[k]);
    if (!ok) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *episode_info(VecEnvObject *self, afs_vecenv *v)
{
    double *copy;
    const double *acc = host_acc(self, v, &copy);
    if (!acc)
        return NULL;
    PyObject *m = metrics_of(acc, v->E, 0);
    PyObject *t = m ? metrics_of(acc, v->E, 1) : NULL;
    PyMem_Free(copy);
    if (!t) {
        Py_XDECREF(m);
        return NULL;
    }
    return Py_BuildValue("{s:k,s:N,s:N}", "episode", (unsigned long)(v->episode - 1u),
                         "episode_metrics", m, "episode_total", t);
}

/* ---- Methods ---- */

static PyObject *VecEnv_reset(VecEnvObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"seed", "episode", NULL};
    PyObject *seed = Py_None, *ep = NULL;
    unsigned long long episode = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", kwlist, &seed, &ep))
        return NULL;
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    if (ep) {
        episode = PyLong_Check(ep) ? PyLong_AsUnsignedLongLong(ep) : (unsigned long long)-1;
        if (PyErr_Occurred() || episode > UINT32_MAX) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "episode = %R: an episode word is an integer from 0 "
                         "to 2^32 - 1", ep);
            return NULL;
        }
    }
    if (seed != Py_None) {
        unsigned long long s = PyLong_AsUnsignedLongLong(seed);
        if (PyErr_Occurred() || s > UINT32_MAX) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "seed = %R: a seed is an integer from 0 to 2^32 - 1",
                         seed);
            return NULL;
        }
        /* the same buffers (and views) from now on keyed by this seed */
        afs_vecenv_set_seed(v, (uint32_t)s);
        self->seed = (uint32_t)s;
        self->cfg->run.seed = (uint32_t)s; /* config_value("run.seed") says it */
    }
    BuffersObject *hold = self->buf;
    Py_INCREF(hold);
    self->busy = 1;
    if ((size_t)v->E * v->M >= NOGIL_AGENTS) {
        Py_BEGIN_ALLOW_THREADS
        afs_vecenv_reset(v, (uint32_t)episode);
        Py_END_ALLOW_THREADS
    } else {
        afs_vecenv_reset(v, (uint32_t)episode);
    }
    self->busy = 0;
    Py_DECREF(hold);
    Py_INCREF(self->obs);
    return self->obs;
}

static PyObject *VecEnv_step(VecEnvObject *self, PyObject *actions)
{
    afs_vecenv *v = live(self);
    if (!v || load_actions(self, v, actions))
        return NULL;
    BuffersObject *hold = self->buf;
    Py_INCREF(hold);
    self->busy = 1;
    int ended;
    if ((size_t)v->E * v->M >= NOGIL_AGENTS) {
        Py_BEGIN_ALLOW_THREADS
        ended = afs_vecenv_step(v);
        Py_END_ALLOW_THREADS
    } else {
        ended = afs_vecenv_step(v);
    }
    self->busy = 0;
    Py_DECREF(hold);
    PyObject *info = ended ? episode_info(self, v) : PyDict_New();
    if (!info)
        return NULL;
    return Py_BuildValue("(OOON)", self->obs, self->reward, self->done, info);
}

static int policy_arg(PyObject *name)
{
    const char *s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    int p = s ? afs_policy_from_name(s) : -1;
    if (p < 0) {
        char names[256];
        PyErr_Format(PyExc_ValueError, "unknown policy %R: the heuristics are %s", name,
                     afs_policy_names(names, sizeof names));
    }
    return p;
}

static PyObject *VecEnv_heuristic_actions(VecEnvObject *self, PyObject *name)
{
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    int p = policy_arg(name);
    if (p < 0)
        return NULL;
    npy_intp dims[2] = {v->E, v->M};
    PyObject *out = PyArray_SimpleNew(2, dims, NPY_UINT8);
    if (!out)
        return NULL;
    BuffersObject *hold = self->buf;
    Py_INCREF(hold);
    self->busy = 1;
    int rc;
    void *dst = PyArray_DATA((PyArrayObject *)out);
    size_t A = (size_t)v->E * v->M;
    Py_BEGIN_ALLOW_THREADS
    rc = afs_vecenv_heuristic_actions(v, p);
    if (!rc)
        v->b->to_host(v->b, dst, v->action, A);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    Py_DECREF(hold);
    if (rc) {
        Py_DECREF(out);
        PyErr_Format(PyExc_ValueError, "policy %R: not a heuristic afs_vecenv_heuristic_actions "
                     "plays", name);
        return NULL;
    }
    return out;
}

static PyObject *VecEnv_episode_metrics(VecEnvObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"total", NULL};
    int total = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$p", kwlist, &total))
        return NULL;
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    double *copy;
    const double *acc = host_acc(self, v, &copy);
    if (!acc)
        return NULL;
    PyObject *m = metrics_of(acc, v->E, total);
    PyMem_Free(copy);
    return m;
}

static PyObject *VecEnv_close(VecEnvObject *self, PyObject *unused)
{
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "close(): a step runs in another thread");
        return NULL;
    }
    VecEnv_release(self);
    Py_RETURN_NONE;
}

static PyObject *VecEnv_enter(VecEnvObject *self, PyObject *unused)
{
    (void)unused;
    if (!live(self))
        return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *VecEnv_exit(VecEnvObject *self, PyObject *args)
{
    (void)args;
    return VecEnv_close(self, NULL);
}

static PyObject *VecEnv_buffer_addresses(VecEnvObject *self, PyObject *unused)
{
    (void)unused;
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    return Py_BuildValue("{s:N,s:N,s:N,s:N,s:N}", "obs", PyLong_FromVoidPtr(v->obs), "action",
                         PyLong_FromVoidPtr(v->action), "reward", PyLong_FromVoidPtr(v->reward),
                         "done", PyLong_FromVoidPtr(v->done), "episode_acc",
                         PyLong_FromVoidPtr(v->episode_acc));
}

static PyObject *VecEnv_config_value(VecEnvObject *self, PyObject *key)
{
    if (!self->cfg)
        return closed_error();
    const char *s = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
    const char *dot = s ? strchr(s, '.') : NULL;
    if (!dot || dot - s >= 64) {
        PyErr_Format(PyExc_ValueError, "config_value(%R): give \"section.key\"", key);
        return NULL;
    }
    char section[64];
    snprintf(section, sizeof section, "%.*s", (int)(dot - s), s);
    int i = afs_config_key_index(section, dot + 1);
    if (i < 0) {
        PyErr_Format(PyExc_KeyError, "%s: no such configuration key (afsim config --dump lists "
                     "them)", s);
        return NULL;
    }
    char buf[AFS_PATH_MAX + 64];
    afs_config_format(self->cfg, afs_config_key_at(i), buf, sizeof buf);
    return PyUnicode_FromString(buf);
}

static PyObject *VecEnv_config_dump(VecEnvObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->cfg)
        return closed_error();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return PyErr_NoMemory();
    afs_config_dump(self->cfg, f);
    fclose(f);
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    return s;
}

/* ---- PettingZoo (afsim/pettingzoo.py): one step with dicts built here ---- */

/* The templates of the agents' names: {name: False}, {name: True}, and
 * {name: row view of obs} (copy_obs=False), rebuilt for new names. */
static int pz_templates(VecEnvObject *self, PyObject *agents)
{
    if (self->pz_names == agents)
        return 0;
    Py_CLEAR(self->pz_names);
    Py_CLEAR(self->pz_false);
    Py_CLEAR(self->pz_true);
    Py_CLEAR(self->pz_rows);
    Py_CLEAR(self->pz_infos);
    PyObject *f = PyDict_New(), *t = PyDict_New(), *i = PyDict_New(), *empty = PyDict_New();
    PyObject *none = empty ? PyDictProxy_New(empty) : NULL;
    Py_XDECREF(empty);
    for (Py_ssize_t m = 0; f && t && i && none && m < PyTuple_GET_SIZE(agents); m++) {
        PyObject *name = PyTuple_GET_ITEM(agents, m);
        if (PyDict_SetItem(f, name, Py_False) || PyDict_SetItem(t, name, Py_True) ||
            PyDict_SetItem(i, name, none)) {
            Py_CLEAR(f);
            break;
        }
    }
    Py_XDECREF(none);
    if (!f || !t || !i || PyErr_Occurred()) {
        Py_XDECREF(f);
        Py_XDECREF(t);
        Py_XDECREF(i);
        return -1;
    }
    self->pz_false = f;
    self->pz_true = t;
    self->pz_infos = i;
    Py_INCREF(agents);
    self->pz_names = agents;
    return 0;
}

/* {name: row m of the [M, D] float32 array `src` (its base)}. */
static PyObject *pz_rows_of(PyObject *agents, PyObject *src, int D)
{
    PyObject *d = PyDict_New();
    char *base = PyArray_DATA((PyArrayObject *)src);
    npy_intp row[1] = {D};
    for (Py_ssize_t m = 0; d && m < PyTuple_GET_SIZE(agents); m++) {
        PyObject *o = PyArray_New(&PyArray_Type, 1, row, NPY_FLOAT32, NULL,
                                  base + (size_t)m * D * sizeof(float), 0, NPY_ARRAY_CARRAY, NULL);
        if (!o) {
            Py_CLEAR(d);
            break;
        }
        Py_INCREF(src);
        if (PyArray_SetBaseObject((PyArrayObject *)o, src) < 0 ||
            PyDict_SetItem(d, PyTuple_GET_ITEM(agents, m), o)) {
            Py_DECREF(o);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(o);
    }
    return d;
}

/* Agent m's action (0 or 1) from a Python int, bool or NumPy integer. */
static int pz_action(PyObject *name, PyObject *a, Py_ssize_t m, uint8_t *out)
{
    long x;
    if (PyLong_CheckExact(a) || PyBool_Check(a)) {
        x = PyLong_AsLong(a);
    } else if (PyArray_IsScalar(a, Bool)) {
        x = PyObject_IsTrue(a);
    } else if (PyFloat_Check(a) || !PyIndex_Check(a)) {
        PyErr_Format(PyExc_TypeError, "actions[%R] = %R: an action is the integer 0 (cloud) "
                     "or 1 (EN)", name, a);
        return -1;
    } else {
        PyObject *i = PyNumber_Index(a);
        if (!i)
            return -1;
        x = PyLong_AsLong(i);
        Py_DECREF(i);
    }
    if (x == -1 && PyErr_Occurred())
        return -1;
    if (x != 0 && x != 1) {
        PyErr_Format(PyExc_ValueError, "actions[%R] = %ld (agent %zd): an action is 0 (send "
                     "the function to the cloud) or 1 (run it at the EN)", name, x, m);
        return -1;
    }
    *out = (uint8_t)x;
    return 0;
}

/* One step of a PettingZoo environment (E = 1): actions {name: 0 or 1}
 * for every agent, named agents[m]; returns (obs, rewards, terminations,
 * truncations, infos, ended) as dicts keyed by the same names. obs values
 * are rows of one new array (copy) or the persistent row views of the
 * environment's buffer (copy false: the same objects every step, and every
 * agent's info one shared read-only empty mapping). At an
 * episode's end they are the last observation (the one the last actions
 * answered), copied, and terminated (or truncated) is set. */
static PyObject *VecEnv_pz_step(VecEnvObject *self, PyObject *args)
{
    PyObject *actions, *agents;
    int copy, truncate;
    if (!PyArg_ParseTuple(args, "O!O!pp", &PyDict_Type, &actions, &PyTuple_Type, &agents, &copy,
                          &truncate))
        return NULL;
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    Py_ssize_t A = (Py_ssize_t)v->E * v->M;
    if (v->E != 1 || PyTuple_GET_SIZE(agents) != A) {
        PyErr_SetString(PyExc_ValueError, "_pz_step: one environment, one name per agent");
        return NULL;
    }
    if (pz_templates(self, agents))
        return NULL;
    uint8_t *act = self->cuda ? self->staging : v->action;
    /* the usual dict: the agents in order, the same name objects (a
     * comprehension over env.agents): no lookups */
    Py_ssize_t m = 0, pos = 0;
    PyObject *k, *val;
    if (PyDict_GET_SIZE(actions) == A)
        while (m < A && PyDict_Next(actions, &pos, &k, &val) && k == PyTuple_GET_ITEM(agents, m)) {
            if (pz_action(k, val, m, &act[m]))
                return NULL;
            m++;
        }
    for (; m < A; m++) {
        PyObject *name = PyTuple_GET_ITEM(agents, m);
        PyObject *a = PyDict_GetItemWithError(actions, name);
        if (!a) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_KeyError, "actions: no action for agent %R (every agent acts "
                             "every slot)", name);
            return NULL;
        }
        if (pz_action(name, a, m, &act[m]))
            return NULL;
    }
    if (PyDict_GET_SIZE(actions) > A) { /* every agent found: the rest are strangers */
        pos = 0;
        while (PyDict_Next(actions, &pos, &k, &val)) {
            int known = PyDict_Contains(self->pz_false, k);
            if (known < 0)
                return NULL;
            if (!known) {
                PyErr_Format(PyExc_KeyError, "actions: %R is no live agent", k);
                return NULL;
            }
        }
    }
    if (self->cuda)
        v->b->to_backend(v->b, v->action, self->staging, (size_t)A);
    int last = v->slot == v->slots - 1;
    int D = v->obs_dim;
    npy_intp dims[2] = {v->M, D};
    PyObject *frame = NULL; /* a new array the rows are views of */
    if (last || copy || self->cuda) {
        frame = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
        if (!frame)
            return NULL;
    }
    if (last) /* the observation the last actions answer: the episode's final one */
        v->b->to_host(v->b, PyArray_DATA((PyArrayObject *)frame), v->obs,
                      (size_t)A * D * sizeof(float));
    int ended = afs_vecenv_step(v);
    const float *rew = v->reward;
    if (self->cuda) {
        v->b->to_host(v->b, self->host_reward, v->reward, (size_t)A * sizeof(float));
        rew = self->host_reward;
    }
    if (frame && !last)
        v->b->to_host(v->b, PyArray_DATA((PyArrayObject *)frame), v->obs,
                      (size_t)A * D * sizeof(float));
    PyObject *obs = NULL, *rd = NULL, *term = NULL, *trunc = NULL, *infos = NULL, *out = NULL;
    if (frame) {
        obs = pz_rows_of(agents, frame, D);
    } else {
        if (!self->pz_rows) {
            PyObject *flat = PyArray_Newshape((PyArrayObject *)self->obs,
                                              &(PyArray_Dims){dims, 2}, NPY_CORDER);
            self->pz_rows = flat ? pz_rows_of(agents, flat, D) : NULL;
            Py_XDECREF(flat);
        }
        obs = self->pz_rows ? PyDict_Copy(self->pz_rows) : NULL;
    }
    rd = PyDict_Copy(self->pz_false); /* the keys in place: SetItem only replaces */
    term = PyDict_Copy(ended && !truncate ? self->pz_true : self->pz_false);
    trunc = PyDict_Copy(ended && truncate ? self->pz_true : self->pz_false);
    /* copy false: one shared read-only {} for every agent (nothing made per
     * agent); else a new {} each */
    infos = PyDict_Copy(copy ? self->pz_false : self->pz_infos);
    if (!obs || !rd || !term || !trunc || !infos)
        goto out;
    for (m = 0; m < A; m++) {
        PyObject *name = PyTuple_GET_ITEM(agents, m);
        PyObject *r = PyFloat_FromDouble((double)rew[m]);
        if (!r || PyDict_SetItem(rd, name, r)) {
            Py_XDECREF(r);
            goto out;
        }
        Py_DECREF(r);
        if (!copy)
            continue;
        PyObject *info = PyDict_New();
        if (!info || PyDict_SetItem(infos, name, info)) {
            Py_XDECREF(info);
            goto out;
        }
        Py_DECREF(info);
    }
    out = Py_BuildValue("(OOOOOO)", obs, rd, term, trunc, infos, ended ? Py_True : Py_False);
out:
    Py_XDECREF(frame);
    Py_XDECREF(obs);
    Py_XDECREF(rd);
    Py_XDECREF(term);
    Py_XDECREF(trunc);
    Py_XDECREF(infos);
    return out;
}

static PyObject *VecEnv_episode_acc(VecEnvObject *self, PyObject *unused)
{
    (void)unused;
    afs_vecenv *v = live(self);
    if (!v)
        return NULL;
    npy_intp dims[2] = {v->E, AFS_ACC_N};
    PyObject *a = PyArray_SimpleNew(2, dims, NPY_FLOAT64);
    if (a)
        v->b->to_host(v->b, PyArray_DATA((PyArrayObject *)a), v->episode_acc,
                      (size_t)v->E * AFS_ACC_N * sizeof(double));
    return a;
}

static PyMethodDef VecEnv_methods[] = {
    {"reset", (PyCFunction)(void (*)(void))VecEnv_reset, METH_VARARGS | METH_KEYWORDS,
     "reset(seed=None, *, episode=0) -> obs\n\n"
     "Starts episode word `episode` (0 = afsim run's first episode) of every environment and "
     "returns obs [E, M, obs_dim]. A seed keys every draw from then on (the same buffers: "
     "the views stay valid)."},
    {"step", (PyCFunction)VecEnv_step, METH_O,
     "step(actions) -> (obs, reward, done, info)\n\n"
     "actions: [E, M] or [E*M], integers or booleans, 1 = run at the EN, 0 = cloud. "
     "obs [E, M, obs_dim] float32, reward [E, M] float32, done [E, M] bool are views of the "
     "environment's buffers, overwritten by the next step or reset. info is {} but at an "
     "episode's end: {'episode', 'episode_metrics', 'episode_total'}."},
    {"heuristic_actions", (PyCFunction)VecEnv_heuristic_actions, METH_O,
     "heuristic_actions(policy) -> uint8 [E, M]: the actions heuristic `policy` (random, greedy, "
     "all_local, all_cloud, best_response, deadline) takes on the current observation"},
    {"episode_metrics", (PyCFunction)(void (*)(void))VecEnv_episode_metrics,
     METH_VARARGS | METH_KEYWORDS,
     "episode_metrics(*, total=False) -> dict: the last finished episode's metrics per "
     "environment (arrays [E]), or with total=True over all environments as afsim run "
     "writes them (floats)"},
    {"episode_acc", (PyCFunction)VecEnv_episode_acc, METH_NOARGS,
     "episode_acc() -> float64 [E, len(ACC_FIELDS)]: a copy of the last finished episode's "
     "sums per environment (zeros before the first end)"},
    {"close", (PyCFunction)VecEnv_close, METH_NOARGS,
     "close(): releases the environment (idempotent); arrays taken from it stay valid"},
    {"__enter__", (PyCFunction)VecEnv_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)VecEnv_exit, METH_VARARGS, NULL},
    {"_buffer_addresses", (PyCFunction)VecEnv_buffer_addresses, METH_NOARGS,
     "the addresses of the C buffers (for tests of the zero-copy views)"},
    {"config_value", (PyCFunction)VecEnv_config_value, METH_O,
     "config_value('section.key') -> str: the effective value, as a file writes it"},
    {"config_dump", (PyCFunction)VecEnv_config_dump, METH_NOARGS,
     "the effective configuration as an INI file (afsim config --dump)"},
    {"_pz_step", (PyCFunction)VecEnv_pz_step, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

#define INT_GETTER(name, expr)                                                     \
    static PyObject *VecEnv_get_##name(VecEnvObject *self, void *unused)          \
    {                                                                              \
        (void)unused;                                                              \
        afs_vecenv *v = self->buf ? self->buf->v : NULL;                           \
        if (!v)                                                                    \
            return closed_error();                                                 \
        return PyLong_FromLongLong((long long)(expr));                             \
    }
INT_GETTER(num_envs, v->E)
INT_GETTER(num_agents, v->M)
INT_GETTER(slots, v->slots)
INT_GETTER(obs_dim, v->obs_dim)
INT_GETTER(episode, v->episode)
INT_GETTER(slot, v->slot)
INT_GETTER(episodes_done, v->episodes_done)
INT_GETTER(seed, self->seed)

#define VIEW_GETTER(name)                                                          \
    static PyObject *VecEnv_get_##name(VecEnvObject *self, void *unused)          \
    {                                                                              \
        (void)unused;                                                              \
        if (!self->buf)                                                            \
            return closed_error();                                                 \
        Py_INCREF(self->name);                                                     \
        return self->name;                                                         \
    }
VIEW_GETTER(obs)
VIEW_GETTER(reward)
VIEW_GETTER(done)

static PyObject *VecEnv_get_backend(VecEnvObject *self, void *unused)
{
    (void)unused;
    if (!self->buf)
        return closed_error();
    return PyUnicode_FromString(self->buf->v->b->name);
}

static PyObject *VecEnv_get_obs_scales(VecEnvObject *self, void *unused)
{
    (void)unused;
    if (!self->cfg)
        return closed_error();
    return obs_scales((double)self->cfg->env.queue_cap);
}

static PyObject *VecEnv_get_closed(VecEnvObject *self, void *unused)
{
    (void)unused;
    return PyBool_FromLong(self->buf == NULL);
}

static PyGetSetDef VecEnv_getset[] = {
    {"num_envs", (getter)VecEnv_get_num_envs, NULL, "E, environments", NULL},
    {"num_agents", (getter)VecEnv_get_num_agents, NULL, "M, agents (ENs) per environment", NULL},
    {"slots", (getter)VecEnv_get_slots, NULL, "L, slots (steps) per episode", NULL},
    {"obs_dim", (getter)VecEnv_get_obs_dim, NULL, "floats per agent's observation", NULL},
    {"episode", (getter)VecEnv_get_episode, NULL, "episode word of the episode being played",
     NULL},
    {"slot", (getter)VecEnv_get_slot, NULL, "the slot the next step plays, 0 .. slots - 1",
     NULL},
    {"episodes_done", (getter)VecEnv_get_episodes_done, NULL,
     "episodes finished since the last reset", NULL},
    {"seed", (getter)VecEnv_get_seed, NULL, "the seed of every random stream", NULL},
    {"backend", (getter)VecEnv_get_backend, NULL, "'cpu' or 'cuda'", NULL},
    {"obs_scales", (getter)VecEnv_get_obs_scales, NULL,
     "each observation field's divisor: quantity = obs x scale (the queue's: env.queue_cap)",
     NULL},
    {"closed", (getter)VecEnv_get_closed, NULL, "True after close()", NULL},
    {"obs", (getter)VecEnv_get_obs, NULL, "the observation view [E, M, obs_dim]", NULL},
    {"reward", (getter)VecEnv_get_reward, NULL, "the reward view [E, M]", NULL},
    {"done", (getter)VecEnv_get_done, NULL, "the done view [E, M]", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyObject *VecEnv_repr(VecEnvObject *self)
{
    if (!self->buf)
        return PyUnicode_FromString("<afsim.VecEnv (closed)>");
    afs_vecenv *v = self->buf->v;
    return PyUnicode_FromFormat("<afsim.VecEnv E=%d M=%d slots=%d backend=%s seed=%lu episode=%lu "
                                "slot=%d>", v->E, v->M, v->slots, v->b->name,
                                (unsigned long)self->seed, (unsigned long)v->episode, (int)v->slot);
}

static PyTypeObject VecEnvType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "afsim.VecEnv",
    .tp_doc = "VecEnv(config=None, *, set=None, envs=None, backend=None, seed=None, threads=None)\n\n"
              "E environments of M edge nodes stepped together (host/vecenv.h). config: an INI "
              "file (experiments/default.ini's keys; None: the defaults); set: {'section.key': "
              "value} or ['section.key=value', ...], applied as afsim's --set; envs, backend "
              "('cpu', 'cuda', 'auto'), seed and threads override run.envs, run.backend, "
              "run.seed and run.threads. See docs/python.md.",
    .tp_basicsize = sizeof(VecEnvObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)VecEnv_init,
    .tp_dealloc = (destructor)VecEnv_dealloc,
    .tp_repr = (reprfunc)VecEnv_repr,
    .tp_methods = VecEnv_methods,
    .tp_getset = VecEnv_getset,
};

/* ---- Module ---- */

static PyObject *mod_cuda_built(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    return PyBool_FromLong(afs_cuda_built());
}

static PyMethodDef module_methods[] = {
    {"cuda_built", mod_cuda_built, METH_NOARGS,
     "True when this build has the CUDA backend (a device may still be missing)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_afsim", "afsim's vectorized environment (C extension)", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

/* Each observation field's divisor (kernels/common/env_math.h); the
 * queue's is env.queue_cap: queue_cap < 0 leaves None there. */
static PyObject *obs_scales(double queue_cap)
{
    double s[AFS_OBS_DIM] = {
        [AFS_OBS_DEADLINE] = AFS_OBS_SCALE_DEADLINE, [AFS_OBS_K] = AFS_OBS_SCALE_K,
        [AFS_OBS_Z] = AFS_OBS_SCALE_Z, [AFS_OBS_HAS] = 1.0, [AFS_OBS_QUEUE] = queue_cap,
        [AFS_OBS_MU] = 1.0, [AFS_OBS_R_RE] = AFS_OBS_SCALE_RATE, [AFS_OBS_R_TR] = AFS_OBS_SCALE_RATE,
        [AFS_OBS_F] = AFS_OBS_SCALE_F, [AFS_OBS_F_C] = AFS_OBS_SCALE_F_C,
    };
    PyObject *t = PyTuple_New(AFS_OBS_DIM);
    for (int i = 0; t && i < AFS_OBS_DIM; i++) {
        PyObject *x = s[i] < 0 ? Py_NewRef(Py_None) : PyFloat_FromDouble(s[i]);
        if (!x) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

static PyObject *str_tuple(const char *const *names, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

PyMODINIT_FUNC PyInit__afsim(void)
{
    import_array();
    if (PyType_Ready(&BuffersType) < 0 || PyType_Ready(&DeviceArrayType) < 0 ||
        PyType_Ready(&VecEnvType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    static const char *const obs_names[AFS_OBS_DIM] = {
        [AFS_OBS_DEADLINE] = "deadline", [AFS_OBS_K] = "k", [AFS_OBS_Z] = "z",
        [AFS_OBS_HAS] = "has", [AFS_OBS_QUEUE] = "queue", [AFS_OBS_MU] = "mu",
        [AFS_OBS_R_RE] = "r_re", [AFS_OBS_R_TR] = "r_tr", [AFS_OBS_F] = "f", [AFS_OBS_F_C] = "f_c",
    };
    const char *policies[AFS_POLICY_N];
    for (int i = 0; i < AFS_POLICY_N; i++)
        policies[i] = afs_policy_name(i);
    char version[64];
    snprintf(version, sizeof version, "%s", AFS_VERSION);
    Py_INCREF(&VecEnvType);
    Py_INCREF(&DeviceArrayType);
    if (PyModule_AddObject(m, "VecEnv", (PyObject *)&VecEnvType) ||
        PyModule_AddObject(m, "DeviceArray", (PyObject *)&DeviceArrayType) ||
        PyModule_AddObject(m, "ACC_FIELDS", str_tuple(acc_names, AFS_ACC_N)) ||
        PyModule_AddObject(m, "METRICS", str_tuple(ratio_names, N_RATIOS)) ||
        PyModule_AddObject(m, "OBS_FIELDS", str_tuple(obs_names, AFS_OBS_DIM)) ||
        PyModule_AddObject(m, "POLICIES", str_tuple(policies, AFS_POLICY_N)) ||
        PyModule_AddStringConstant(m, "LIB_VERSION", version) ||
        PyModule_AddStringConstant(m, "GIT_REVISION", AFS_GIT_REVISION) ||
        PyModule_AddIntConstant(m, "OBS_DIM", AFS_OBS_DIM) ||
        PyModule_AddObject(m, "OBS_SCALES", obs_scales(-1.0))) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
