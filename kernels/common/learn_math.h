/* Per-element math of the learning operations (kernels/backend.h, the
 * "Learning" section), written once for both backends: TD targets,
 * prioritized-replay priorities and importance weights, and the sum tree's
 * sampling descent. */
#ifndef AFS_LEARN_MATH_H
#define AFS_LEARN_MATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "afs_hd.h"
#include "rng.h"

/* y = r + gamma (1 - done) q_next */
AFS_HD float afs_td_target(float r, float done, float q_next, float gamma)
{
    return r + gamma * (1.0f - done) * q_next;
}

/* Proportional priority (|TD error| + eps)^alpha (Schaul et al., 2016). */
AFS_HD float afs_td_priority(float pred, float target, float alpha, float eps)
{
    return powf(fabsf(pred - target) + eps, alpha);
}

/* Importance weight relative to the batch's least probable sample:
 * (prob / min_prob)^-beta, at most 1. */
AFS_HD float afs_is_weight(float prob, float min_prob, float beta)
{
    return powf(prob / min_prob, -beta);
}

/* Where draw i of n falls in a sum tree of the given total: stratified, at
 * a Philox uniform within the i-th n-th (double, so that both backends
 * compute the same target). */
AFS_HD double afs_sumtree_target(uint32_t seed, uint32_t stream, uint32_t counter, size_t i,
                                 size_t n, double total)
{
    afs_block blk = afs_philox(seed, stream, (uint32_t)i, counter, 0, 0);
    return ((double)i + (double)afs_u01(blk.v[0])) * (total / (double)n);
}

/* The leaf a target falls on: from the root, left when the target is below
 * the left sum, else right with the left sum taken off; never into a
 * subtree of sum 0 while the other has some. */
AFS_HD int afs_sumtree_descend(const double *tree, int L, double target)
{
    int node = 1;
    while (node < L) {
        double left = tree[2 * node], right = tree[2 * node + 1];
        if ((target < left && left > 0.0) || right <= 0.0) {
            node = 2 * node;
        } else {
            target -= left;
            node = 2 * node + 1;
        }
    }
    return node - L;
}

#endif
