#include "mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/rng.h"

static int widest(const afs_mlp *net)
{
    int w = 0;
    for (int l = 0; l <= net->layers; l++)
        w = net->sizes[l] > w ? net->sizes[l] : w;
    return w;
}

/* Draws every parameter on the host: parameter i uses word i % 4 of the
 * Philox block at counter {i / 4, 0, 0, 0}. */
static int init_params(afs_mlp *net, afs_backend *b, uint32_t seed, uint32_t stream)
{
    float *host = malloc(net->n_params * sizeof *host);
    if (!host)
        return -1;
    for (int l = 0; l < net->layers; l++) {
        float bound = 1.0f / sqrtf((float)net->sizes[l]);
        size_t first = net->w_off[l];
        size_t last = net->b_off[l] + (size_t)net->sizes[l + 1];
        for (size_t i = first; i < last; i++) {
            afs_block blk = afs_philox(seed, stream, (uint32_t)(i / 4), 0, 0, 0);
            host[i] = afs_uniform(blk.v[i % 4], -bound, bound);
        }
    }
    b->to_backend(b, net->params, host, net->n_params * sizeof *host);
    free(host);
    return 0;
}

int afs_mlp_init(afs_mlp *net, afs_backend *b, const int *sizes, int layers, int hidden_act,
                 int out_act, int batch, uint32_t seed, uint32_t stream)
{
    memset(net, 0, sizeof *net);
    if (layers < 1 || layers > AFS_MLP_MAX_LAYERS || batch < 1)
        return -1;
    net->layers = layers;
    net->hidden_act = hidden_act;
    net->out_act = out_act;
    net->batch = batch;
    for (int l = 0; l <= layers; l++) {
        if (sizes[l] < 1)
            return -1;
        net->sizes[l] = sizes[l];
    }
    for (int l = 0; l < layers; l++) {
        net->w_off[l] = net->n_params;
        net->b_off[l] = net->w_off[l] + (size_t)sizes[l + 1] * sizes[l];
        net->n_params = net->b_off[l] + (size_t)sizes[l + 1];
    }
    size_t bytes = net->n_params * sizeof(float);
    net->params = b->alloc(b, bytes);
    net->grads = b->alloc(b, bytes);
    net->adam_m = b->alloc(b, bytes);
    net->adam_v = b->alloc(b, bytes);
    for (int l = 1; l <= layers; l++)
        net->act[l] = b->alloc(b, (size_t)batch * sizes[l] * sizeof(float));
    for (int k = 0; k < 2; k++)
        net->delta[k] = b->alloc(b, (size_t)batch * widest(net) * sizeof(float));
    int ok = net->params && net->grads && net->adam_m && net->adam_v && net->delta[0] &&
             net->delta[1];
    for (int l = 1; l <= layers; l++)
        ok = ok && net->act[l];
    if (!ok || init_params(net, b, seed, stream)) {
        afs_mlp_free(net, b);
        return -1;
    }
    return 0;
}

int afs_parse_sizes(const char *text, int *sizes, int max)
{
    int count = 0;
    const char *s = text;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65536 || count == max || (*end && *end != ','))
            return -1;
        sizes[count++] = (int)v;
        s = *end ? end + 1 : end;
        if (*end == ',' && !*s)
            return -1; /* trailing comma */
    }
    return count ? count : -1;
}

void afs_mlp_free(afs_mlp *net, afs_backend *b)
{
    float *bufs[] = {net->params, net->grads, net->adam_m, net->adam_v, net->delta[0],
                     net->delta[1]};
    for (size_t k = 0; k < sizeof bufs / sizeof *bufs; k++)
        if (bufs[k])
            b->release(b, bufs[k]);
    for (int l = 1; l <= net->layers; l++)
        if (net->act[l])
            b->release(b, net->act[l]);
    memset(net, 0, sizeof *net);
}

static int act_of(const afs_mlp *net, int l)
{
    return l == net->layers - 1 ? net->out_act : net->hidden_act;
}

const float *afs_mlp_forward(afs_mlp *net, afs_backend *b, int B, const float *x)
{
    net->act[0] = (float *)x;
    for (int l = 0; l < net->layers; l++) {
        int in = net->sizes[l], out = net->sizes[l + 1];
        b->linear_forward(b, 1, B, in, out, net->act[l], net->params + net->w_off[l],
                          net->params + net->b_off[l], net->act[l + 1]);
        if (act_of(net, l) != AFS_ACT_NONE)
            b->activation_forward(b, act_of(net, l), (size_t)B * out, net->act[l + 1],
                                  net->act[l + 1]);
    }
    return net->act[net->layers];
}

void afs_mlp_backward(afs_mlp *net, afs_backend *b, int B, const float *dy, float *dx)
{
    const float *d = dy;
    for (int l = net->layers - 1; l >= 0; l--) {
        int in = net->sizes[l], out = net->sizes[l + 1];
        float *pre = net->delta[l % 2]; /* dL/d(pre-activation) of layer l */
        if (act_of(net, l) != AFS_ACT_NONE) {
            b->activation_backward(b, act_of(net, l), (size_t)B * out, net->act[l + 1], d, pre);
            d = pre;
        }
        float *next = l == 0 ? dx : net->delta[(l + 1) % 2];
        b->linear_backward(b, 1, B, in, out, net->act[l], net->params + net->w_off[l], d, next,
                           net->grads + net->w_off[l], net->grads + net->b_off[l]);
        d = next;
    }
}

void afs_mlp_zero_grad(afs_mlp *net, afs_backend *b)
{
    b->zero(b, net->grads, net->n_params * sizeof(float));
}

void afs_mlp_adam(afs_mlp *net, afs_backend *b, float lr, float beta1, float beta2, float eps,
                  float clip_norm)
{
    if (clip_norm > 0.0f)
        b->clip_grad_norm(b, net->n_params, net->grads, clip_norm);
    net->adam_t++;
    afs_adam hp = {lr, beta1, beta2, eps, 1.0f - powf(beta1, (float)net->adam_t),
                   1.0f - powf(beta2, (float)net->adam_t)};
    b->adam_step(b, net->n_params, net->params, net->grads, net->adam_m, net->adam_v, &hp);
}
