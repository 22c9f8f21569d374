/* The fewest bytes one fused environment slot must move per agent, shared
 * by the CPU and CUDA environment benchmarks: their "bandwidth floor" is
 * these bytes at the copy bandwidth each measures on its own machine. */
#ifndef AFS_BENCH_BYTES_H
#define AFS_BENCH_BYTES_H

#include <stdint.h>

/* Bytes per agent that one fused slot must read or write at least once,
 * array by array (kernels/common/env_state.h); a read-modify-write counts
 * twice. Per-environment arrays are negligible at M = 150 and left out. */
static inline double afs_bench_bytes_per_agent_step(int G)
{
    double f = sizeof(float), i = sizeof(int32_t);
    double read = f /* mu */ + f /* f */ + i /* ap */ + f /* h_own */ + f /* r_re */ +
                  f /* w */ + f /* r_obs */ + G * f /* gain, offloaders only: upper bound */ +
                  i /* last_edge of the type */;
    double written = i /* flags */ + 4 * f /* z k dl c */ + i /* type */ + f /* d_idle */ +
                     10 * f /* w_before, d_up .. reward */ + f /* w */ + f /* r_obs */ +
                     i /* last_edge */ + 1 /* action */;
    return read + written;
}

#endif
