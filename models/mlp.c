#include "mlp.h"

#include <math.h>
#include <stdio.h>
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
        size_t last = net->b_off[l] + (size_t)net->G * net->sizes[l + 1];
        for (size_t i = first; i < last; i++) {
            afs_block blk = afs_philox(seed, stream, (uint32_t)(i / 4), 0, 0, 0);
            host[i] = afs_uniform(blk.v[i % 4], -bound, bound);
        }
    }
    b->to_backend(b, net->p.value, host, net->n_params * sizeof *host);
    free(host);
    return 0;
}

int afs_mlp_init(afs_mlp *net, afs_backend *b, const char *name, const int *sizes, int layers,
                 int G, int hidden_act, int out_act, int batch, uint32_t seed, uint32_t stream)
{
    memset(net, 0, sizeof *net);
    if (layers < 1 || layers > AFS_MLP_MAX_LAYERS || batch < 1 || G < 1)
        return -1;
    net->layers = layers;
    net->G = G;
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
        net->b_off[l] = net->w_off[l] + (size_t)G * sizes[l + 1] * sizes[l];
        net->n_params = net->b_off[l] + (size_t)G * sizes[l + 1];
    }
    int ok = afs_params_alloc(&net->p, b, name, net->n_params) == 0;
    size_t rows = (size_t)G * batch;
    for (int l = 1; l <= layers; l++)
        net->act[l] = b->alloc(b, rows * sizes[l] * sizeof(float));
    for (int k = 0; k < 2; k++)
        net->delta[k] = b->alloc(b, rows * widest(net) * sizeof(float));
    ok = ok && net->delta[0] && net->delta[1];
    for (int l = 1; l <= layers; l++)
        ok = ok && net->act[l];
    if (!ok || init_params(net, b, seed, stream)) {
        afs_mlp_free(net, b);
        return -1;
    }
    return 0;
}

double afs_mlp_bytes(const int *sizes, int layers, int G, int batch)
{
    double params = 0.0, outs = 0.0;
    int wide = 0;
    for (int l = 0; l < layers; l++)
        params += (double)G * sizes[l + 1] * (sizes[l] + 1.0);
    for (int l = 0; l <= layers; l++) {
        outs += l ? sizes[l] : 0;
        wide = sizes[l] > wide ? sizes[l] : wide;
    }
    return sizeof(float) * (4.0 * params + (double)G * batch * (outs + 2.0 * wide));
}

int afs_parse_sizes(const char *text, int *sizes, int max)
{
    int count = 0;
    const char *s = text;
    if (!strcmp(text, "none"))
        return 0;
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
    afs_params_free(&net->p, b);
    for (int k = 0; k < 2; k++)
        if (net->delta[k])
            b->release(b, net->delta[k]);
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
        b->linear_forward(b, net->G, B, in, out, net->act[l], net->p.value + net->w_off[l],
                          net->p.value + net->b_off[l], net->act[l + 1]);
        if (act_of(net, l) != AFS_ACT_NONE)
            b->activation_forward(b, act_of(net, l), (size_t)net->G * B * out, net->act[l + 1],
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
            b->activation_backward(b, act_of(net, l), (size_t)net->G * B * out, net->act[l + 1],
                                   d, pre);
            d = pre;
        }
        float *next = l == 0 ? dx : net->delta[(l + 1) % 2];
        b->linear_backward(b, net->G, B, in, out, net->act[l], net->p.value + net->w_off[l], d,
                           next, net->p.grad + net->w_off[l], net->p.grad + net->b_off[l]);
        d = next;
    }
}

static const char *act_name(int act)
{
    switch (act) {
    case AFS_ACT_RELU: return "relu";
    case AFS_ACT_TANH: return "tanh";
    case AFS_ACT_SIGMOID: return "sigmoid";
    default: return "none";
    }
}

void afs_mlp_shape(const afs_mlp *net, char *buf, size_t n)
{
    size_t o = (size_t)snprintf(buf, n, "mlp ");
    for (int l = 0; l <= net->layers && o < n; l++)
        o += (size_t)snprintf(buf + o, n - o, "%s%d", l ? "-" : "", net->sizes[l]);
    if (o < n)
        snprintf(buf + o, n - o, " x%d %s/%s", net->G, act_name(net->hidden_act),
                 act_name(net->out_act));
}
