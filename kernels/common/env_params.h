/* Parameters of the edge-cloud environment (design section 4, docs/model.md).
 * Plain data shared by host and device; units in each comment. */
#ifndef AFS_ENV_PARAMS_H
#define AFS_ENV_PARAMS_H

#define AFS_MAX_AP_GRID 8   /* G <= 64: per-AP sums fit in fixed arrays */
#define AFS_MAX_TYPES 32    /* function types: per-type flags fit in one word */

typedef struct afs_env_params {
    int agents;          /* M, edge nodes per environment */
    int ap_grid;         /* APs form an ap_grid x ap_grid grid, G = ap_grid^2 */
    int slots;           /* L, slots per episode */
    int types;           /* function types, memory 128 << (type % 4) MB */
    int keep_alive;      /* slots a container stays warm after its last use */
    float area_m;        /* side of the square area, m */
    float slot_s;        /* slot length, s */
    float f_min, f_max;  /* EN CPU f_m, GHz */
    float mu_min, mu_max;/* arrival probability per slot mu_m */
    float queue_cap;     /* EN queue capacity, Gcycles */
    float fc_min, fc_max;/* cloud CPU f_c, GHz */
    float z_min, z_max;  /* input size z, Mbit */
    float k_min, k_max;  /* CPU requirement k before scaling, Gcycles */
    float k_scale;       /* multiplies k (figure 5's axis) */
    float t_mean;        /* mean deadline T, s */
    float t_jitter;      /* T = t_mean + U[-t_jitter, t_jitter], s */
    float c_min, c_max;  /* result size c, Mbit */
    float mem_base_mb;   /* memory of type 0, MB */
    float r_up;          /* device -> EN upload rate, Mbit/s */
    float d_warm;        /* warm start, s */
    float cold_base;     /* cold start = cold_base + cold_per_mb * memory, s */
    float cold_per_mb;   /* s/MB */
    float b_tr;          /* band of one AP, MHz (so rates are Mbit/s) */
    float p_tx;          /* EN transmit power, W */
    float noise_dbm;     /* noise power sigma^2, dBm */
    float reuse;         /* fraction of other APs' received power that interferes */
    float idle_prob;     /* probability of a network idle period per cloud run */
    float idle_mean;     /* mean idle period, s (exponential) */
    float w1, w2;        /* cost weights of compute cost and latency */
    float rho;           /* compute price, cost units per Gcycle */
    float miss_penalty;  /* reward penalty of a failed function */
    /* Not the environment's: the best_response policy's most rounds of
     * descent (config key best_response.rounds). It rides here because the
     * environment is what every kernel of both backends already receives. */
    int br_rounds;
    /* Likewise the deadline policy's alpha (deadline.alpha). */
    float deadline_alpha;
} afs_env_params;

#endif
