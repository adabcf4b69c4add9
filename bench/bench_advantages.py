"""Advantage step cost at the paper's batch size (128 prompts x 16 rollouts = 2048 responses, 9 tasks).

Compares golong_data.train.advantages.compute_advantages with a plain per-group Python loop (the shape of
verl's original compute_grpo_outcome_advantage) on the same batch, checks they agree, and reports TMN and
TMN-Reweight overhead over GRPO. Runs in a few seconds on CPU.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from collections import defaultdict

import torch

from golong_data.train.advantages import compute_advantages

TASKS = ["EM", "selection", "math_verify", "IoU", "F1_Score", "SubEM", "NDCG", "Pairwise_Accuracy", "Summary"]


def batch(n_prompts: int = 128, n: int = 16, seed: int = 0) -> tuple[torch.Tensor, list[int], list[str]]:
    rng = random.Random(seed)
    rewards, groups, tasks = [], [], []
    for p in range(n_prompts):
        task = TASKS[p % len(TASKS)]
        for _ in range(n):
            rewards.append(float(rng.random() < 0.5) if task in ("EM", "selection", "math_verify") else rng.random())
            groups.append(p)
            tasks.append(task)
    return torch.tensor(rewards), groups, tasks


def loop_grpo(rewards: torch.Tensor, groups: list[int], eps: float = 1e-6) -> torch.Tensor:
    """Per-group Python loop over tensors, as verl's original GRPO estimator does it."""
    by_group: dict[int, list[torch.Tensor]] = defaultdict(list)
    for i in range(len(rewards)):
        by_group[groups[i]].append(rewards[i])
    mean, std = {}, {}
    for g, v in by_group.items():
        t = torch.stack(v)
        mean[g], std[g] = (t.mean(), t.std()) if len(v) > 1 else (torch.tensor(0.0), torch.tensor(1.0))
    out = rewards.clone()
    for i in range(len(rewards)):
        out[i] = (rewards[i] - mean[groups[i]]) / (std[groups[i]] + eps)
    return out


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timeit(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    r, g, k = batch()
    ref = loop_grpo(r, g)
    ours, _ = compute_advantages(r, g, k, algo="grpo")
    assert torch.allclose(ours, ref, atol=1e-5), "vectorised GRPO disagrees with the loop"
    t_loop = timeit(lambda: loop_grpo(r, g), 5)
    t = {a: timeit(lambda a=a: compute_advantages(r, g, k, algo=a), 30) for a in ("grpo", "tmn", "tmn-reweight")}
    print(f"machine: {cpu_name()}, torch {torch.__version__}, 1 thread")
    print(f"batch: {len(r)} responses = 128 prompts x 16, {len(TASKS)} tasks")
    print(f"python per-group loop GRPO : {t_loop * 1e3:8.2f} ms")
    for a, s in t.items():
        print(f"compute_advantages {a:<12}: {s * 1e3:8.2f} ms  ({t_loop / s:5.1f}x faster than the loop)")
    for a in ("tmn", "tmn-reweight"):
        print(f"{a} overhead vs grpo: {(t[a] - t['grpo']) * 1e3:+.2f} ms per step ({t[a] / t['grpo']:.2f}x)")


if __name__ == "__main__":
    main()
