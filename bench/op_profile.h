/* A profiling backend for the benchmarks: it forwards every operation to
 * another backend and, while switched on, times the costly ones (the
 * backend synchronized around each, so on CUDA the time is the device's),
 * counts the flops of the matrix products each asks for and records their
 * shapes. The flops are the model's (2 m n k per product, an LSTM's only
 * over its sequences' valid steps, a layer's dx only when asked for), not
 * whatever padding an implementation multiplies; replaying the recorded
 * shapes as plain backend gemm calls gives the machine's own rate on the
 * same work, so that "the fraction of the machine" is a measured number.
 *
 * Usage: wrap the backend before anything is allocated on it, hand the
 * wrapper to everything, switch it on around the work to profile. */
#ifndef AFS_OP_PROFILE_H
#define AFS_OP_PROFILE_H

#include <stdio.h>
#include "kernels/backend.h"

typedef struct afs_prof afs_prof;

/* A backend forwarding to inner, which it then owns (its destroy destroys
 * inner); *prof receives the profile. NULL when out of memory. */
afs_backend *afs_prof_wrap(afs_backend *inner, afs_prof **prof);
/* Switches timing and counting on (1) or off (0); off by default. */
void afs_prof_enable(afs_prof *p, int on);
/* Forgets what was timed and counted so far. */
void afs_prof_clear(afs_prof *p);
/* Model flops of the matrix products counted so far. */
double afs_prof_flops(const afs_prof *p);
/* Seconds a plain gemm takes for every product counted so far (each shape
 * as often as it was asked for, best of `reps` passes), timed on the inner
 * backend now; -1 when out of memory. */
double afs_prof_gemm_seconds(afs_prof *p, int reps);
/* Prints each timed operation (calls, seconds per `per` units, share of
 * `total_s`, flops) and what no timed operation covers; `per` names the
 * unit (e.g. "step"), `units` how many of them were profiled. */
void afs_prof_report(const afs_prof *p, FILE *f, double total_s, double units,
                     const char *per);

#endif
