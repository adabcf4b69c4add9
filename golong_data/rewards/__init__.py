"""The reward library: one pure function per metric, one router, two profiles.

    from golong_data.rewards import compute_score, score_sample, REWARDS
    compute_score(data_source, solution_str, ground_truth, extra_info)   # verl's custom-reward signature

verl, TRL and our stages (verify, score, train) all call this one router. Light to import: math-verify
(sympy) loads only when a math answer is scored.
"""

from golong_data.rewards.profiles import PROFILES, Profile, get_profile
from golong_data.rewards.router import (
    REWARDS,
    TASK_METRIC,
    compute_score,
    get_reward,
    known_route,
    route_metric,
    score_sample,
)

__all__ = [
    "PROFILES",
    "REWARDS",
    "TASK_METRIC",
    "Profile",
    "compute_score",
    "get_profile",
    "get_reward",
    "known_route",
    "route_metric",
    "score_sample",
]
