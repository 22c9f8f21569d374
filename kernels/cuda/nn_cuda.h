/* The CUDA backend's neural-network operations (nn_cuda.cu) and the pieces
 * of backend state they keep (backend_cuda.cu owns the storage). */
#ifndef AFS_NN_CUDA_H
#define AFS_NN_CUDA_H

#include <stddef.h>
#include "../backend.h"

typedef struct afs_cuda_scratch { void *ptr; size_t bytes; } afs_cuda_scratch;

/* Where the backend keeps its cuBLAS handle and its reduction scratch. */
void *afs_cuda_blas_slot(afs_backend *b);
afs_cuda_scratch *afs_cuda_scratch_of(afs_backend *b);

/* A scratch buffer of at least `bytes`, grown as needed, owned by the
 * backend. Launches run in stream order, so one buffer serves every
 * operation in turn: what one leaves there is gone at the next. */
void *afs_cuda_scratch_get(afs_backend *b, size_t bytes);

/* Creates the cuBLAS handle and fills the table; -1 with a reason on failure. */
int afs_nn_cuda_install(afs_backend *b, char *err, size_t err_len);
void afs_nn_cuda_release(afs_backend *b);
/* TF32 tensor-core math for cuBLAS's matrix products (off by default). */
void afs_nn_cuda_set_tf32(afs_backend *b, int on);

#endif
