/* A function compiled for AVX-512, AVX2 and SSE2 (x86-64 v4, v3 and the
 * baseline), the loader picking the one this CPU runs: one binary uses the
 * vector width of the machine it lands on. GCC only; elsewhere one build. */
#ifndef AFS_CPU_CLONES_H
#define AFS_CPU_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AFS_CPU_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AFS_CPU_CLONES
#endif

/* A helper of a cloned function: always inlined, because one that GCC
 * compiles apart (its size heuristics decide) gets the file's default
 * target, SSE2, whatever clone calls it. */
#if defined(__GNUC__)
#define AFS_CLONE_INLINE static inline __attribute__((always_inline))
#else
#define AFS_CLONE_INLINE static inline
#endif

#endif
