"""IoU of table rows for structured extraction (data_source "multitableqa_pretraining").

Matches multitableqa.compute_score: the prediction is the JSON between the FIRST `<answer>` and the
following `</answer>` (the whole response when there is no `<answer>`; `golongrl` searches the whole
response, thinking included), its "data" list; the gold is json.loads(golden_label)["data"], so
golden_label is a JSON OBJECT string '{"data": [[...], ...]}'. Rows compare as tuples of str(value), so
1 and "1" match while 1 and 1.0 do not; multiset IoU = |P ∩ G| / (|P| + |G| - |P ∩ G|).
Unparseable prediction JSON scores as no rows. Where the official code would raise (JSON nested past
Python's recursion limit, integers over 4300 digits) this returns 0.

>>> iou('<answer>{"data": [["Emma", 21], ["Jane", "22"]]}</answer>', '{"data": [["Emma", "21"], ["Jane", 23]]}')
0.3333333333333333
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from golong_data.rewards.common import Unscorable, after_think
from golong_data.rewards.profiles import PROFILES, Profile


def _answer_json(text: str) -> str:
    if "<answer>" in text:
        return text.partition("<answer>")[2].partition("</answer>")[0].strip()
    return text.strip()


def _key(row: Any) -> Any:
    return tuple(str(v) for v in row) if isinstance(row, list) else str(row)


def iou(response: str, golden_label: str, profile: Profile = PROFILES["golongrl"]) -> float:
    try:
        answer = json.loads(golden_label)
    except (json.JSONDecodeError, TypeError, RecursionError, ValueError):
        return 0.0
    return iou_answer(response, answer, profile)


def iou_answer(response: str, answer: Any, profile: Profile = PROFILES["golongrl"]) -> float:
    """IoU against a parsed gold object: its "data" rows when it is a dict, else no rows. As officially, a
    "data" string is its characters and a "data" dict its keys; a number or null (official: TypeError) is
    Unscorable."""
    text = after_think(response) if profile.answer_after_think else response
    try:
        pred = json.loads(_answer_json(text)).get("data", [])
    except (ValueError, AttributeError, TypeError, RecursionError):
        pred = []
    if not isinstance(pred, list):
        return 0.0
    gold = answer.get("data", []) if isinstance(answer, dict) else []
    if not isinstance(gold, (list, tuple, str, dict)):
        raise Unscorable(f'gold "data" is {type(gold).__name__}, not rows')
    gold = list(gold)
    try:
        matches = sum((Counter(_key(r) for r in pred) & Counter(_key(r) for r in gold)).values())
    except (ValueError, RecursionError, TypeError):  # str() of a huge int, pathological nesting
        return 0.0
    total = len(pred) + len(gold) - matches
    return matches / total if total > 0 else 0.0


def reward(response: str, ground_truth: Any, profile: Profile) -> float:
    """multitableqa.compute_score's gold: json.loads(golden_label) when the dict has one (unparseable or not a
    string: 0), the dict itself when it has none, no rows when it is not a dict."""
    if isinstance(ground_truth, dict) and "golden_label" in ground_truth:
        return iou(response, ground_truth["golden_label"], profile)
    return iou_answer(response, ground_truth, profile)
