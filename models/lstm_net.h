/* An LSTM layer as a trainable unit: its parameter set (models/params.h),
 * its descriptor and the workspace of batches of up to `batch` sequences of
 * up to S steps, over the backend's lstm_forward/lstm_backward
 * (kernels/common/lstm_layout.h has the layout: time-major x [S, B, in],
 * h_out [S, B, dirs H]). AM-DRL's communication channel (bidirectional,
 * S = the largest group) and its attention unit (one step) are each one. */
#ifndef AFS_LSTM_NET_H
#define AFS_LSTM_NET_H

#include <stdint.h>
#include "kernels/backend.h"
#include "params.h"

typedef struct afs_lstm_net {
    afs_lstm_desc d;   /* d.B: the most sequences a call may take */
    afs_params p;
    float *out;        /* [S, batch, dirs H] the last forward's h_out */
    float *work;       /* what the last forward keeps for its backward */
    const float *x;    /* the last forward's input (the caller's) */
} afs_lstm_net;

/* Allocates the unit and draws its parameters from Philox (key {seed,
 * stream}) on the host, uniform on +-1/sqrt(H) (PyTorch's and cuDNN's
 * usual initialization), so every backend starts identical. 0, or -1 when
 * out of memory or a size is not positive. */
int afs_lstm_net_init(afs_lstm_net *net, afs_backend *b, const char *name, int S, int batch,
                      int in, int H, int dirs, uint32_t seed, uint32_t stream);
void afs_lstm_net_free(afs_lstm_net *net, afs_backend *b);
/* The bytes afs_lstm_net_init allocates for these arguments: parameters,
 * gradients, Adam moments, the output and the backend's workspace. */
double afs_lstm_net_bytes(afs_backend *b, int S, int batch, int in, int H, int dirs);
/* h_out [S, B, dirs H] for B <= batch sequences x [S, B, in] of lengths
 * [B] (host memory), from zero states; net workspace, valid until the next
 * forward. */
const float *afs_lstm_net_forward(afs_lstm_net *net, afs_backend *b, int B, const int *lengths,
                                  const float *x);
/* After a forward of B sequences: adds dL/dparams into the gradients given
 * dL/dh_out [S, B, dirs H]; writes dL/dx [S, B, in] into dx unless it is
 * NULL. */
void afs_lstm_net_backward(afs_lstm_net *net, afs_backend *b, int B, const int *lengths,
                           const float *dout, float *dx);
/* "lstm IN-H xDIRS S" for checkpoints, which refuse another shape. */
void afs_lstm_net_shape(const afs_lstm_net *net, char *buf, size_t n);

#endif
