/* Fills the communication-group entries of the CUDA backend's table
 * (groups_cuda.cu). */
#ifndef AFS_GROUPS_CUDA_H
#define AFS_GROUPS_CUDA_H

#include "../backend.h"

void afs_groups_cuda_install(afs_backend *b);

#endif
