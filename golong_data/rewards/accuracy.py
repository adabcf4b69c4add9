"""Accuracy (multiple choice): `The correct answer is (X)`, X in A-D, compared with the label's letter.

Matches multi_choices.compute_score as routed by data_source "selection": the text after the last
`</think>`, with every `*` removed (so **bold** answers count); the FIRST `The correct answer is (X)`
wins, else the first `The correct answer is X` (case-sensitive, capital A-D only; note that the bare form
also reads the "A" of "The correct answer is Anne"). The label may be the bare letter "B" or itself a
sentence "The correct answer is (B)".

>>> accuracy("<think>...</think>The correct answer is **(B)**.", "B")
1.0
>>> accuracy("<think>...</think>The correct answer is (C), not (B).", "B")
0.0
"""

from __future__ import annotations

import re
from typing import Any

from golong_data.rewards.common import after_think
from golong_data.rewards.profiles import Profile

_PAREN = re.compile(r"The correct answer is \(([A-D])\)")
_BARE = re.compile(r"The correct answer is ([A-D])")


def extract_choice(text: str) -> str | None:
    text = text.replace("*", "")
    m = _PAREN.search(text) or _BARE.search(text)
    return m.group(1) if m else None


def accuracy(response: str, label: str) -> float:
    got = extract_choice(after_think(response))
    if got is None:
        return 0.0
    return 1.0 if got == label or got == extract_choice(label) else 0.0


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    label = ground_truth.get("golden_label")
    return accuracy(response, label) if isinstance(label, str) else 0.0
