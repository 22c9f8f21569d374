/* Fills the communication-group entries of the CPU backend's table
 * (groups_cpu.c). */
#ifndef AFS_GROUPS_CPU_H
#define AFS_GROUPS_CPU_H

#include "../backend.h"

void afs_groups_cpu_install(afs_backend *b);

#endif
