/* A multilayer perceptron on any backend: the actor and critic bodies of
 * design section 5. Its parameters, gradients and Adam moments are each one
 * contiguous buffer (checkpointing is one write per buffer, the optimizer one
 * call), laid out layer by layer as W [out, in] then bias [out]. */
#ifndef AFS_MLP_H
#define AFS_MLP_H

#include <stddef.h>
#include <stdint.h>
#include "kernels/backend.h"

#define AFS_MLP_MAX_LAYERS 8
#define AFS_ACT_NONE (-1)

typedef struct afs_mlp {
    int layers;                          /* linear layers */
    int sizes[AFS_MLP_MAX_LAYERS + 1];   /* sizes[0] input ... sizes[layers] output */
    int hidden_act, out_act;             /* enum afs_activation or AFS_ACT_NONE */
    size_t n_params;
    size_t w_off[AFS_MLP_MAX_LAYERS], b_off[AFS_MLP_MAX_LAYERS];
    float *params, *grads, *adam_m, *adam_v; /* backend [n_params] each */
    long adam_t;                          /* Adam steps taken */
    /* Workspace for one batch size: each layer's output, and two gradient
     * buffers of the widest layer. */
    int batch;
    float *act[AFS_MLP_MAX_LAYERS + 1];  /* act[0] is the caller's input */
    float *delta[2];
} afs_mlp;

/* Allocates the network for batches of up to `batch` rows and initializes
 * weights and biases from Philox (key {seed, stream}): uniform on
 * +-1/sqrt(fan_in), drawn on the host, so every backend starts identical.
 * Returns 0, or -1 when out of memory or the sizes are invalid. */
int afs_mlp_init(afs_mlp *net, afs_backend *b, const int *sizes, int layers, int hidden_act,
                 int out_act, int batch, uint32_t seed, uint32_t stream);
void afs_mlp_free(afs_mlp *net, afs_backend *b);

/* Parses "128,64" into sizes[]; returns the count, or -1 when the text is
 * not 1..max positive sizes up to 65536 separated by commas. */
int afs_parse_sizes(const char *text, int *sizes, int max);

/* y = net(x) for B <= batch rows; returns the output rows (net workspace). */
const float *afs_mlp_forward(afs_mlp *net, afs_backend *b, int B, const float *x);
/* Adds dL/dparams into grads given dL/dy of the last forward; writes dL/dx
 * into dx when dx is not NULL. */
void afs_mlp_backward(afs_mlp *net, afs_backend *b, int B, const float *dy, float *dx);
void afs_mlp_zero_grad(afs_mlp *net, afs_backend *b);
/* One Adam step over every parameter (clip_norm <= 0: no clipping). */
void afs_mlp_adam(afs_mlp *net, afs_backend *b, float lr, float beta1, float beta2, float eps,
                  float clip_norm);

#endif
