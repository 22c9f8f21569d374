/* A multilayer perceptron on any backend: the actor and critic bodies of
 * design section 5, or G of them at once (one per agent: MADDPG's
 * per-agent networks), each group with its own weights and its own rows.
 * Its parameters, gradients and Adam moments are one parameter set
 * (models/params.h: one contiguous buffer each), laid out layer by layer as
 * W [G, out, in] then bias [G, out]. */
#ifndef AFS_MLP_H
#define AFS_MLP_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/backend.h"
#include "params.h"

#define AFS_MLP_MAX_LAYERS 8
#define AFS_ACT_NONE (-1)

typedef struct afs_mlp {
    int layers;                          /* linear layers */
    int G;                               /* groups: independent networks */
    int sizes[AFS_MLP_MAX_LAYERS + 1];   /* sizes[0] input ... sizes[layers] output */
    int hidden_act, out_act;             /* enum afs_activation or AFS_ACT_NONE */
    size_t n_params;                     /* = p.n */
    size_t w_off[AFS_MLP_MAX_LAYERS], b_off[AFS_MLP_MAX_LAYERS];
    afs_params p;                        /* values, gradients, Adam moments */
    /* Workspace for batches of up to `batch` rows per group: each layer's
     * output [G, batch, size], and two gradient buffers of the widest. */
    int batch;
    float *act[AFS_MLP_MAX_LAYERS + 1];  /* act[0] is the caller's input */
    float *delta[2];
} afs_mlp;

/* Allocates G networks for batches of up to `batch` rows each and
 * initializes weights and biases from Philox (key {seed, stream}): uniform
 * on +-1/sqrt(fan_in), drawn on the host, so every backend starts
 * identical. name names the parameter set (checkpoints). Returns 0, or -1
 * when out of memory or the sizes are invalid. */
int afs_mlp_init(afs_mlp *net, afs_backend *b, const char *name, const int *sizes, int layers,
                 int G, int hidden_act, int out_act, int batch, uint32_t seed, uint32_t stream);
void afs_mlp_free(afs_mlp *net, afs_backend *b);
/* The bytes afs_mlp_init allocates for these arguments: parameters,
 * gradients and both Adam moments, each layer's output and the two
 * gradient buffers (so that a run can say what its networks take before
 * allocating them). */
double afs_mlp_bytes(const int *sizes, int layers, int G, int batch);

/* Parses "128,64" into sizes[]; returns the count (0 for "none": no hidden
 * layer), or -1 when the text is neither "none" nor 1..max positive sizes
 * up to 65536 separated by commas. */
int afs_parse_sizes(const char *text, int *sizes, int max);

/* y = net(x) for B <= batch rows per group: x [G, B, in] to y [G, B, out];
 * returns y (net workspace, valid until the next forward). */
const float *afs_mlp_forward(afs_mlp *net, afs_backend *b, int B, const float *x);
/* Adds dL/dparams into the gradients given dL/dy [G, B, out] of the last
 * forward; writes dL/dx [G, B, in] into dx when dx is not NULL. */
void afs_mlp_backward(afs_mlp *net, afs_backend *b, int B, const float *dy, float *dx);

/* A text naming the architecture, e.g. "mlp 10-64-64-2 x1 relu/none":
 * checkpoints store it and refuse to load into another. */
void afs_mlp_shape(const afs_mlp *net, char *buf, size_t n);

#endif
