"""The advantage math against hand-derived numbers and the properties the paper relies on."""

from __future__ import annotations

import math
import random
import statistics

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from golong_data.train.advantages import compute_advantages

# The worked case, n = 4 responses per prompt.
REWARDS = [1, 0, 0, 0] + [1, 1, 0, 0] + [0.1, 0.2, 0.3, 0.8]
GROUPS = ["P1"] * 4 + ["P2"] * 4 + ["P3"] * 4
TASKS = ["EM"] * 8 + ["Summary"] * 4


def _adv(algo: str, **kw: float) -> list[float]:
    adv, _ = compute_advantages(torch.tensor(REWARDS), GROUPS, TASKS, algo=algo, **kw)
    return adv.tolist()


def test_tmn_reweight_worked_case() -> None:
    # By hand: s^2(P1) = (0.75^2 + 3 * 0.25^2) / 3 = 1/4, s^2(P2) = 4 * 0.25 / 3 = 1/3 -> sigma_EM = sqrt(7/24).
    # m_EM = (0.25 + 0.5) / 2 = 0.375; P1 threshold 0.8 * 0.25 + 0.2 * 0.375 = 0.275 -> pass rate 1/4
    # -> weights e^{0.25} (above mean) and e^{-0.25}. P2 threshold 0.475 -> pass rate 1/2 -> weight 1.
    # P3: mu = 0.35, s^2 = (0.0625 + 0.0225 + 0.0025 + 0.2025) / 3, threshold = mu (one prompt) -> p = 1/4.
    expected = (
        [1.783162] + [-0.360514] * 3 + [0.925818] * 2 + [-0.925818] * 2 + [-0.626220, -0.375732, -0.125244, 1.858431]
    )
    assert _adv("tmn-reweight") == pytest.approx(expected, abs=1e-6)


def test_tmn_without_reweight_and_grpo_worked_case() -> None:
    sigma_em = math.sqrt((1 / 4 + 1 / 3) / 2)
    tmn = _adv("tmn")
    assert tmn[0] == pytest.approx(0.75 / (sigma_em + 1e-6), abs=1e-6)
    assert tmn[4] == pytest.approx(0.5 / (sigma_em + 1e-6), abs=1e-6)
    grpo = _adv("grpo")
    # P1: mean 0.25, std 0.5 -> [1.5, -0.5 x3] up to eps.
    assert grpo[:4] == pytest.approx([0.75 / 0.500001, -0.25 / 0.500001, -0.25 / 0.500001, -0.25 / 0.500001], abs=1e-7)
    assert grpo[:4] == pytest.approx([1.5, -0.5, -0.5, -0.5], abs=1e-5)
    # "none" only centres (Dr. GRPO); "batch" divides by the batch's unbiased std.
    assert _adv("grpo", scale="none")[:4] == pytest.approx([0.75, -0.25, -0.25, -0.25], abs=1e-7)
    batch_std = statistics.stdev(REWARDS)
    assert _adv("grpo", scale="batch")[0] == pytest.approx(0.75 / (batch_std + 1e-6), abs=1e-6)


def test_metrics_of_worked_case() -> None:
    _, m = compute_advantages(torch.tensor(REWARDS), GROUPS, TASKS, algo="tmn-reweight")
    assert m["sigma/EM"] == pytest.approx(math.sqrt(7 / 24))
    assert m["sigma/Summary"] == pytest.approx(math.sqrt(0.29 / 3))
    assert m["mean_pass_rate"] == pytest.approx((1 / 4 + 1 / 2 + 1 / 4) / 3)
    assert m["weight_min"] == pytest.approx(math.exp(-0.25)) and m["weight_max"] == pytest.approx(math.exp(0.25))
    assert m["zero_var_frac"] == 0.0


def _tmn_loop(rewards: list[float], groups: list[str], tasks: list[str], eps: float = 1e-6) -> list[float]:
    """TMN written from the issue's formulas as plain loops (an independent reference)."""
    by_group: dict[str, list[float]] = {}
    task_of: dict[str, str] = {}
    for r, g, k in zip(rewards, groups, tasks, strict=True):
        by_group.setdefault(g, []).append(r)
        task_of[g] = k
    mean = {g: (statistics.fmean(v) if len(v) > 1 else 0.0) for g, v in by_group.items()}
    var = {g: (statistics.variance(v) if len(v) > 1 else 1.0) for g, v in by_group.items()}
    sigma = {}
    for k in set(tasks):
        vs = [var[g] for g in by_group if task_of[g] == k]
        sigma[k] = math.sqrt(sum(vs) / len(vs))
    return [(r - mean[g]) / (sigma[k] + eps) for r, g, k in zip(rewards, groups, tasks, strict=True)]


def _random_batch(seed: int, n_prompts: int = 12, n: int = 5) -> tuple[list[float], list[str], list[str]]:
    rng = random.Random(seed)
    rewards, groups, tasks = [], [], []
    for p in range(n_prompts):
        task = rng.choice(["EM", "Summary", "NDCG"])
        for _ in range(n):
            rewards.append(float(rng.random() < 0.4) if task == "EM" else round(rng.random(), 3))
            groups.append(f"p{p}")
            tasks.append(task)
    return rewards, groups, tasks


@pytest.mark.parametrize("seed", range(5))
def test_tmn_matches_an_independent_loop(seed: int) -> None:
    rewards, groups, tasks = _random_batch(seed)
    adv, _ = compute_advantages(torch.tensor(rewards, dtype=torch.float64), groups, tasks, algo="tmn")
    assert adv.tolist() == pytest.approx(_tmn_loop(rewards, groups, tasks), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), algo=st.sampled_from(["grpo", "tmn", "tmn-reweight"]))
def test_permutation_invariance(seed: int, algo: str) -> None:
    rewards, groups, tasks = _random_batch(seed, n_prompts=6, n=4)
    perm = list(range(len(rewards)))
    random.Random(seed + 1).shuffle(perm)
    a, _ = compute_advantages(torch.tensor(rewards, dtype=torch.float64), groups, tasks, algo=algo)
    b, _ = compute_advantages(
        torch.tensor([rewards[i] for i in perm], dtype=torch.float64),
        [groups[i] for i in perm],
        [tasks[i] for i in perm],
        algo=algo,
    )
    assert b.tolist() == pytest.approx([a[i].item() for i in perm], abs=1e-9)


def test_one_task_with_equal_group_variances_reduces_tmn_to_grpo() -> None:
    # Two groups with the same spread but different levels: sigma_k = s_g for both, so TMN == GRPO.
    rewards = [0.0, 1.0, 0.0, 1.0] + [0.2, 1.2, 0.2, 1.2]
    groups = ["a"] * 4 + ["b"] * 4
    tasks = ["EM"] * 8
    t = torch.tensor(rewards, dtype=torch.float64)
    grpo, _ = compute_advantages(t, groups, tasks, algo="grpo")
    tmn, _ = compute_advantages(t, groups, tasks, algo="tmn")
    assert tmn.tolist() == pytest.approx(grpo.tolist(), abs=1e-12)
    s = statistics.stdev(rewards[:4])
    assert grpo[1].item() == pytest.approx(0.5 / (s + 1e-6), abs=1e-9)


def test_tmn_differs_from_grpo_across_scales() -> None:
    # The reason TMN exists: a low-spread Summary prompt gets a smaller advantage than under GRPO.
    adv_tmn = _adv("tmn")
    adv_grpo = _adv("grpo")
    assert adv_tmn[8:] == pytest.approx(adv_grpo[8:], abs=1e-6)  # Summary has one prompt: sigma = its own std
    assert adv_tmn[0] < adv_grpo[0]  # EM's sigma pooled over P1 and P2 is larger than P1's own std


@pytest.mark.parametrize("algo", ["grpo", "tmn", "tmn-reweight"])
def test_zero_variance_groups_give_zero_advantage(algo: str) -> None:
    rewards = [0.1, 0.1, 0.1, 0.1] + [1.0, 1.0, 1.0] + [0.0, 1.0, 0.0]  # 0.1 is not exact in binary
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 3
    tasks = ["Summary"] * 4 + ["EM"] * 6
    for dtype in (torch.float32, torch.float64):
        adv, m = compute_advantages(torch.tensor(rewards, dtype=dtype), groups, tasks, algo=algo)
        assert adv[:7].tolist() == [0.0] * 7
        assert adv[7:].abs().min().item() > 0.1
        assert m["zero_var_frac"] == pytest.approx(2 / 3)
    # A task made only of flat groups has sigma 0: still zero, not 0/eps.
    adv, _ = compute_advantages(torch.full((4,), 0.3), ["a", "a", "b", "b"], ["Summary"] * 4, algo=algo)
    assert adv.tolist() == [0.0] * 4


@pytest.mark.parametrize("algo", ["grpo", "tmn", "tmn-reweight"])
def test_groups_of_one_are_nan_free(algo: str) -> None:
    rewards = torch.tensor([0.7, 0.2, 1.0, 0.0])
    adv, metrics = compute_advantages(rewards, ["a", "b", "c", "c"], ["EM", "EM", "Summary", "Summary"], algo=algo)
    assert torch.isfinite(adv).all()
    assert all(math.isfinite(v) for v in metrics.values())
    # verl's rule for a lone response: mean 0 and variance 1.
    if algo == "grpo":
        assert adv[0].item() == pytest.approx(0.7 / (1 + 1e-6))
    if algo == "tmn":
        assert adv[0].item() == pytest.approx(0.7 / (1 + 1e-6))  # sigma_EM = sqrt((1 + 1) / 2) = 1


def test_keeps_dtype_and_accepts_int_ids() -> None:
    adv, _ = compute_advantages(torch.tensor(REWARDS, dtype=torch.float32), [0] * 4 + [1] * 4 + [2] * 4,
                                [7] * 8 + [9] * 4)
    assert adv.dtype == torch.float32
    assert adv[0].item() == pytest.approx(1.783162, abs=1e-5)


def test_gamma_zero_turns_reweight_off_and_alpha_moves_the_threshold() -> None:
    assert _adv("tmn-reweight", gamma=0.0) == pytest.approx(_adv("tmn"), abs=1e-12)
    # alpha = 0 puts P2's threshold at m_EM = 0.375: still 2 of 4 pass, so P2 keeps weight 1;
    # P1's threshold becomes 0.375 too: still 1 of 4 -> same as alpha = 0.8 here.
    assert _adv("tmn-reweight", alpha=0.0)[:8] == pytest.approx(_adv("tmn-reweight")[:8], abs=1e-12)


def test_bad_arguments_name_the_choices() -> None:
    with pytest.raises(ValueError, match="expected one of: grpo, tmn, tmn-reweight"):
        compute_advantages(torch.zeros(2), [0, 0], [0, 0], algo="ppo")
    with pytest.raises(ValueError, match="same length"):
        compute_advantages(torch.zeros(2), [0], [0, 0])
    with pytest.raises(ValueError, match="spans several task"):
        compute_advantages(torch.zeros(2), [0, 0], ["EM", "Summary"], algo="tmn")
