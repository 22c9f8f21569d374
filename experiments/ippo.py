#!/usr/bin/env python3
"""IPPO on afsim's environment: independent PPO with one set of parameters
shared by every edge node, generalized advantage estimation, in one file
(CleanRL's style: read it top to bottom).

Every EN of every environment is an agent that sees its own observation
(docs/python.md has the layout) and decides local (1) or cloud (0); all
E x M of them act through the same actor and critic, and each learns from
its own reward. One update per episode: the episode's L slots of all
E x M agents are the batch (episodes of all environments end together, and
the last slot is terminal, as afsim's own learners store it).

A slot without a function at an EN changes nothing that the action decides
(nothing runs), so those samples are left out of the policy's loss and
kept in the critic's.

Evaluation follows `afsim train`'s: the deterministic policy (argmax) on the
held-out episodes 0 .. eval_episodes - 1 of the training seed's
environments (training plays the episode words 0x80000000 + e, which
evaluation never sees); its metrics are the mean over those episodes of
each episode's rows (metrics over all environments, as afs_row_from_sums
makes them).

    .venv/bin/python experiments/ippo.py --seed 1 --out /tmp/ippo \\
        --config experiments/learn.ini --set env.agents=60 --set env.t_mean=1.0 \\
        --set env.slots=50 --envs 4 --episodes 40

writes /tmp/ippo/seed1.json. `--table DIR` prints the seeds' IQM with 95%
stratified-bootstrap intervals (experiments/stats.py). torch is installed
into this Python's environment on first use (`pip install torch`); the
README's two commands never install it.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
TRAIN_EPISODES = 0x80000000  # host/episode.h: training's episode words
TEST_SEED = 100000  # seed + this: episodes for tuning (experiments/learn_seeds.py)


def need_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        print("ippo: installing torch into", sys.prefix, file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "torch"])
    import torch
    return torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="INI configuration (default: afsim's defaults)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a configuration key (repeatable), as afsim's --set")
    p.add_argument("--seed", type=int, default=1, help="environment and network seed")
    p.add_argument("--envs", type=int, default=4, help="environments stepped together (E)")
    p.add_argument("--episodes", type=int, default=40, help="training episodes (updates)")
    p.add_argument("--eval-episodes", type=int, default=4, help="held-out episodes at the end")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--gamma", type=float, default=0.95, help="discount")
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--clip", type=float, default=0.2, help="PPO's ratio clip")
    p.add_argument("--epochs", type=int, default=4, help="passes over each episode's batch")
    p.add_argument("--minibatches", type=int, default=4)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--hidden", type=int, default=64, help="units of each of the two layers")
    p.add_argument("--threads", type=int, default=0, help="torch and afsim threads (0: all)")
    p.add_argument("--out", help="folder for seedN.json (the run's metrics)")
    p.add_argument("--baselines", default="deadline,greedy",
                   help="heuristics played on the same held-out episodes (comma-separated)")
    p.add_argument("--tune-deadline", metavar="ALPHAS",
                   help="also the deadline rule with the alpha of ALPHAS (comma-separated) that "
                        "earns the most reward per function on episodes of seed + 100000, as "
                        "experiments/learn_seeds.py tunes it, as baseline 'deadline (tuned)'")
    p.add_argument("--only-baselines", action="store_true",
                   help="train nothing: play the baselines alone into baselinesN.json, which "
                        "--table joins to seedN.json")
    p.add_argument("--table", metavar="DIR", help="print the IQM table of DIR's seed files and exit")
    a = p.parse_args(argv)
    for name in ("envs", "episodes", "eval_episodes", "epochs", "minibatches", "hidden"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} = {getattr(a, name)}: give 1 or more")
    if not a.table and not a.out:
        p.error("--out DIR is needed (where seedN.json goes), or --table DIR")
    return a


def row_of(env):
    """The last finished episode's metrics over all environments, as afsim
    run writes them (afs_row_from_sums, through the package)."""
    t = env.episode_metrics(total=True)
    return {"success": t["success_rate"], "reward": t["mean_reward"],
            "offload": t["offload_fraction"], "latency": t["mean_latency_s"]}


def make_agent(torch, obs_dim, hidden):
    nn = torch.nn

    def layer(i, o, std=np.sqrt(2)):
        lin = nn.Linear(i, o)
        nn.init.orthogonal_(lin.weight, std)
        nn.init.constant_(lin.bias, 0.0)
        return lin

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden),
                                        nn.Tanh(), layer(hidden, 1, 1.0))
            self.actor = nn.Sequential(layer(obs_dim, hidden), nn.Tanh(), layer(hidden, hidden),
                                       nn.Tanh(), layer(hidden, 2, 0.01))

        def value(self, x):
            return self.critic(x).squeeze(-1)

        def act(self, x, action=None):
            dist = torch.distributions.Categorical(logits=self.actor(x))
            if action is None:
                action = dist.sample()
            return action, dist.log_prob(action), dist.entropy(), self.value(x)

    return Agent()


def evaluate(env, episodes, decide):
    """decide(obs) -> actions on episodes 0 .. episodes - 1: their mean row."""
    rows = []
    obs = env.reset(episode=0)
    while len(rows) < episodes:
        obs, _, done, _ = env.step(decide(obs))
        if done.any():
            rows.append(row_of(env))
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def baselines(afsim, a, env):
    """The heuristics of --baselines, and the tuned deadline rule, on env's
    held-out episodes."""
    out = {h: evaluate(env, a.eval_episodes, lambda _o, h=h: env.heuristic_actions(h))
           for h in a.baselines.split(",") if h}
    if a.tune_deadline:
        def play(alpha, seed):
            with afsim.VecEnv(config=a.config, set=a.set + [f"deadline.alpha={alpha}"],
                              envs=a.envs, seed=seed, backend="cpu", threads=a.threads) as e:
                row = evaluate(e, a.eval_episodes, lambda _o: e.heuristic_actions("deadline"))
            return row
        alphas = [float(x) for x in a.tune_deadline.split(",")]
        best = max(alphas, key=lambda al: play(al, a.seed + TEST_SEED)["reward"])
        out["deadline (tuned)"] = {**play(best, a.seed), "alpha": best}
    return out


def only_baselines(a):
    import afsim
    with afsim.VecEnv(config=a.config, set=a.set, envs=a.envs, seed=a.seed, backend="cpu",
                      threads=a.threads) as env:
        out = {"seed": a.seed, "baselines": baselines(afsim, a, env), "args": vars(a)}
    save(a.out, f"baselines{a.seed}.json", out)


def save(folder, name, obj):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(path + ".tmp", path)
    return path


def train(a):
    import afsim
    unknown = [h for h in a.baselines.split(",") if h and h not in afsim.POLICIES]
    if unknown:
        sys.exit(f"ippo: --baselines {unknown[0]!r}: the heuristics are {', '.join(afsim.POLICIES)}")
    if a.only_baselines:
        return only_baselines(a)
    torch = need_torch()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    env = afsim.VecEnv(config=a.config, set=a.set, envs=a.envs, seed=a.seed, backend="cpu",
                       threads=a.threads)
    L, N, D = env.slots, env.num_envs * env.num_agents, env.obs_dim
    agent = make_agent(torch, D, a.hidden)
    opt = torch.optim.Adam(agent.parameters(), lr=a.lr, eps=1e-5)
    obs_b = torch.zeros((L, N, D))
    act_b = torch.zeros((L, N), dtype=torch.long)
    logp_b, rew_b, val_b, has_b = (torch.zeros((L, N)) for _ in range(4))
    has_col = afsim.OBS_FIELDS.index("has")
    log, t0 = [], time.time()

    obs = env.reset(episode=TRAIN_EPISODES)
    for ep in range(a.episodes):
        for g in opt.param_groups:  # linear annealing, as CleanRL
            g["lr"] = a.lr * (1.0 - ep / a.episodes)
        for t in range(L):  # one episode of every environment
            x = torch.from_numpy(obs.reshape(N, D)).clone()
            with torch.no_grad():
                action, logp, _, value = agent.act(x)
            obs, reward, done, _ = env.step(action.to(torch.uint8).numpy())
            obs_b[t], act_b[t], logp_b[t], val_b[t] = x, action, logp, value
            rew_b[t] = torch.from_numpy(reward.reshape(N))
            has_b[t] = x[:, has_col]
        assert done.all(), "an episode is env.slots steps"
        row = row_of(env)

        # GAE; the last slot is terminal (no bootstrap)
        adv = torch.zeros((L, N))
        last = torch.zeros(N)
        for t in reversed(range(L)):
            next_v = val_b[t + 1] if t + 1 < L else torch.zeros(N)
            delta = rew_b[t] + a.gamma * next_v - val_b[t]
            last = delta + a.gamma * a.gae_lambda * (last if t + 1 < L else 0.0)
            adv[t] = last
        ret = adv + val_b

        b_obs, b_act, b_logp = obs_b.reshape(-1, D), act_b.reshape(-1), logp_b.reshape(-1)
        b_adv, b_ret, b_has = adv.reshape(-1), ret.reshape(-1), has_b.reshape(-1)
        size = L * N
        mb = (size + a.minibatches - 1) // a.minibatches
        for _ in range(a.epochs):
            perm = torch.randperm(size)
            for s in range(0, size, mb):
                i = perm[s:s + mb]
                _, logp, ent, v = agent.act(b_obs[i], b_act[i])
                ratio = (logp - b_logp[i]).exp()
                m = b_has[i]
                madv = b_adv[i]
                denom = m.sum().clamp(min=1.0)
                mean = (madv * m).sum() / denom
                std = (((madv - mean) ** 2 * m).sum() / denom).sqrt()
                madv = (madv - mean) / (std + 1e-8)
                pg = torch.max(-madv * ratio, -madv * ratio.clamp(1 - a.clip, 1 + a.clip))
                pg_loss = (pg * m).sum() / denom
                ent_loss = (ent * m).sum() / denom
                v_loss = 0.5 * ((v - b_ret[i]) ** 2).mean()
                loss = pg_loss - a.ent_coef * ent_loss + a.vf_coef * v_loss
                if not torch.isfinite(loss):
                    sys.exit(f"ippo: the loss is {loss.item()} at episode {ep + 1}: lower --lr")
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(agent.parameters(), a.max_grad_norm)
                opt.step()
        log.append({"episode": ep + 1, **row, "elapsed_s": time.time() - t0})
        print(f"\rippo seed {a.seed}: episode {ep + 1}/{a.episodes}  success {row['success']:.3f}"
              f"  reward {row['reward']:.3f}  offload {row['offload']:.2f}  "
              f"{time.time() - t0:.0f} s", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    def greedy_policy(obs):  # the policy's most likely action
        with torch.no_grad():
            logits = agent.actor(torch.from_numpy(obs.reshape(-1, D)))
        return logits.argmax(-1).to(torch.uint8).numpy()

    ev = evaluate(env, a.eval_episodes, greedy_policy)
    base = baselines(afsim, a, env)
    env.close()
    out = {"seed": a.seed, "config": a.config, "set": a.set, "envs": a.envs,
           "episodes": a.episodes, "eval": ev, "baselines": base, "last_train": log[-1],
           "curve": log,
           "train_s": time.time() - t0, "args": vars(a)}
    path = save(a.out, f"seed{a.seed}.json", out)
    print(f"ippo seed {a.seed}: eval success {ev['success']:.4f}  reward {ev['reward']:.4f}  "
          f"offload {ev['offload']:.3f}  ({out['train_s']:.0f} s) -> {path}", file=sys.stderr)


def table(folder):
    import stats
    runs = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("seed") and name.endswith(".json"):
            with open(os.path.join(folder, name)) as f:
                runs.append(json.load(f))
            extra = os.path.join(folder, f"baselines{runs[-1]['seed']}.json")
            if os.path.exists(extra):  # played later by --only-baselines
                with open(extra) as f:
                    runs[-1].setdefault("baselines", {}).update(json.load(f)["baselines"])
    if not runs:
        sys.exit(f"ippo: {folder} has no seedN.json")
    print(f"IPPO, n = {len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)})")
    rows = [("IPPO eval", [r["eval"] for r in runs]),
            ("IPPO last training episode", [r["last_train"] for r in runs])]
    rows += [(h, [r["baselines"][h] for r in runs]) for h in runs[0].get("baselines", {})
             if all(h in r["baselines"] for r in runs)]
    names = [h for h, _ in rows]
    refname = next((h for h in ("deadline (tuned)", "deadline") if h in names), None)
    ref = None if refname is None else [v["success"] for v in dict(rows)[refname]]
    print(f"P(> ref): the probability that a seed's success beats a seed of {refname}'s")
    print("| | success | reward per function | offload | P(> ref) |")
    print("|---|---|---|---|---|")
    for label, vals in rows:
        cells = [stats.cell([v[m] for v in vals]) for m in ("success", "reward", "offload")]
        pi = "" if ref is None else \
            f"{stats.probability_of_improvement([[v['success'] for v in vals]], [ref]):.2f}"
        print(f"| {label} | " + " | ".join(cells) + f" | {pi} |")


def main():
    a = parse_args()
    if a.table:
        table(a.table)
    else:
        train(a)


if __name__ == "__main__":
    main()
