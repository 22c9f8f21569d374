#!/usr/bin/env python3
"""NumPy peer of afsim's environment step, for bench/run_env_bench.sh.

The same model as docs/model.md (layout, arrivals, edge queue, shared uplink
with interference, warm and cold starts, drain, broadcast), written the way a
researcher would write it in NumPy: every per-slot quantity is an array over
all E environments x M edge nodes, with no Python loop over agents or
environments. Random draws come from NumPy's generator, not afsim's Philox
streams, so only statistics agree with afsim, not individual values.
float64 throughout (NumPy's default; float32 was not faster here).
"""
import argparse
import json
import sys
import time

import numpy as np

P = dict(area=350.0, grid=3, f=(0.5, 3.5), mu=(0.5, 1.0), cap=10.0, fc=(31.5, 51.5),
         z=(1.0, 3.0), k=(1.0, 2.0), t_mean=1.6, t_jit=0.2, c=(0.05, 0.2), types=8,
         mem_base=128.0, r_up=50.0, d_warm=0.01, cold_base=0.25, cold_per_mb=0.0005,
         keep_alive=10, b=5.0, p=0.5, noise=1e-13, reuse=0.1, idle_prob=0.1,
         idle_mean=0.1, w1=0.5, w2=0.5, rho=1.0, penalty=2.0, slot_s=1.0)


class Env:
    def __init__(self, E, M, rng):
        self.E, self.M, self.rng = E, M, rng
        self.G = P["grid"] ** 2

    def reset(self):
        E, M, G, r = self.E, self.M, self.G, self.rng
        x = r.uniform(0, P["area"], (E, M))
        y = r.uniform(0, P["area"], (E, M))
        self.f = r.uniform(*P["f"], (E, M))
        self.mu = r.uniform(*P["mu"], (E, M))
        self.fc = r.uniform(*P["fc"], (E, 1))
        cell = P["area"] / P["grid"]
        centres = (np.arange(P["grid"]) + 0.5) * cell
        ax, ay = np.tile(centres, P["grid"]), np.repeat(centres, P["grid"])
        d = np.hypot(x[..., None] - ax, y[..., None] - ay)
        self.gain = 10.0 ** (-(128.1 + 37.6 * np.log10(np.maximum(d, 1.0) / 1000.0)) / 10.0)
        i = np.minimum((x / cell).astype(np.int64), P["grid"] - 1)
        j = np.minimum((y / cell).astype(np.int64), P["grid"] - 1)
        self.ap = j * P["grid"] + i
        self.onehot = np.eye(G, dtype=bool)[self.ap]            # [E, M, G]
        self.h = np.take_along_axis(self.gain, self.ap[..., None], 2)[..., 0]
        self.r_re = P["b"] * np.log2(1 + P["p"] * self.h / P["noise"])
        self.r_obs = self.r_re.copy()
        self.w = np.zeros((E, M))
        self.last_edge = np.full((E, M, P["types"]), -1, np.int64)
        self.last_cloud = np.full((E, P["types"]), -1, np.int64)
        self.e_idx = np.broadcast_to(np.arange(E)[:, None], (E, M))
        self.m_idx = np.broadcast_to(np.arange(M)[None, :], (E, M))

    def arrive(self):
        E, M, r = self.E, self.M, self.rng
        self.has = r.random((E, M)) < self.mu
        self.z = r.uniform(*P["z"], (E, M))
        self.k = r.uniform(*P["k"], (E, M))
        self.T = P["t_mean"] + r.uniform(-P["t_jit"], P["t_jit"], (E, M))
        self.c = r.uniform(*P["c"], (E, M))
        self.type = r.integers(0, P["types"], (E, M))
        idle = r.random((E, M)) < P["idle_prob"]
        self.idle = np.where(idle, r.exponential(P["idle_mean"], (E, M)), 0.0)

    def act(self, policy):
        if policy == "random":
            return self.rng.random((self.E, self.M)) < 0.5
        if policy == "alllocal":
            return np.ones((self.E, self.M), bool)
        if policy == "allcloud":
            return np.zeros((self.E, self.M), bool)
        edge = (self.w + self.k) / self.f
        cloud = self.z / self.r_obs + self.k / self.fc
        return (self.w + self.k <= P["cap"]) & (edge <= cloud)

    def start_latency(self, last, t):
        warm = (last >= 0) & (t - last <= P["keep_alive"])
        mem = P["mem_base"] * 2.0 ** (self.type % 4)
        return self.z / P["r_up"] + np.where(warm, P["d_warm"], P["cold_base"] + P["cold_per_mb"] * mem)

    def step(self, a, t, acc):
        local, cloud = self.has & a, self.has & ~a
        # edge
        last_e = np.take_along_axis(self.last_edge, self.type[..., None], 2)[..., 0]
        drop = local & (self.w + self.k > P["cap"])
        adm = local & ~drop
        d_l = self.start_latency(last_e, t) + self.w / self.f + self.k / self.f
        self.w = np.where(adm, self.w + self.k, self.w)
        self.last_edge[self.e_idx[adm], self.m_idx[adm], self.type[adm]] = t
        # cloud: offloaders and interference per AP
        off = cloud[..., None] & self.onehot                      # [E, M, G]
        n = off.sum(1)                                            # [E, G]
        rx = np.einsum("em,emg->eg", cloud * P["p"], self.gain)   # all offloaders
        own = np.einsum("emg,emg->eg", off * P["p"], self.gain)   # those of AP g
        interf = P["reuse"] * (rx - own)
        n_m = np.take_along_axis(n, self.ap, 1)
        i_m = np.take_along_axis(interf, self.ap, 1)
        sinr = np.log2(1 + P["p"] * self.h / (P["noise"] + i_m))
        r_tr = P["b"] / np.maximum(n_m, 1) * sinr
        last_c = np.take_along_axis(self.last_cloud, self.type, 1)
        d_c = (self.start_latency(last_c, t) + self.z / r_tr + self.k / self.fc
               + self.c / self.r_re + self.idle)
        used = np.zeros((self.E, P["types"]), bool)
        used[self.e_idx[cloud], self.type[cloud]] = True
        self.last_cloud[used] = t
        # end of slot
        self.w = np.maximum(0.0, self.w - self.f * P["slot_s"])
        self.r_obs = P["b"] / (n_m + 1) * sinr
        # outcome
        lat = np.where(local, d_l, d_c)
        done = self.has & ~drop
        ok = done & (lat <= self.T)
        cost = np.where(drop, self.T, np.where(local, d_l, P["w1"] * P["rho"] * self.k + P["w2"] * d_c))
        acc["gen"] += self.has.sum()
        acc["done"] += done.sum()
        acc["ok"] += ok.sum()
        acc["drop"] += drop.sum()
        acc["off"] += cloud.sum()
        acc["lat"] += lat[done].sum()
        acc["cost"] += cost[self.has].sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--envs", type=int, default=64)
    ap.add_argument("--agents", type=int, default=150)
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--slots", type=int, default=100)
    ap.add_argument("--policy", default="random", choices=["random", "greedy", "alllocal", "allcloud"])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    env = Env(a.envs, a.agents, np.random.default_rng(a.seed))
    acc = dict(gen=0, done=0, ok=0, drop=0, off=0, lat=0.0, cost=0.0)
    t0 = time.perf_counter()
    for _ in range(a.episodes):
        env.reset()
        for t in range(a.slots):
            env.arrive()
            env.step(env.act(a.policy), t, acc)
    secs = time.perf_counter() - t0
    gen = max(acc["gen"], 1)
    res = dict(agent_steps_per_s=a.episodes * a.slots * a.envs * a.agents / secs,
               envs=a.envs, agents=a.agents, episodes=a.episodes, slots=a.slots, policy=a.policy,
               mean_latency_s=acc["lat"] / max(acc["done"], 1), success_rate=acc["ok"] / gen,
               mean_cost=acc["cost"] / gen, offload_fraction=acc["off"] / gen,
               drop_rate=acc["drop"] / gen, functions=int(acc["gen"]))
    if a.json:
        print(json.dumps(res))
    else:
        print("numpy " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in res.items()))


if __name__ == "__main__":
    sys.exit(main())
