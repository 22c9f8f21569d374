/* One environment's slot phases on the CPU, vectorized over its agents
 * (slot_cpu.c). Each touches environment e's rows only, so the backend
 * runs environments on any thread. */
#ifndef AFS_SLOT_CPU_H
#define AFS_SLOT_CPU_H

#include "../common/env_math.h"
#include "slot_x86.h"

/* Episode start: the layout, each EN's properties, empty queues and
 * containers (afs_reset_env and afs_reset_agent, bit for bit). */
void afs_cpu_reset_env(afs_env env, int e);
/* Slot phase 1: what arrives at each EN. */
void afs_cpu_arrive_env(afs_env env, int e);
/* Slot phase 2 for a heuristic policy (enum afs_policy; best_response's
 * starting point, greedy's): action[e M + m] for every m, from the state
 * (the observation stays in registers). */
void afs_cpu_decide_env(afs_env env, int e, int policy, uint8_t *action);
/* Slot phases 3-5: outcomes, metrics, containers, queues and broadcast
 * rates, given every agent's action. */
void afs_cpu_step_env(afs_env env, int e, const uint8_t *action);
/* afs_unordered_sums (slot_x86.h) over agents m < M, in the loop GCC
 * vectorizes; slot_x86.c has the AVX-512 form. */
afs_unordered_sums afs_cpu_sum_unordered(const uint32_t *flags, const float *latency,
                                         const float *cost, const float *reward, int M);
/* acc[AFS_ACC_LATENCY, _COST, _REWARD] += the sums, from 0.0 in double, of
 * M agents' terms (afs_accumulate_floats's) added in agent order. */
void afs_cpu_float_sums(const uint32_t *flags, const float *latency, const float *cost,
                        const float *reward, int M, double *acc);
/* Whether n finite floats, their exponent fields from lo to hi (a
 * subnormal's counted as 1, zeros left out), add up in double without a
 * rounding in any order. */
int afs_sums_are_exact(uint32_t lo, uint32_t hi, int n);
/* Environment e's state into the L2 ahead of its slots. */
void afs_cpu_prefetch_env(const afs_env *env, int e);

#endif
