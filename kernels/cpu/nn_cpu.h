/* Fills the neural-network entries of the CPU backend's table. */
#ifndef AFS_NN_CPU_H
#define AFS_NN_CPU_H

#include "../backend.h"

void afs_nn_cpu_install(afs_backend *b);

#endif
