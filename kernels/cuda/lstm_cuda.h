/* The CUDA backend's LSTM operations through cuDNN (lstm_cuda.cu). C linkage,
 * so that the tests can call the two host-only probes below. */
#ifndef AFS_LSTM_CUDA_H
#define AFS_LSTM_CUDA_H

#include <stddef.h>
#include "../backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where the backend keeps the LSTM's state (backend_cuda.cu owns the slot,
 * lstm_cuda.cu what it points to). */
void *afs_cuda_lstm_slot(afs_backend *b);

int afs_lstm_cuda_install(afs_backend *b, char *err, size_t err_len);
void afs_lstm_cuda_release(afs_backend *b);
/* TF32 for cuDNN (the nn.tf32 switch, with afs_nn_cuda_set_tf32 for cuBLAS). */
void afs_lstm_cuda_set_tf32(afs_backend *b, int on);

/* The cudnnMathType_t that an LSTM layer's descriptor gets with TF32 on or
 * off, read back from a descriptor made as the backend makes it (host only:
 * needs no device), or -1 when cuDNN refuses it. */
int afs_lstm_cuda_math_type(int in, int H, int dirs, int tf32);
/* Layer plans built so far (cache misses), for the tests. */
unsigned long long afs_lstm_cuda_plan_builds(afs_backend *b);

#ifdef __cplusplus
}
#endif

#endif
