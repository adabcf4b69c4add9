"""EM: the text after the last `</think>`, stripped, equals the stripped label exactly (case-sensitive).

Matches EM_judge.compute_score as routed by data_source "EM" in the official reward_score/__init__.py.

>>> em("<think>look</think>\\n Fitzwilliam Darcy \\n", "Fitzwilliam Darcy")
1.0
>>> em("<think>look</think>fitzwilliam darcy", "Fitzwilliam Darcy")
0.0
"""

from __future__ import annotations

from typing import Any

from golong_data.rewards.common import after_think
from golong_data.rewards.profiles import Profile


def em(response: str, label: str) -> float:
    return 1.0 if after_think(response).strip() == label.strip() else 0.0


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    label = ground_truth.get("golden_label")
    return em(response, label) if isinstance(label, str) else 0.0
