"""Outcome advantages for GRPO, TMN and TMN-Reweight: one pure function, no trainer imports.

GoLongRL (arXiv 2605.19577) trains on a mix of task types whose rewards live on different scales
(EM is 0/1, a summary score is a fraction in [0, 1] that rarely moves far). Per-prompt GRPO divides each
group by its own std, so a prompt whose 16 answers score 0.30 +- 0.02 gets the same advantage magnitude
as a 0/1 prompt -- prompt difficulty and a task's reward scale are confused. TMN (task-level
normalisation) keeps GRPO's per-prompt baseline but divides by one scale per *task*; TMN-Reweight then
scales each group by how hard the prompt was for the current policy.

Reference: `compute_tmn_grpo_outcome_advantage` in the authors' verl fork
(github.com/xiaoxuanNLP/GoLongRL, Train/verl/verl/trainer/ppo/core_algos.py) and `compute_grpo_outcome_advantage`
in the same file (verl's GRPO). This file re-derives that math vectorised; see `compute_advantages`.

Notation (shapes for a batch of N responses, G prompt groups, K tasks):
    r      (N,)  scalar outcome reward of each response
    g      (N,)  prompt-group index of each response in [0, G)   -- verl's `uid`
    k      (G,)  task index of each group in [0, K)               -- verl's `reward_mode`, mapped to a metric group
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Literal, NamedTuple

import torch

Algo = Literal["grpo", "tmn", "tmn-reweight"]
Scale = Literal["group", "batch", "none"]
ALGOS: tuple[str, ...] = ("grpo", "tmn", "tmn-reweight")
SCALES: tuple[str, ...] = ("group", "batch", "none")


def _index(ids: Sequence[Hashable]) -> tuple[torch.Tensor, list[Hashable]]:
    """Hashable ids -> (dense int64 index (N,), the distinct ids in first-seen order)."""
    seen: dict[Hashable, int] = {}
    idx = [seen.setdefault(x, len(seen)) for x in ids]
    return torch.tensor(idx, dtype=torch.long), list(seen)


def _segment_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    return torch.zeros(size, dtype=values.dtype).index_add_(0, index, values)


class _Groups(NamedTuple):
    """Per-prompt statistics of one batch (shapes in the module docstring)."""

    g: torch.Tensor  # (N,) group of each response
    n: int  # G
    count: torch.Tensor  # (G,) responses per group
    mu: torch.Tensor  # (G,) mean reward (0 for a group of one)
    var: torch.Tensor  # (G,) unbiased variance (1 for a group of one)
    single: torch.Tensor  # (G,) bool: a group of one
    flat: torch.Tensor  # (G,) bool: every answer scored alike (and more than one)
    centered: torch.Tensor  # (N,) r - mu_g, exactly 0 in flat groups


def _group_stats(r: torch.Tensor, group_ids: Sequence[Hashable]) -> _Groups:
    """Per-prompt mean, variance and centred rewards (verl's GRPO statistics)."""
    n = r.shape[0]
    g, groups = _index(group_ids)  # (N,), G ids
    n_groups = len(groups)
    # ---- per-prompt statistics (verl's GRPO): mean mu_g, unbiased variance s_g^2 = sum (r - mu)^2 / (n - 1).
    count = _segment_sum(torch.ones(n, dtype=torch.float64), g, n_groups)  # (G,)
    mu = _segment_sum(r, g, n_groups) / count  # (G,)
    sq_dev = _segment_sum((r - mu[g]) ** 2, g, n_groups)  # (G,) two-pass: no E[x^2]-E[x]^2 cancellation
    var = sq_dev / (count - 1).clamp_min(1)  # (G,)
    # A group of one has no spread to learn from; verl sets mean 0 and std 1 for it (so A = r / (1 + eps)).
    single = count <= 1  # (G,)
    mu = torch.where(single, torch.zeros_like(mu), mu)
    var = torch.where(single, torch.ones_like(var), var)
    # Zero-variance groups (all answers scored alike) carry no signal. Exactly equal rewards can still leave
    # r - mu at 1 ulp from float rounding of the mean, which divided by eps (1e-6) would become a spurious
    # advantage of order 1e-10; we zero it explicitly. (The official code relies on the rounding being exact.)
    g_max = torch.full((n_groups,), -math.inf, dtype=torch.float64).scatter_reduce_(0, g, r, "amax")
    g_min = torch.full((n_groups,), math.inf, dtype=torch.float64).scatter_reduce_(0, g, r, "amin")
    flat = (g_max == g_min) & ~single  # (G,)
    centered = torch.where(flat[g], torch.zeros_like(r), r - mu[g])  # (N,)
    return _Groups(g, n_groups, count, mu, var, single, flat, centered)


def _grpo(r: torch.Tensor, gs: _Groups, scale: str, eps: float) -> torch.Tensor:
    """GRPO's advantage (N,): the centred reward over the group's std, the batch's, or nothing (Dr. GRPO)."""
    if scale == "group":
        return gs.centered / (gs.var.sqrt()[gs.g] + eps)
    if scale == "batch":  # TRL's scale_rewards="batch": group baseline, one std over the whole batch
        return gs.centered / (r.std() + eps if r.shape[0] > 1 else 1.0)
    return gs.centered


def _task_of_groups(gs: _Groups, task_ids: Sequence[Hashable]) -> tuple[torch.Tensor, list[Hashable]]:
    """(G,) task index of each group, and the distinct task ids; a group must not span several tasks."""
    # The task key is the reward route's metric group (the official trainer maps LongBench-Pro sub-tasks to 9
    # metric names, e.g. T4.1 -> "Summary").
    g, n_groups = gs.g, gs.n
    t_of_resp, tasks = _index(task_ids)  # (N,), K ids
    t = torch.full((n_groups,), -1, dtype=torch.long).scatter_(0, g, t_of_resp)  # (G,) task of each group
    if (torch.zeros(n_groups, dtype=torch.long).index_add_(0, g, (t_of_resp != t[g]).long()) > 0).any():
        raise ValueError("a prompt group spans several task ids; every response of a prompt must share its task")
    return t, tasks


def _difficulty_weight(r: torch.Tensor, gs: _Groups, t: torch.Tensor, n_tasks: int, groups_per_task: torch.Tensor,
                       alpha: float, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """TMN-Reweight's weight (N,) of each response, and the pass rate (G,) of each prompt."""
    g, n_groups, mu = gs.g, gs.n, gs.mu
    # Difficulty reweighting. m_k: the task's mean score level in this batch (mean of its prompts' mu_g,
    # groups of one counting with mu = 0, as in the official code). A prompt's threshold is smoothed towards
    # it, mu~_g = alpha * mu_g + (1 - alpha) * m_k, so a prompt where every answer is mediocre is not called
    # "easy" merely because half its answers beat its own mean. Groups of one use m_k alone.
    m = _segment_sum(mu, t, n_tasks) / groups_per_task  # (K,)
    smooth = torch.where(gs.single, m[t], alpha * mu + (1 - alpha) * m[t])  # (G,)
    # p_g: share of the group's responses above the smoothed threshold -- the prompt's pass rate.
    passed = (r > smooth[g]).double()  # (N,)
    p = _segment_sum(passed, g, n_groups) / gs.count  # (G,)
    # Hard prompts (p < 0.5) get their successes amplified, exp(gamma (0.5 - p)) > 1, and their failures
    # softened, exp(gamma (p - 0.5)) < 1; easy prompts the reverse. "Success" here is r > mu_g (the raw
    # mean, i.e. a positive centred advantage), not the smoothed threshold. No clamp (unlike verl's GRPO
    # reweight, which clamps the weight to [1, 2]).
    w_pos = torch.exp(gamma * (0.5 - p))  # (G,)
    w_neg = torch.exp(gamma * (p - 0.5))  # (G,)
    return torch.where(r > mu[g], w_pos[g], w_neg[g]), p  # (N,), (G,)


def compute_advantages(
    rewards: torch.Tensor,
    group_ids: Sequence[Hashable],
    task_ids: Sequence[Hashable],
    algo: str = "tmn-reweight",
    alpha: float = 0.8,
    gamma: float = 1.0,
    eps: float = 1e-6,
    scale: str = "group",
) -> tuple[torch.Tensor, dict[str, float]]:
    """Advantages (N,) for one batch of scalar rewards, and metrics to log.

    algo: "grpo"          A_i = (r_i - mu_g) / (s_g + eps)             (scale="group"; "batch" divides by the batch
                                                                          std, "none" only centres: Dr. GRPO)
          "tmn"           A_i = (r_i - mu_g) / (sigma_k + eps),  sigma_k = sqrt(mean_{g in k} s_g^2)
          "tmn-reweight"  TMN times exp(gamma * (0.5 - p_g)) for responses above their group mean,
                          exp(gamma * (p_g - 0.5)) for the rest; p_g is the pass rate against a smoothed mean.
    alpha: smoothing of the pass-rate threshold (1 = the group's own mean); the paper's script uses 0.8.
    gamma: strength of the difficulty weight; 1 in the paper.

    Example (the hand-derived case in tests/train/test_advantages.py): P1 [1,0,0,0], P2 [1,1,0,0] of task EM
    -> sigma_EM = sqrt((1/4 + 1/3)/2) = 0.540062; TMN-Reweight gives P1's correct answer 0.75/0.540062*e^0.25
    = 1.783162.
    """
    if algo not in ALGOS:
        raise ValueError(f"unknown advantage algo {algo!r}; expected one of: {', '.join(ALGOS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown GRPO scale {scale!r}; expected one of: {', '.join(SCALES)}")
    if rewards.dim() != 1 or not (len(rewards) == len(group_ids) == len(task_ids)):
        raise ValueError("rewards must be 1-D and group_ids, task_ids the same length as rewards")
    n = rewards.shape[0]
    if n == 0:
        return rewards.clone(), {}

    # Float64 inside: group means of a few dozen rewards, then divided by eps-sized numbers, must not carry
    # float32 rounding into the advantage. The result goes back in the caller's dtype and device.
    r = rewards.detach().to("cpu", torch.float64)  # (N,)
    gs = _group_stats(r, group_ids)
    metrics: dict[str, float] = {"zero_var_frac": gs.flat.double().mean().item()}
    if algo == "grpo":
        return _grpo(r, gs, scale, eps).to(rewards.dtype).to(rewards.device), metrics

    # ---- task level (TMN): GRPO's per-prompt baseline, one scale per task.
    t, tasks = _task_of_groups(gs, task_ids)
    n_tasks = len(tasks)
    groups_per_task = _segment_sum(torch.ones(gs.n, dtype=torch.float64), t, n_tasks)  # (K,)
    # sigma_k = sqrt(mean of the per-prompt variances of the task's prompts in this batch): the typical spread
    # of a prompt's rewards *for this task*, so one scale serves all its prompts (paper, Sec. TMN).
    sigma = (_segment_sum(gs.var, t, n_tasks) / groups_per_task).sqrt()  # (K,)
    adv = gs.centered / (sigma[t][gs.g] + eps)  # (N,)
    for name, s in zip(tasks, sigma.tolist(), strict=True):
        metrics[f"sigma/{name}"] = s

    if algo == "tmn-reweight":
        w, p = _difficulty_weight(r, gs, t, n_tasks, groups_per_task, alpha, gamma)
        adv = adv * w
        metrics["mean_pass_rate"] = p.mean().item()
        metrics["weight_min"] = w.min().item()
        metrics["weight_max"] = w.max().item()

    return adv.to(rewards.dtype).to(rewards.device), metrics
