/* Bookkeeping of a few cached plans: objects that are costly to build for
 * one shape (cuDNN descriptors, device buffers) and reused while the shape
 * recurs. A plan is looked up by a key of AFS_PLAN_KEY ints; when every slot
 * is taken, the least recently used one is rebuilt for the new key. Only the
 * bookkeeping lives here, in plain C, so that it is tested on machines
 * without a GPU; the owner keeps its plans in an array parallel to the slots
 * (kernels/cuda/lstm_cuda.cu). */
#ifndef AFS_PLAN_CACHE_H
#define AFS_PLAN_CACHE_H

#include <stdint.h>
#include <string.h>

#define AFS_PLAN_KEY 4
#define AFS_PLAN_SLOTS 8

typedef struct afs_plan_cache {
    int filled;                             /* slots in use: 0 .. filled-1 */
    uint64_t clock;                         /* lookups so far */
    int key[AFS_PLAN_SLOTS][AFS_PLAN_KEY];
    uint64_t last_use[AFS_PLAN_SLOTS];
    uint64_t builds;                        /* misses so far, for tests */
} afs_plan_cache;

/* The slot holding key. On a miss (*build = 1) the slot is assigned to key
 * and the caller builds the plan there, after destroying the plan the slot
 * held when *evict = 1. */
static inline int afs_plan_lookup(afs_plan_cache *c, const int key[AFS_PLAN_KEY], int *build,
                                  int *evict)
{
    int slot = -1;
    c->clock++;
    *build = *evict = 0;
    for (int s = 0; s < c->filled && slot < 0; s++)
        if (!memcmp(c->key[s], key, sizeof c->key[s]))
            slot = s;
    if (slot < 0) {
        *build = 1;
        c->builds++;
        if (c->filled < AFS_PLAN_SLOTS) {
            slot = c->filled++;
        } else {
            slot = 0;
            for (int s = 1; s < AFS_PLAN_SLOTS; s++)
                if (c->last_use[s] < c->last_use[slot])
                    slot = s;
            *evict = 1;
        }
        memcpy(c->key[slot], key, sizeof c->key[slot]);
    }
    c->last_use[slot] = c->clock;
    return slot;
}

#endif
