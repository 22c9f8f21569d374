/* A parameter set: one trainable unit (a network, an LSTM, an attention
 * unit) as the optimizer, soft target updates and checkpoints see it: its
 * parameters, their gradients and both Adam moments, each one contiguous
 * backend buffer, and the Adam step count. Whatever a set holds (an MLP's
 * layers, an LSTM's gates), it is trained, tracked and saved the same way. */
#ifndef AFS_PARAMS_H
#define AFS_PARAMS_H

#include <stddef.h>
#include "kernels/backend.h"

#define AFS_PARAMS_NAME 48

typedef struct afs_params {
    char name[AFS_PARAMS_NAME];   /* unique within a model, e.g. "actor" */
    size_t n;
    float *value, *grad, *m, *v;  /* backend [n] each */
    long adam_t;                  /* Adam steps taken */
} afs_params;

/* The optimizer's settings: Adam, and the gradient's largest L2 norm
 * (clip <= 0: no clipping). */
typedef struct afs_optim {
    float lr, beta1, beta2, eps, clip;
} afs_optim;

/* Allocates the four buffers, zeroed. 0, or -1 when out of backend memory. */
int afs_params_alloc(afs_params *p, afs_backend *b, const char *name, size_t n);
void afs_params_free(afs_params *p, afs_backend *b);
void afs_params_zero_grad(afs_params *p, afs_backend *b);
/* One Adam step from the gradients (clipped first when o->clip > 0);
 * returns the gradient's L2 norm before clipping (0 when not clipping:
 * computing it costs a reduction, so it is only done when asked for or
 * needed), or NaN/Inf when the gradients are not finite, in which case
 * nothing is changed. */
double afs_params_step(afs_params *p, afs_backend *b, const afs_optim *o, int want_norm);
/* target = tau online + (1 - tau) target, over the values. */
void afs_params_soft_update(afs_params *target, const afs_params *online, afs_backend *b,
                            float tau);
/* target's values = online's (a hard update, e.g. at the start). */
void afs_params_copy(afs_params *target, const afs_params *online, afs_backend *b);

#endif
