#!/usr/bin/env python3
"""NumPy peer of afsim's CPU environment step, for bench/.

It follows docs/model.md (layout, arrivals, start latency, edge queue, shared
uplink with interference, last use of containers, drain, broadcast, cost),
written the way a researcher would write it in NumPy: every per-slot quantity
is an array over all E environments x M edge nodes, with no Python loop over
agents or environments (only over slots). Random draws come from NumPy's
generator, not afsim's Philox streams, so only statistics agree with afsim,
not individual values.

Usage: env_numpy.py [--envs E] [--agents M] [--episodes N] [--slots L]
                    [--policy random|greedy|alllocal|allcloud] [--seed S] [--json]

agent_steps_per_s is the best of N timed episodes after one untimed one (as
afsim's env_bench), mean_agent_steps_per_s their mean.
"""
import argparse
import json
import math
import time

import numpy as np

# float32 throughout, like afsim; measured faster than float64 here (halves
# the memory traffic of every [E, M] array and of the random draws). The
# interference sum is formed without cancellation, so float32 loses nothing.
FLOAT = np.float32

# docs/model.md defaults (afsim's `env.*` configuration keys); units: s, Mbit,
# Gcycles, GHz, Mbit/s, MHz, W, m.
P = dict(area_m=350.0, ap_grid=3, f_min=0.5, f_max=3.5, mu_min=0.5, mu_max=1.0,
         queue_cap=10.0, fc_min=31.5, fc_max=51.5, z_min=1.0, z_max=3.0,
         k_min=1.0, k_max=2.0, k_scale=1.0, t_mean=1.6, t_jitter=0.2,
         c_min=0.05, c_max=0.2, types=8, mem_base_mb=128.0, r_up=50.0,
         d_warm=0.01, cold_base=0.25, cold_per_mb=0.0005, keep_alive=10,
         b_tr=5.0, p_tx=0.5, noise_dbm=-100.0, reuse=0.1, idle_prob=0.1,
         idle_mean=0.1, w1=0.5, w2=0.5, rho=1.0, slot_s=1.0)
NOISE_W = 10.0 ** ((P["noise_dbm"] - 30.0) / 10.0)
NEVER = np.iinfo(np.int32).min // 2   # last-use slot of a container never used
POLICIES = ("random", "greedy", "alllocal", "allcloud")
SUMS = ("generated", "completed", "success", "dropped", "offloaded", "latency", "cost")


def uniform(u, lo, hi):
    """U[lo, hi] from u uniform on [0, 1), in place."""
    u *= FLOAT(hi - lo)
    u += FLOAT(lo)
    return u


def rate(share, h, interference):
    """Shannon rate (Mbit/s) of one AP's band shared by `share` users."""
    snr = (P["p_tx"] * h) / (NOISE_W + interference)
    return (P["b_tr"] / share) * np.log2(1 + snr)


class EdgeCloudEnv:
    """E independent environments of M edge nodes (ENs) each, G = ap_grid^2 APs."""

    def __init__(self, E, M, rng):
        self.E, self.M, self.rng = E, M, rng
        self.G, self.NT = P["ap_grid"] ** 2, P["types"]

    # ---- episode start -------------------------------------------------
    def reset(self):
        """New layout, empty queues, no warm container (docs/model.md, Layout)."""
        E, M, G, NT, rng = self.E, self.M, self.G, self.NT, self.rng
        u = rng.random((4, E, M), dtype=FLOAT)
        x, y = uniform(u[0], 0, P["area_m"]), uniform(u[1], 0, P["area_m"])
        self.f = uniform(u[2], P["f_min"], P["f_max"])
        self.mu = uniform(u[3], P["mu_min"], P["mu_max"])
        self.fc = uniform(rng.random((E, 1), dtype=FLOAT), P["fc_min"], P["fc_max"])
        self.w = np.zeros((E, M), FLOAT)
        # radio: gain to every AP, own AP by grid cell, downlink rate
        g, cell = P["ap_grid"], FLOAT(P["area_m"] / P["ap_grid"])
        centre = (np.arange(g, dtype=FLOAT) + FLOAT(0.5)) * cell
        dx = x[..., None] - np.tile(centre, g)             # AP j*g+i at (centre[i],
        dy = y[..., None] - np.repeat(centre, g)           #              centre[j])
        d_km = np.maximum(np.sqrt(dx * dx + dy * dy), FLOAT(1)) / FLOAT(1000)
        gain = FLOAT(10) ** (-(FLOAT(128.1) + FLOAT(37.6) * np.log10(d_km)) / FLOAT(10))
        i = np.minimum((x / cell).astype(np.int32), g - 1)
        j = np.minimum((y / cell).astype(np.int32), g - 1)
        ap = j * g + i                                      # [E, M]
        self.ap_key = (np.arange(E, dtype=np.int64)[:, None] * G + ap).ravel()
        own = np.arange(G) == ap[..., None]                 # [E, M, G] one-hot
        self.h = gain[own].reshape(E, M)                    # gain to own AP
        gain[own] = 0
        # gains to the other APs only, [E, G, M] so that I_g is one matmul
        self.gain_other = np.ascontiguousarray(gain.transpose(0, 2, 1))
        self.r_re = rate(1, self.h, FLOAT(0))
        self.r_obs = self.r_re.copy()          # broadcast before any slot
        # containers: last-use slot per (EN, type) and per (environment, type)
        # (flat arrays indexed by EN * NT + type and environment * NT + type)
        self.last_edge = np.full(E * M * NT, NEVER, np.int32)
        self.last_cloud = np.full(E * NT, NEVER, np.int32)
        self.edge_base = np.arange(E * M, dtype=np.int64).reshape(E, M) * NT
        self.cloud_base = np.arange(E, dtype=np.int64)[:, None] * NT
        # cold start of each type: cold_base + cold_per_mb * mem_base * 2^(type mod 4)
        mem = P["mem_base_mb"] * 2.0 ** (np.arange(NT) % 4)
        self.cold = (P["cold_base"] + P["cold_per_mb"] * mem).astype(FLOAT)

    # ---- slot step 1: arrivals, observation, decision --------------------
    def arrive(self):
        """One function per EN with probability mu_m, with z, k, T, c, type, D_idle."""
        E, M, rng = self.E, self.M, self.rng
        u = rng.random((8, E, M), dtype=FLOAT)     # all of the slot's uniforms at once
        self.has = u[0] < self.mu
        self.z = uniform(u[1], P["z_min"], P["z_max"])
        self.k = uniform(u[2], P["k_min"] * P["k_scale"], P["k_max"] * P["k_scale"])
        self.T = uniform(u[3], P["t_mean"] - P["t_jitter"], P["t_mean"] + P["t_jitter"])
        self.c = uniform(u[4], P["c_min"], P["c_max"])
        self.type = (u[5] * FLOAT(self.NT)).astype(np.int64)   # uniform below NT
        # D_idle: Exp(idle_mean) (inverse CDF, 1 - u in (0, 1]) with probability idle_prob
        idle = np.log(FLOAT(1) - u[7])
        idle *= FLOAT(-P["idle_mean"])
        self.d_idle = np.where(u[6] < FLOAT(P["idle_prob"]), idle, FLOAT(0))
        # container keys of this slot's type: EN * NT + type, environment * NT + type
        self.edge_key = self.edge_base + self.type
        self.cloud_key = (self.cloud_base + self.type).ravel()

    def decide(self, policy):
        """Action per EN, True = run at the edge (a = 1), False = cloud (a = 0)."""
        if policy == "random":
            return self.rng.random((self.E, self.M), dtype=FLOAT) < 0.5
        if policy == "alllocal":
            return np.ones((self.E, self.M), bool)
        if policy == "allcloud":
            return np.zeros((self.E, self.M), bool)
        # greedy: smaller estimated completion time, cloud when the queue is full
        wk = self.w + self.k
        edge = wk / self.f
        cloud = self.z / self.r_obs + self.k / self.fc
        return (wk <= FLOAT(P["queue_cap"])) & (edge <= cloud)

    # ---- slot step 2: start latency ----------------------------------------
    def start_latency(self, last_use, t):
        """D_start = z / r_up + warm or cold start, from last use before this slot."""
        warm = t - last_use <= P["keep_alive"]
        d_start = np.where(warm, FLOAT(P["d_warm"]), self.cold.take(self.type))
        return self.z / FLOAT(P["r_up"]) + d_start

    # ---- slot step 3: edge ---------------------------------------------------
    def run_edge(self, local, t):
        """Admission into the EN queue; returns (D_l, dropped, admitted)."""
        self.last_e = self.last_edge.take(self.edge_key)   # also for mark_last_use
        d_start = self.start_latency(self.last_e, t)
        wk = self.w + self.k
        drop = local & (wk > FLOAT(P["queue_cap"]))
        admit = local & ~drop
        d_l = d_start + wk / self.f                 # D_start + w/f + k/f
        np.copyto(self.w, wk, where=admit)
        return d_l, drop, admit

    # ---- slot step 4: cloud --------------------------------------------------
    def ap_sums(self, cloud):
        """Per AP g: offloaders n_g and interference I_g from other APs' offloaders."""
        E, G = self.E, self.G
        n = np.bincount(self.ap_key, weights=cloud.ravel(), minlength=E * G)
        # I[e, g] = reuse * p * sum_j gain_other[e, g, j] * cloud[e, j]
        rx = np.matmul(self.gain_other, cloud.astype(FLOAT)[..., None])
        interference = FLOAT(P["reuse"] * P["p_tx"]) * rx.reshape(E * G)
        return n.astype(FLOAT), interference

    def run_cloud(self, n_g, i_g, t):
        """D_c of every EN as if offloading, and the SINR term log2(1 + p h/(s2 + I))."""
        n_m = n_g[self.ap_key].reshape(self.E, self.M)
        i_m = i_g[self.ap_key].reshape(self.E, self.M)
        spectral = rate(1, self.h, i_m)           # b log2(1 + p h / (sigma2 + I))
        r_tr = spectral / np.maximum(n_m, FLOAT(1))
        last_c = self.last_cloud.take(self.cloud_key).reshape(self.E, self.M)
        d_start = self.start_latency(last_c, t)
        d_c = (d_start + self.z / r_tr + self.k / self.fc + self.c / self.r_re
               + self.d_idle)
        return d_c, spectral, n_m

    # ---- slot step 5: last use of containers ---------------------------------
    def mark_last_use(self, admit, cloud, t):
        """Per (EN, type) for admitted edge runs, per (environment, type) for cloud runs."""
        # one key per EN: write every EN's entry back, t where admitted
        np.put(self.last_edge, self.edge_key, np.where(admit, np.int32(t), self.last_e))
        # many ENs share an environment's key: mark the keys used by any of them
        used = np.bincount(self.cloud_key, weights=cloud.ravel(), minlength=self.last_cloud.size)
        self.last_cloud[used > 0] = t

    # ---- slot steps 6 and 7: drain, broadcast -------------------------------
    def drain(self):
        """w_m = max(0, w_m - f_m slot_s), after this slot's admissions."""
        self.w -= self.f * FLOAT(P["slot_s"])
        np.maximum(self.w, 0, out=self.w)

    def broadcast(self, spectral, n_m):
        """Rate one more offloader would have had this slot: next slot's r_tr."""
        self.r_obs = spectral / (n_m + FLOAT(1))

    # ---- outcome -------------------------------------------------------------
    def score(self, local, cloud, drop, d_l, d_c, sums):
        """Success, cost and episode sums (docs/model.md, Outcome, cost and reward)."""
        done = self.has & ~drop
        latency = np.where(local, d_l, d_c)
        p_cloud = FLOAT(P["w1"] * P["rho"]) * self.k + FLOAT(P["w2"]) * d_c
        cost = np.where(drop, self.T, np.where(local, d_l, p_cloud))
        sums["generated"] += np.count_nonzero(self.has)
        sums["completed"] += np.count_nonzero(done)
        sums["success"] += np.count_nonzero(done & (latency <= self.T))
        sums["dropped"] += np.count_nonzero(drop)
        sums["offloaded"] += np.count_nonzero(cloud)
        sums["latency"] += float(np.where(done, latency, FLOAT(0)).sum())
        sums["cost"] += float(np.where(self.has, cost, FLOAT(0)).sum())

    # ---- one slot --------------------------------------------------------------
    def step(self, policy, t, sums):
        """Slot t: the steps of docs/model.md, "One slot, in order"."""
        self.arrive()
        a = self.decide(policy)
        local, cloud = self.has & a, self.has & ~a
        d_l, drop, admit = self.run_edge(local, t)
        n_g, i_g = self.ap_sums(cloud)
        d_c, spectral, n_m = self.run_cloud(n_g, i_g, t)
        self.mark_last_use(admit, cloud, t)
        self.drain()
        self.broadcast(spectral, n_m)
        self.score(local, cloud, drop, d_l, d_c, sums)


def ratio(num, den):
    """A ratio with nothing to divide by is NaN (docs/model.md, Metrics)."""
    return num / den if den > 0 else math.nan


def episode_metrics(s):
    return dict(mean_latency_s=ratio(s["latency"], s["completed"]),
                success_rate=ratio(s["success"], s["generated"]),
                mean_cost=ratio(s["cost"], s["generated"]),
                offload_fraction=ratio(s["offloaded"], s["generated"]),
                drop_rate=ratio(s["dropped"], s["generated"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--agents", type=int, default=150)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--slots", type=int, default=100)
    ap.add_argument("--policy", default="random", choices=POLICIES)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args()
    if min(a.envs, a.agents, a.episodes, a.slots) < 1:
        ap.error("--envs, --agents, --episodes and --slots must be at least 1")

    env = EdgeCloudEnv(a.envs, a.agents, np.random.default_rng(a.seed))
    per_episode, functions, seconds = [], 0, []
    # Episode 0 warms caches, pages and NumPy's first calls, untimed; the
    # best of the rest is the rate, as afsim's env_bench reports its own
    # (noise on a shared machine only ever slows a run down).
    for episode in range(a.episodes + 1):
        sums = dict.fromkeys(SUMS, 0)
        t0 = time.perf_counter()                 # timed: reset + all slots
        env.reset()
        for t in range(a.slots):
            env.step(a.policy, t, sums)
        if episode == 0:
            continue
        seconds.append(time.perf_counter() - t0)
        per_episode.append(episode_metrics(sums))
        functions += sums["generated"]

    steps = a.slots * a.envs * a.agents
    res = dict(agent_steps_per_s=steps / min(seconds),
               mean_agent_steps_per_s=steps * len(seconds) / sum(seconds),
               envs=a.envs, agents=a.agents, episodes=a.episodes, slots=a.slots,
               policy=a.policy)
    for key in per_episode[0]:                   # mean over episodes
        res[key] = float(np.mean([m[key] for m in per_episode]))
    res["functions"] = int(functions)            # generated, timed episodes
    if a.json:
        print(json.dumps(res))
    else:
        short = dict(envs="E", agents="M")
        print("numpy " + " ".join(f"{short.get(k, k)}={v:.4g}" if isinstance(v, float)
                                  else f"{short.get(k, k)}={v}" for k, v in res.items()))


if __name__ == "__main__":
    main()
