/* Fills the learning entries of the CUDA backend's table (learn_cuda.cu). */
#ifndef AFS_LEARN_CUDA_H
#define AFS_LEARN_CUDA_H

#include "../backend.h"

void afs_learn_cuda_install(afs_backend *b);

#endif
