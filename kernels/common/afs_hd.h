/* Marks the per-element math that both backends share.
 * Under nvcc a function is compiled for host and device; under a C compiler it
 * is a plain static inline function. */
#ifndef AFS_HD_H
#define AFS_HD_H

#ifdef __CUDACC__
#define AFS_HD __host__ __device__ static inline
#else
#define AFS_HD static inline
#endif

#endif
