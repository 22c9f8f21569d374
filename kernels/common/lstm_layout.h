/* LSTM layer shapes and parameter layout, shared by the backends' LSTM
 * operations (kernels/cpu/lstm_cpu.c, kernels/cuda/lstm_cuda.cu through cuDNN).
 *
 * Sequences are time-major and padded: x [S, B, in], h_out [S, B, D*H] with
 * D = 2 when bidirectional (forward direction first). Sequence b has
 * lengths[b] <= S valid steps; the reverse direction runs from step
 * lengths[b] - 1 down to 0, and outputs past a sequence's end are 0.
 * Gates in the order i, f, g, o (cuDNN's and PyTorch's):
 *   a = W x_t + b_w + U h_{t-1} + b_u,  i, f, o = sigmoid, g = tanh,
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).
 * Parameters of direction d, one after the other:
 *   W [4H, in], U [4H, H], b_w [4H], b_u [4H].
 *
 * Padded positions of x (t >= lengths[b]) must hold finite numbers
 * (zeros, as AM-DRL's gather writes): the CPU's batched products read
 * them, with a zero gradient, and 0 x NaN would be NaN.
 * A sequence of length 0 is empty on every backend in the same way: its
 * outputs are 0, its final states are its initial ones (h_n = h0, c_n = c0,
 * zeros where h0 or c0 is NULL), and it gets no gradient (dx = 0, nothing
 * added to the parameters). Both backends run only the non-empty sequences
 * (afs_lstm_nonempty) and fill the empty ones themselves: cuDNN fails on a
 * zero-length sequence in its backward passes (reported for cuDNN 8 and 9,
 * e.g. jax-ml/jax#17966) and does not promise h_n = h0 for one. */
#ifndef AFS_LSTM_LAYOUT_H
#define AFS_LSTM_LAYOUT_H

#include <stddef.h>

typedef struct afs_lstm_desc {
    int S, B, in, H;
    int dirs; /* 1 or 2 */
} afs_lstm_desc;

static inline size_t afs_lstm_dir_params(const afs_lstm_desc *d)
{
    return (size_t)4 * d->H * (d->in + d->H + 2);
}

static inline size_t afs_lstm_params(const afs_lstm_desc *d)
{
    return afs_lstm_dir_params(d) * (size_t)d->dirs;
}

/* Splits the B sequences into the non-empty ones, in order (rows[0..n-1],
 * their lengths in len[0..n-1]), followed by the empty ones
 * (rows[n..B-1]); returns n. */
static inline int afs_lstm_nonempty(const int *lengths, int B, int *rows, int *len)
{
    int n = 0, empty = B;
    for (int b = 0; b < B; b++)
        if (lengths[b] > 0) {
            len[n] = lengths[b];
            rows[n++] = b;
        }
    for (int b = B - 1; b >= 0; b--)
        if (lengths[b] <= 0)
            rows[--empty] = b;
    return n;
}


#endif
