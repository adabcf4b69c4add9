"""List Accuracy (LongBench-Pro T3.x / T11.x): the first answer line equals the first gold item.

Matches long_bench_pro.Accuracy: both sides normalised (lowercase, whitespace collapsed), answer area
after the last `[Answer]` (else `[答案]`, else the whole response).

>>> list_accuracy(["Mr. Darcy"], "<think>..</think>[Answer]\\nmr.  darcy\\nWickham")
1.0
"""

from __future__ import annotations

from typing import Any

from golong_data.rewards.common import gold_list, normalize_gold, normalize_lines
from golong_data.rewards.profiles import PROFILES, Profile


def list_accuracy(gold: list[str], response: str, profile: Profile = PROFILES["golongrl"]) -> float:
    answers = normalize_gold(gold)
    preds = normalize_lines(response, profile)
    if not answers or not preds:
        return 0.0
    return 1.0 if answers[0] == preds[0] else 0.0


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    gold = gold_list(ground_truth)
    return 0.0 if not gold or not response.strip() else list_accuracy(gold, response, profile)
