/* Philox4x32-10 for a run of agents at once: the CPU's batched form of
 * afs_philox (kernels/common/rng.h), giving the same words.
 *
 * The blocks of one environment's agents in one phase differ only in the
 * agent word of the counter, {c0, m, c2, c3} for m = m0 .. m0 + n - 1, under
 * one key. Written as a loop over those agents whose body is the ten
 * rounds, it keeps a block's state in vector registers, several agents a
 * register (the compiler vectorizes the 32 x 32 -> 64-bit products), where
 * Random123's scalar call runs one block at a time.
 *
 * The round (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011): with products M0 c0 = hi0:lo0 and M1 c2 = hi1:lo1, the counter
 * becomes {hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0}; the key gains the Weyl
 * constants after each round. tests/test_rng.c checks it against Random123's
 * known answers and against afs_philox. */
#ifndef AFS_PHILOX_LANES_H
#define AFS_PHILOX_LANES_H

#include <stdint.h>

#define AFS_LANES 64 /* agents a batch: 64 blocks, 1 KiB of words */

#define AFS_PHILOX_M0 0xD2511F53u
#define AFS_PHILOX_M1 0xCD9E8D57u
#define AFS_PHILOX_W0 0x9E3779B9u
#define AFS_PHILOX_W1 0xBB67AE85u

/* out[w][l]: word w of the block at counter {c0, m0 + l, c2, c3} under key
 * {seed, stream}, for l < n <= AFS_LANES. The plain C form, the reference
 * for the vector forms below. */
static inline void afs_philox_lanes(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                                    uint32_t c2, uint32_t c3, int n,
                                    uint32_t out[4][AFS_LANES])
{
    for (int l = 0; l < n; l++) {
        uint32_t x0 = c0, x1 = m0 + (uint32_t)l, x2 = c2, x3 = c3;
        uint32_t k0 = seed, k1 = stream;
        for (int r = 0; r < 10; r++) {
            uint64_t p0 = (uint64_t)AFS_PHILOX_M0 * x0;
            uint64_t p1 = (uint64_t)AFS_PHILOX_M1 * x2;
            x0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
            x1 = (uint32_t)p1;
            x2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
            x3 = (uint32_t)p0;
            k0 += AFS_PHILOX_W0;
            k1 += AFS_PHILOX_W1;
        }
        out[0][l] = x0;
        out[1][l] = x1;
        out[2][l] = x2;
        out[3][l] = x3;
    }
}

/* The same words by the widest form this CPU runs: AVX-512, AVX2 (x86-64,
 * philox_x86.c), else afs_philox_lanes. Lanes n .. AFS_LANES - 1 of out may
 * be written. */
void afs_cpu_philox_lanes(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                          uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES]);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AFS_PHILOX_X86 1
/* For a CPU that has the extension (__builtin_cpu_supports). */
void afs_philox_lanes_avx512(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                             uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES]);
void afs_philox_lanes_avx2(uint32_t seed, uint32_t stream, uint32_t c0, uint32_t m0,
                           uint32_t c2, uint32_t c3, int n, uint32_t out[4][AFS_LANES]);
#else
#define AFS_PHILOX_X86 0
#endif

#endif
