"""F1 over sets of answer lines (exhaustive retrieval; LongBench-Pro T5/T6.2/T7/T9 subtasks).

Matches long_bench_pro.F1_Score: precision = |P ∩ G| / |P|, recall = |P ∩ G| / |G| over the SETS of
normalised predicted lines P and gold items G (duplicates collapse); 0 when nothing matches. In the
`golongrl` profile a blank line inside the answer area is an item "" that dilutes precision.

>>> round(f1(["Emma", "Harriet", "Jane"], "<think>..</think>[Answer]\\nemma\\nHarriet\\nFrank"), 6)
0.666667
"""

from __future__ import annotations

from typing import Any

from golong_data.rewards.common import gold_list, normalize_gold, normalize_lines
from golong_data.rewards.profiles import PROFILES, Profile


def f1(gold: list[str], response: str, profile: Profile = PROFILES["golongrl"]) -> float:
    answers = set(normalize_gold(gold))
    preds = set(normalize_lines(response, profile))
    common = len(answers & preds)
    if common == 0 or not preds or not answers:
        return 0.0
    precision, recall = common / len(preds), common / len(answers)
    return 2 * precision * recall / (precision + recall)


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    gold = gold_list(ground_truth)
    return 0.0 if not gold or not response.strip() else f1(gold, response, profile)
