/* The CUDA backend's LSTM operations through cuDNN (lstm_cuda.cu). */
#ifndef AFS_LSTM_CUDA_H
#define AFS_LSTM_CUDA_H

#include <stddef.h>
#include "../backend.h"

/* Where the backend keeps its cuDNN handle (backend_cuda.cu owns it). */
void *afs_cuda_dnn_slot(afs_backend *b);

int afs_lstm_cuda_install(afs_backend *b, char *err, size_t err_len);
void afs_lstm_cuda_release(afs_backend *b);

#endif
