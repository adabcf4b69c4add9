"""SubEM: the share of gold items that appear as an answer line (structured matching; T6.1/T8/T10).

Matches long_bench_pro.SubEM: sum over the gold LIST (a duplicated gold item counts twice) of
"present among the predicted lines", divided by the number of gold items. Extra predicted lines are not
penalised (official quirk); the `strict` profile divides by max(gold items, distinct predicted lines).

>>> subem(["Bath", "Lyme"], "<think>..</think>[Answer]\\nlyme\\nbath\\nlondon")
1.0
"""

from __future__ import annotations

from typing import Any

from golong_data.rewards.common import gold_list, normalize_gold, normalize_lines
from golong_data.rewards.profiles import PROFILES, Profile


def subem(gold: list[str], response: str, profile: Profile = PROFILES["golongrl"]) -> float:
    answers = normalize_gold(gold)
    preds = normalize_lines(response, profile)
    if not answers or not preds:
        return 0.0
    pred_set = set(preds)
    hits = sum(1 for a in answers if a in pred_set)
    if profile.subem_penalize_extra:
        return hits / max(len(answers), len(pred_set))
    return hits / len(answers)


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    gold = gold_list(ground_truth)
    return 0.0 if not gold or not response.strip() else subem(gold, response, profile)
