"""Pairwise ordering accuracy for sequence ordering (LongBench-Pro T2.x, T6.3).

Matches long_bench_pro.Pairwise_Accuracy: over all pairs (a, b) of the gold LIST in gold order, count
those where both appear among the answer lines and a's position < b's (a repeated line sits at its LAST
position); divide by C(n, 2) with n = number of answer lines (blank and repeated lines included). 0 when
either side has <= 1 item. Official quirks kept by `golongrl`: omissions are not penalised (two lines in
the right order score 1.0), and a score above 1 (possible with duplicated gold items) trips the official
`assert` inside its try block, giving 0. `strict` de-duplicates both sides and divides by
C(max(gold, predicted), 2).

>>> round(pairwise(["a", "b", "c"], "</think>[Answer]\\nb\\na\\nc"), 6)   # (a,c), (b,c) of 3 pairs
0.666667
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from golong_data.rewards.common import gold_list, normalize_gold, normalize_lines
from golong_data.rewards.profiles import PROFILES, Profile


def pairwise(gold: list[str], response: str, profile: Profile = PROFILES["golongrl"]) -> float:
    answers = normalize_gold(gold)
    preds = normalize_lines(response, profile)
    if profile.pairwise_penalize_omissions:
        answers = list(dict.fromkeys(answers))
        preds = list(dict.fromkeys(preds))
    if len(answers) <= 1 or len(preds) <= 1:
        return 0.0
    position = {p: i for i, p in enumerate(preds)}  # last occurrence wins, as in the official dict
    correct = sum(
        1 for a, b in combinations(answers, 2) if a in position and b in position and position[a] < position[b]
    )
    n = max(len(answers), len(preds)) if profile.pairwise_penalize_omissions else len(preds)
    score = correct / (n * (n - 1) // 2)
    return score if score <= 1.0 else 0.0


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    gold = gold_list(ground_truth)
    return 0.0 if not gold or not response.strip() else pairwise(gold, response, profile)
