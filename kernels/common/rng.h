/* Counter-based random numbers: Philox4x32-10 (Random123) and derived draws.
 *
 * Every draw is a pure function of (seed, stream, counter): no state is carried
 * between draws, so the CPU and CUDA backends produce identical numbers, and an
 * environment's draws depend only on its own index, never on how many other
 * environments run beside it.
 *
 * Key     = {seed, stream}
 * Counter = {env, agent, episode, slot * AFS_BLOCKS_PER_SLOT + block}
 * Each Philox call gives one block of four 32-bit words; rng-using code names
 * which word of which block feeds which quantity (see env_math.h). */
#ifndef AFS_RNG_H
#define AFS_RNG_H

#include <math.h>
#include <stdint.h>
#include <Random123/philox.h>
#include "afs_hd.h"
#include "fastmath.h"

enum afs_stream {
    AFS_STREAM_RESET = 1,   /* layout and node properties at episode start */
    AFS_STREAM_SLOT = 2,    /* arrivals and network idle time, per slot */
    AFS_STREAM_POLICY = 3,  /* draws of stochastic policies */
    AFS_STREAM_EXPLORE = 4, /* learning agents' exploration (Gumbel noise) per slot */
    AFS_STREAM_REPLAY = 5,  /* replay sampling, per gradient step */
    AFS_STREAM_UPDATE = 6,  /* the actor update's Gumbel noise, per gradient step */
    AFS_STREAM_ATTENTION = 7, /* AM-DRL's initiations while training, per formation */
    AFS_STREAM_INIT = 16,   /* network initialization: AFS_STREAM_INIT + network index */
};

#define AFS_BLOCKS_PER_SLOT 4u
#define AFS_AGENT_NONE 0xFFFFFFFFu /* agent word for per-environment draws */

typedef struct afs_block { uint32_t v[4]; } afs_block;

AFS_HD afs_block afs_philox(uint32_t seed, uint32_t stream, uint32_t c0,
                            uint32_t c1, uint32_t c2, uint32_t c3)
{
    philox4x32_ctr_t ctr = {{c0, c1, c2, c3}};
    philox4x32_key_t key = {{seed, stream}};
    philox4x32_ctr_t r = philox4x32_R(10, ctr, key);
    afs_block b = {{r.v[0], r.v[1], r.v[2], r.v[3]}};
    return b;
}

/* Uniform on the open interval (0, 1): the top 24 bits with the lowest forced
 * to 1, so the value is an odd multiple of 2^-24. Exact in float (no rounding,
 * hence identical on every backend), never 0 (safe for log) and never 1,
 * and symmetric about 1/2. */
AFS_HDI float afs_u01(uint32_t x)
{
    return (float)((x >> 8) | 1u) * 0x1p-24f;
}

/* Uniform on (lo, hi). Callers build with FP contraction off on both backends
 * so that this is the same two roundings everywhere. */
AFS_HDI float afs_uniform(uint32_t x, float lo, float hi)
{
    return lo + (hi - lo) * afs_u01(x);
}

/* Exponential with the given mean, by inversion. */
AFS_HDI float afs_exponential(uint32_t x, float mean)
{
    return -mean * afs_logf(afs_u01(x));
}

/* 1 with probability p. */
AFS_HDI int afs_bernoulli(uint32_t x, float p)
{
    return afs_u01(x) < p;
}

/* Integer in [0, n) by multiply-shift (Lemire). The bias is below n / 2^32,
 * and zero when n is a power of two (every use here). */
AFS_HDI uint32_t afs_int_below(uint32_t x, uint32_t n)
{
    return (uint32_t)(((uint64_t)x * n) >> 32);
}

#endif
