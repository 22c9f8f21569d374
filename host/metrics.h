/* Per-episode metrics (design section 4): the row written to HDF5 and shown
 * in the summary, computed from the backend's summed accumulators. */
#ifndef AFS_METRICS_H
#define AFS_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "../kernels/backend.h"

typedef struct afs_episode_row {
    int64_t episode;
    int64_t functions;               /* functions generated */
    double mean_latency_s;           /* over completed functions */
    double success_rate;             /* completed in time / generated */
    double mean_cost;                /* per generated function, paper eq. 3 */
    double mean_reward;              /* per generated function */
    double offload_fraction;         /* sent to the cloud / generated */
    double drop_rate;                /* dropped at a full queue / generated */
    double miss_rate;                /* completed late / generated */
    double cold_start_fraction;      /* cold starts / completed */
    double comm_floats_per_decision; /* floats sent between agents */
    double decision_time_s;          /* wall time of one agent's decision */
    double agent_steps_per_s;        /* simulation speed of this episode */
} afs_episode_row;

typedef struct afs_metric_column {
    const char *name;
    const char *unit;
    const char *doc;
    size_t offset;  /* of a double in afs_episode_row */
} afs_metric_column;

/* The double-valued columns, in the order they are written and shown. */
extern const afs_metric_column afs_metric_columns[];
extern const int afs_metric_column_count;

/* Fills the ratios of a row from summed accumulators. A ratio whose
 * denominator is zero is NaN (nothing to average), never a made-up 0. */
void afs_row_from_sums(afs_episode_row *row, const afs_episode_sums *s);

#endif
