/* Fills the learning entries of the CPU backend's table (learn_cpu.c). */
#ifndef AFS_LEARN_CPU_H
#define AFS_LEARN_CPU_H

#include "../backend.h"

void afs_learn_cpu_install(afs_backend *b);

#endif
