/* The per-AP sums' additions over a run of offloaders (ap_sums in
 * kernels/cpu/slot_cpu.c) with the G <= 16 running sums held in vector
 * registers, for AVX-512 and AVX2 (ap_sums_x86.c). The plain loop keeps
 * them in memory: each offloader's vector addition then waits for the
 * previous one's store, and GCC ends the G = 9 row with a scalar lane
 * behind a branch on the agent's own AP. Same additions, same order,
 * same bits. */
#ifndef AFS_AP_SUMS_X86_H
#define AFS_AP_SUMS_X86_H

#include <stdint.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AFS_AP_SUMS_X86 1
#define AFS_AP_SUMS_X86_MAX_G 16

/* For k < count, agent m = idx[k] in order: n[ap[m]] += 1 and, for every
 * AP g < G but ap[m], interf[g] += rp * gain[m G + g]. G <= 16; for a CPU
 * that has the extension (__builtin_cpu_supports). */
typedef void afs_add_offloaders_fn(const float *gain, const int32_t *ap, const int *idx,
                                   int count, int G, float rp, int32_t *n, float *interf);
afs_add_offloaders_fn afs_add_offloaders_avx512, afs_add_offloaders_avx2;
#else
#define AFS_AP_SUMS_X86 0
#endif

#endif
