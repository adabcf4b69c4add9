"""IoU (multitableqa.py) and math_verify (math_dapo.py with math-verify): hand-derived cases."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from golong_data.rewards import compute_score
from golong_data.rewards.mathverify import math_verify_score

T = "<think>\nreading the tables\n</think>\n"


def table(rows: list[list[Any]]) -> dict[str, Any]:
    return {"doc_ids": [], "golden_label": json.dumps({"data": rows}), "summary": ""}


def iou(response: str, rows: list[list[Any]], profile: str = "golongrl") -> float:
    return compute_score("multitableqa_pretraining", response, table(rows), {"reward_mode": "IoU"}, profile=profile)


def ans(rows: Any) -> str:
    return T + "<answer>" + json.dumps({"data": rows}) + "</answer>"


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        ([["Emma", 21], ["Jane", 22]], [["Emma", 21], ["Jane", 22]], 1.0),
        ([[1]], [["1"]], 1.0),  # rows compare as str(value): 1 == "1"
        ([[1.0]], [[1]], 0.0),  # "1.0" != "1"
        ([[True]], [["True"]], 1.0),
        ([["a"], ["a"]], [["a"]], 0.5),  # multiset: 1 match / (2 + 1 - 1)
        ([["a"], ["b"], ["c"]], [["a"], ["d"]], 0.25),  # 1 / (3 + 2 - 1)
        ([["a", "b"]], [["b", "a"]], 0.0),  # column order matters
        ([], [["a"]], 0.0),
        ([], [], 0.0),  # 0 / 0 -> 0
    ],
)
def test_iou_hand_values(pred: list[list[Any]], gold: list[list[Any]], expected: float) -> None:
    assert iou(ans(pred), gold) == pytest.approx(expected)


def test_iou_parsing_quirks() -> None:
    gold = [["a"]]
    assert iou(T + "<answer>{not json}</answer>", gold) == 0.0
    assert iou(T + '<answer>[["a"]]</answer>', gold) == 0.0  # a list, not {"data": ...}: no rows
    assert iou(T + '<answer>{"data": "a"}</answer>', gold) == 0.0  # data not a list
    # no <answer> tag: golongrl parses the WHOLE response (thinking included) -> invalid JSON -> 0;
    # strict parses the text after </think>
    assert iou(T + '{"data": [["a"]]}', gold) == 0.0
    assert iou(T + '{"data": [["a"]]}', gold, profile="strict") == 1.0
    # first <answer> wins, even inside the thinking (golongrl); strict looks after </think> only
    resp = '<think>\n<answer>{"data": []}</answer>\n</think>\n<answer>{"data": [["a"]]}</answer>'
    assert iou(resp, gold) == 0.0
    assert iou(resp, gold, profile="strict") == 1.0
    # a gold label that is a bare JSON list (not {"data": ...}) gives no gold rows -> 0
    bad = {"doc_ids": [], "golden_label": '[["a"]]', "summary": ""}
    assert compute_score("multitableqa_pretraining", ans([["a"]]), bad, {"reward_mode": "IoU"}) == 0.0


MATH = ("math_longcot_math_verify", {"reward_mode": "math_verify"})


def math(response: str, label: Any) -> float:
    return compute_score(MATH[0], response, label if isinstance(label, list) else
                         {"doc_ids": [], "golden_label": label, "summary": ""}, MATH[1])


@pytest.mark.parametrize(
    ("response", "label", "expected"),
    [
        ("<think>half</think>The answer is $\\boxed{1/2}$.", "0.5", 1.0),  # \boxed{1/2} vs 0.5
        ("<think>half</think>$\\boxed{\\frac{1}{2}}$", "1/2", 1.0),
        ("<think>x</think>$\\boxed{0.5}$", "\\frac{1}{2}", 1.0),
        ("<think>x</think>$\\boxed{3}$", "4", 0.0),
        ("<think>x</think>$\\boxed{42}$", "42", 1.0),
        ("<think>x</think>no number here", "42", 0.0),
    ],
)
def test_math_verify(response: str, label: str, expected: float) -> None:
    assert math(response, label) == expected


def test_math_reads_only_the_last_500_characters() -> None:
    assert math("<think>x</think>$\\boxed{42}$" + " " + "z" * 499, "42") == 0.0
    assert math("<think>x</think>$\\boxed{42}$" + " " + "z" * 400, "42") == 1.0


def test_math_gold_list_uses_last_element() -> None:
    assert math("<think>x</think>$\\boxed{7}$", [{"golden_label": "3"}, {"golden_label": "7"}]) == 1.0
    assert math("<think>x</think>$\\boxed{7}$", ["3", "7"]) == 1.0  # bare strings, as the official accepts


@pytest.mark.timeout(120)
def test_math_verify_off_the_main_thread() -> None:
    """math-verify's SIGALRM timeouts cannot run in a thread; we route through a worker process instead."""
    out: dict[str, float] = {}

    def run() -> None:
        out["ok"] = math_verify_score("<think>x</think>$\\boxed{\\frac{1}{2}}$", "0.5")
        out["bad"] = math_verify_score("<think>x</think>$\\boxed{3}$", "0.5")

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert out == {"ok": 1.0, "bad": 0.0}
