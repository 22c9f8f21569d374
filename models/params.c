#include "params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int afs_params_alloc(afs_params *p, afs_backend *b, const char *name, size_t n)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n = n;
    size_t bytes = (n ? n : 1) * sizeof(float);
    p->value = b->alloc(b, bytes);
    p->grad = b->alloc(b, bytes);
    p->m = b->alloc(b, bytes);
    p->v = b->alloc(b, bytes);
    if (!p->value || !p->grad || !p->m || !p->v) {
        afs_params_free(p, b);
        return -1;
    }
    return 0;
}

void afs_params_free(afs_params *p, afs_backend *b)
{
    float *bufs[4] = {p->value, p->grad, p->m, p->v};
    for (int k = 0; k < 4; k++)
        if (bufs[k])
            b->release(b, bufs[k]);
    memset(p, 0, sizeof *p);
}

void afs_params_zero_grad(afs_params *p, afs_backend *b)
{
    b->zero(b, p->grad, p->n * sizeof(float));
}

double afs_params_step(afs_params *p, afs_backend *b, const afs_optim *o, int want_norm)
{
    double norm = 0.0;
    if (o->clip > 0.0f || want_norm) {
        norm = b->clip_grad_norm(b, p->n, p->grad, o->clip > 0.0f ? o->clip : INFINITY);
        if (!isfinite(norm))
            return norm; /* the caller stops; the parameters stay as they were */
    }
    p->adam_t++;
    afs_adam hp = {o->lr, o->beta1, o->beta2, o->eps,
                   1.0f - powf(o->beta1, (float)p->adam_t),
                   1.0f - powf(o->beta2, (float)p->adam_t)};
    b->adam_step(b, p->n, p->value, p->grad, p->m, p->v, &hp);
    return norm;
}

void afs_params_soft_update(afs_params *target, const afs_params *online, afs_backend *b,
                            float tau)
{
    b->soft_update(b, online->n, tau, online->value, target->value);
}

void afs_params_copy(afs_params *target, const afs_params *online, afs_backend *b)
{
    b->copy(b, target->value, online->value, online->n * sizeof(float));
}
