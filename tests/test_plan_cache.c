/* The bookkeeping of cached plans (kernels/plan_cache.h), which the CUDA
 * backend uses for cuDNN's LSTM descriptors and buffers: a recurring key is
 * a hit, a new one a build, and a full cache rebuilds its least recently
 * used slot. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/plan_cache.h"

static int lookup(afs_plan_cache *c, int a, int *build, int *evict)
{
    int key[AFS_PLAN_KEY] = {a, a * 7, 3, a % 2};
    return afs_plan_lookup(c, key, build, evict);
}

Test(plan_cache, a_recurring_key_is_built_once)
{
    afs_plan_cache c;
    memset(&c, 0, sizeof c);
    int build, evict;
    int s1 = lookup(&c, 1, &build, &evict);
    cr_assert(build && !evict);
    int s2 = lookup(&c, 2, &build, &evict);
    cr_assert(build && !evict && s2 != s1);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(lookup(&c, 1, &build, &evict), s1);
        cr_assert(!build && !evict);
        cr_assert_eq(lookup(&c, 2, &build, &evict), s2);
        cr_assert(!build && !evict);
    }
    cr_assert_eq(c.builds, 2);
}

Test(plan_cache, a_full_cache_rebuilds_the_least_recently_used_slot)
{
    afs_plan_cache c;
    memset(&c, 0, sizeof c);
    int build, evict, slot_of[AFS_PLAN_SLOTS];
    for (int k = 0; k < AFS_PLAN_SLOTS; k++)
        slot_of[k] = lookup(&c, k, &build, &evict);
    /* Use every key again but key 3, so that key 3 is the oldest. */
    for (int k = 0; k < AFS_PLAN_SLOTS; k++)
        if (k != 3)
            lookup(&c, k, &build, &evict);
    int s = lookup(&c, 100, &build, &evict);
    cr_assert(build && evict, "a new key in a full cache rebuilds a slot");
    cr_assert_eq(s, slot_of[3], "the least recently used slot (key 3's) is the one rebuilt");
    /* Key 3 is gone (a build again), every other key is still there. */
    for (int k = 0; k < AFS_PLAN_SLOTS; k++)
        if (k != 3) {
            cr_assert_eq(lookup(&c, k, &build, &evict), slot_of[k]);
            cr_assert(!build);
        }
    lookup(&c, 3, &build, &evict);
    cr_assert(build && evict);
    cr_assert_eq(c.builds, AFS_PLAN_SLOTS + 2);
}
