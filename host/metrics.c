#include "metrics.h"

#include <math.h>

#define COL(field, unit, doc) {#field, unit, doc, offsetof(afs_episode_row, field)}

const afs_metric_column afs_metric_columns[] = {
    COL(mean_latency_s, "s", "mean latency of completed functions"),
    COL(success_rate, "", "functions completed within their deadline / functions generated"),
    COL(mean_cost, "", "mean per-function cost R (paper eq. 3) over generated functions"),
    COL(mean_reward, "", "mean reward per generated function"),
    COL(offload_fraction, "", "functions sent to the cloud / functions generated"),
    COL(drop_rate, "", "functions dropped at a full edge queue / functions generated"),
    COL(miss_rate, "", "functions completed after their deadline / functions generated"),
    COL(cold_start_fraction, "", "cold starts / completed functions"),
    COL(comm_floats_per_decision, "floats", "floats sent between agents per decision"),
    COL(decision_time_s, "s", "wall time per agent decision (policy step / decisions)"),
    COL(agent_steps_per_s, "1/s", "agents x slots simulated per second of wall time"),
};
const int afs_metric_column_count = sizeof afs_metric_columns / sizeof afs_metric_columns[0];

static double ratio(double num, double den) { return den > 0 ? num / den : NAN; }

void afs_row_from_sums(afs_episode_row *row, const afs_episode_sums *s)
{
    const double *v = s->v;
    double gen = v[AFS_ACC_GENERATED];
    row->functions = (int64_t)gen;
    row->mean_latency_s = ratio(v[AFS_ACC_LATENCY], v[AFS_ACC_COMPLETED]);
    row->success_rate = ratio(v[AFS_ACC_SUCCESS], gen);
    row->mean_cost = ratio(v[AFS_ACC_COST], gen);
    row->mean_reward = ratio(v[AFS_ACC_REWARD], gen);
    row->offload_fraction = ratio(v[AFS_ACC_OFFLOADED], gen);
    row->drop_rate = ratio(v[AFS_ACC_DROPPED], gen);
    row->miss_rate = ratio(v[AFS_ACC_LATE], gen);
    row->cold_start_fraction = ratio(v[AFS_ACC_COLD], v[AFS_ACC_COMPLETED]);
}
