/* Host-side parts of the CUDA backend that need no GPU, so they are checked
 * on every machine that builds CUDA (CI included). */
#include <criterion/criterion.h>

#ifdef AFS_HAVE_CUDA
#include <cudnn.h>

#include "kernels/cuda/lstm_cuda.h"

/* TF32 is off unless nn.tf32: cuDNN's CUDNN_DEFAULT_MATH would let an A100
 * or newer run the LSTM's products in TF32 (about 5e-4 relative off the
 * CPU), so the descriptor the backend makes must say FMA only. */
Test(cuda_host, lstm_descriptors_use_fma_math_unless_tf32)
{
    for (int dirs = 1; dirs <= 2; dirs++) {
        cr_assert_eq(afs_lstm_cuda_math_type(7, 8, dirs, 0), (int)CUDNN_FMA_MATH,
                     "TF32 off: the LSTM must be FMA only (dirs %d)", dirs);
        cr_assert_eq(afs_lstm_cuda_math_type(7, 8, dirs, 1), (int)CUDNN_DEFAULT_MATH,
                     "TF32 on: cuDNN's default math, which allows TF32 (dirs %d)", dirs);
    }
}
#else
Test(cuda_host, built_without_cuda)
{
    cr_skip_test("this build has no CUDA backend (AFSIM_CUDA=OFF)");
}
#endif
