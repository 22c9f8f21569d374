#include "lstm_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/rng.h"

/* Parameter i uses word i % 4 of the Philox block at counter {i / 4, 0,
 * 0, 0}, as the MLPs' do. */
static int init_params(afs_lstm_net *net, afs_backend *b, uint32_t seed, uint32_t stream)
{
    size_t n = net->p.n;
    float *host = malloc(n * sizeof *host);
    if (!host)
        return -1;
    float bound = 1.0f / sqrtf((float)net->d.H);
    for (size_t i = 0; i < n; i++) {
        afs_block blk = afs_philox(seed, stream, (uint32_t)(i / 4), 0, 0, 0);
        host[i] = afs_uniform(blk.v[i % 4], -bound, bound);
    }
    b->to_backend(b, net->p.value, host, n * sizeof *host);
    free(host);
    return 0;
}

int afs_lstm_net_init(afs_lstm_net *net, afs_backend *b, const char *name, int S, int batch,
                      int in, int H, int dirs, uint32_t seed, uint32_t stream)
{
    memset(net, 0, sizeof *net);
    if (S < 1 || batch < 1 || in < 1 || H < 1 || (dirs != 1 && dirs != 2))
        return -1;
    net->d = (afs_lstm_desc){S, batch, in, H, dirs};
    size_t out = (size_t)S * batch * dirs * H;
    int ok = afs_params_alloc(&net->p, b, name, afs_lstm_params(&net->d)) == 0;
    net->out = b->alloc(b, out * sizeof(float));
    net->work = b->alloc(b, b->lstm_work_bytes(b, &net->d));
    if (!ok || !net->out || !net->work || init_params(net, b, seed, stream)) {
        afs_lstm_net_free(net, b);
        return -1;
    }
    return 0;
}

double afs_lstm_net_bytes(afs_backend *b, int S, int batch, int in, int H, int dirs)
{
    afs_lstm_desc d = {S, batch, in, H, dirs};
    return 4.0 * sizeof(float) * (double)afs_lstm_params(&d) +
           sizeof(float) * (double)S * batch * dirs * H + (double)b->lstm_work_bytes(b, &d);
}

void afs_lstm_net_free(afs_lstm_net *net, afs_backend *b)
{
    afs_params_free(&net->p, b);
    if (net->out)
        b->release(b, net->out);
    if (net->work)
        b->release(b, net->work);
    memset(net, 0, sizeof *net);
}

/* The descriptor of a call on B sequences: the workspace was sized for
 * d.B, and a smaller batch needs no more of it. */
static afs_lstm_desc call_desc(const afs_lstm_net *net, int B)
{
    afs_lstm_desc d = net->d;
    d.B = B;
    return d;
}

const float *afs_lstm_net_forward(afs_lstm_net *net, afs_backend *b, int B, const int *lengths,
                                  const float *x)
{
    afs_lstm_desc d = call_desc(net, B);
    net->x = x;
    b->lstm_forward(b, &d, lengths, x, net->p.value, NULL, NULL, net->out, NULL, NULL, net->work);
    return net->out;
}

void afs_lstm_net_backward(afs_lstm_net *net, afs_backend *b, int B, const int *lengths,
                           const float *dout, float *dx)
{
    afs_lstm_desc d = call_desc(net, B);
    b->lstm_backward(b, &d, lengths, net->x, net->p.value, NULL, NULL, net->work, net->out, dout,
                     NULL, dx, net->p.grad);
}

void afs_lstm_net_shape(const afs_lstm_net *net, char *buf, size_t n)
{
    snprintf(buf, n, "lstm %d-%d x%d %d", net->d.in, net->d.H, net->d.dirs, net->d.S);
}
