/* Parts of the CPU's slot (kernels/cpu/slot_cpu.c) in intrinsics
 * (slot_x86.c), for tables of at most 16 entries (APs, function types),
 * which then fit one vector register. GCC's vectorization of the plain
 * loops falls short there; the same operations in the same order give the
 * same bits, and slot_cpu.c keeps the plain loops for other CPUs.
 *
 * - The per-AP sums over a run of offloaders (AVX-512 and AVX2), with the
 *   G running sums in registers. The plain loop keeps them in memory: each
 *   offloader's addition then waits for the previous one's store, and GCC
 *   ends the G = 9 row with a scalar lane behind a branch on the own AP.
 * - The outcome's table lookups (AVX-512): an agent's AP's sums and its
 *   type's last container use, by permutes of a register for an AP or a
 *   cloud type and one gather for the EN's own containers, where GCC
 *   emulates a gather per table with a scalar load per agent.
 * - The EN's container marks (AVX-512), by a scatter, where GCC leaves a
 *   read-modify-write per agent.
 * - The list of offloaders (AVX-512), 16 agents a compress, where the
 *   plain loop writes every agent's index and counts one at a time.
 * - The metric sums in no set order (AVX-512), for when that order gives
 *   the agent order's bits: GCC leaves the last agents scalar and adds the
 *   lanes up one by one. */
#ifndef AFS_SLOT_X86_H
#define AFS_SLOT_X86_H

#include <stdint.h>

/* The tables an outcome reads, of one environment, and its agents m0 ..
 * m0 + n - 1 (n <= 64): their APs, types and actions (0/1). */
typedef struct afs_lookup_in {
    const int32_t *n_ap, *last_cloud, *last_edge; /* [G], [NT], [M NT] */
    const float *i_ap;                            /* [G] */
    int G, NT, m0, n;
    const int32_t *ap, *type, *local;             /* [n] */
} afs_lookup_in;

/* The metric sums of agents' terms (afs_accumulate_floats's: the counted
 * latency, the cost, the reward), in double, added in no set order, and
 * the range of the terms' magnitudes, as float bits shifted up by one (the
 * sign dropped): the largest, and the smallest nonzero less 1 (UINT32_MAX
 * when every term is zero). */
typedef struct afs_unordered_sums {
    double latency, cost, reward;
    uint32_t least, most;
} afs_unordered_sums;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AFS_SLOT_X86 1
#define AFS_SLOT_X86_MAX_TABLE 16

/* For k < count, agent m = idx[k] in order: n[ap[m]] += 1 and, for every
 * AP g < G but ap[m], interf[g] += rp * gain[m G + g]. G <= 16; for a CPU
 * that has the extension (__builtin_cpu_supports). */
typedef void afs_add_offloaders_fn(const float *gain, const int32_t *ap, const int *idx,
                                   int count, int G, float rp, int32_t *n, float *interf);
afs_add_offloaders_fn afs_add_offloaders_avx512, afs_add_offloaders_avx2;

/* n_of[l] = n_ap[ap[l]], i_of[l] = i_ap[ap[l]], last_use[l] = local[l] ?
 * last_edge[(m0 + l) NT + type[l]] : last_cloud[type[l]], for l < n;
 * G, NT <= 16. */
typedef void afs_look_up_fn(afs_lookup_in in, int32_t *n_of, float *i_of, int32_t *last_use);
afs_look_up_fn afs_look_up_avx512;

/* idx[k] = first + l for the k-th l < n, in order, whose flag[l] is not
 * 0; returns how many. Writes idx up to 15 entries past that count. */
int afs_list_set_avx512(const int32_t *flag, int n, int first, int *idx);

/* afs_unordered_sums over agents m < M; lanes past M by masked loads. */
afs_unordered_sums afs_sum_unordered_avx512(const uint32_t *flags, const float *latency,
                                            const float *cost, const float *reward, int M);

/* last_edge[m NT + type[m]] = slot for every agent m < M whose function was
 * admitted at its EN (flags: AFS_F_LOCAL, not AFS_F_DROPPED): one scatter
 * of 16 agents, each its own row. */
void afs_mark_edge_avx512(const uint32_t *flags, const int32_t *type, int M, int NT,
                          int32_t slot, int32_t *last_edge);
#else
#define AFS_SLOT_X86 0
#endif

#endif
