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

/* The same, always inlined: the small per-agent functions that the CPU's
 * vectorized loops call (kernels/cpu/slot_cpu.c). A loop vectorizes only
 * when every call in it is inlined, and the compiler's size heuristics
 * do not always do it (afs_arrival_of, say). */
#ifdef __CUDACC__
#define AFS_HDI __host__ __device__ static __forceinline__
#elif defined(__GNUC__)
#define AFS_HDI static inline __attribute__((always_inline))
#else
#define AFS_HDI static inline
#endif

#endif
