"""EM (EM_judge.py) and multiple-choice Accuracy (multi_choices.py), hand-derived cases."""

from __future__ import annotations

from typing import Any

import pytest

from golong_data.rewards import compute_score

THINK = "<think>\nLet me look through the text.\n</think>\n"


def gt(doc_ids: list[str] | None = None, label: str = "", summary: str = "") -> dict[str, Any]:
    return {"doc_ids": doc_ids or [], "golden_label": label, "summary": summary}


def lines(*items: str) -> str:
    return THINK + "[Answer]\n" + "\n".join(items)



@pytest.mark.parametrize(
    ("response", "label", "expected"),
    [
        ("<think>x</think>\n  Captain Wentworth \n", "Captain Wentworth", 1.0),  # stripped
        ("<think>x</think>Captain Wentworth", " Captain Wentworth\n", 1.0),  # label stripped too
        ("<think>x</think>captain wentworth", "Captain Wentworth", 0.0),  # case-sensitive
        ("<think>x</think>Captain  Wentworth", "Captain Wentworth", 0.0),  # inner spaces matter
        ("<think>Captain Wentworth</think>", "Captain Wentworth", 0.0),  # thinking does not count
        ("<think>x</think>The answer is Captain Wentworth", "Captain Wentworth", 0.0),  # exact, not contains
    ],
)
def test_em(response: str, label: str, expected: float) -> None:
    assert compute_score("EM", response, gt(label=label)) == expected


@pytest.mark.parametrize(
    ("response", "label", "expected"),
    [
        ("<think>x</think>The correct answer is (B).", "B", 1.0),
        ("<think>x</think>**The correct answer is (B)**", "B", 1.0),  # '*' removed first
        ("<think>x</think>The correct answer is B.", "B", 1.0),  # bare form as fallback
        ("<think>x</think>The correct answer is (C). The correct answer is (B).", "B", 0.0),  # first wins
        ("<think>x</think>The correct answer is B, no: The correct answer is (C)", "C", 1.0),  # paren form first
        ("<think>x</think>the correct answer is (B)", "B", 0.0),  # case-sensitive
        ("<think>x</think>The correct answer is (E)", "E", 0.0),  # only A-D
        ("<think>x</think>The correct answer is (B)", "The correct answer is (B)", 1.0),  # label as sentence
        ("<think>The correct answer is (B)</think>I am not sure", "B", 0.0),  # thinking ignored
        ("<think>x</think>The correct answer is Anne Elliot", "A", 1.0),  # official quirk: bare 'A' of Anne
    ],
)
def test_multiple_choice(response: str, label: str, expected: float) -> None:
    assert compute_score("selection", response, gt(label=label), {"reward_mode": "selection"}) == expected
