"""The reward router: (data_source, reward_mode) -> metric, with the think gate in front.

Matches `default_compute_score` in the official Train/verl/verl/utils/reward_score/__init__.py for the
routes GoLongRL trains on:
  data_source "EM"                          -> em           (text after the last </think>)
  data_source "selection"                   -> accuracy     (multiple choice)
  "math_longcot_math_verify" in data_source -> math_verify
  data_source "multitableqa_pretraining"    -> iou
  data_source "longbench_pro"               -> extra_info["reward_mode"], a LongBench-Pro subtask name,
                                               through TASK_METRIC below (official TASK_METRIC_CONFIG)
Before routing, the gate: no `</think>`, or more than one `<think>` or `</think>` -> 0. A ground truth
given as a list is replaced by its last element (the official router does that for every route but
multitableqa_pretraining, where a list ground truth silently scores 0; here it is unwrapped too).
longbench_pro reads the gold list from ground_truth["doc_ids"] and passes ground_truth["summary"] as the
*language* ("Chinese" -> jieba word segmentation before ROUGE-L).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from golong_data.errors import ConfigError, GolongError
from golong_data.rewards import accuracy, em, f1, iou, list_accuracy, mathverify, ndcg, pairwise, rouge_l, subem
from golong_data.rewards.common import passes_think_gate
from golong_data.rewards.profiles import Profile, get_profile

RewardFn = Callable[[str, dict[str, Any], Profile], float]

# Registry: metric key -> fn(response, ground_truth, profile) -> float in [0, 1]. taxonomy.yaml names these.
REWARDS: dict[str, RewardFn] = {
    "em": em.reward,
    "accuracy": accuracy.reward,
    "f1": f1.reward,
    "math_verify": mathverify.reward,
    "iou": iou.reward,
    "subem": subem.reward,
    "ndcg": ndcg.reward,
    "pairwise": pairwise.reward,
    "rouge_l": rouge_l.reward,
    "list_accuracy": list_accuracy.reward,  # LongBench-Pro T3.x / T11.x (first line); no task type of ours
}

_LBP = {"NDCG": "ndcg", "Pairwise_Accuracy": "pairwise", "Accuracy": "list_accuracy", "F1_Score": "f1",
        "SubEM": "subem", "Summary": "rouge_l"}
# LongBench-Pro subtask -> metric (official long_bench_pro.TASK_METRIC_CONFIG, metric names mapped to keys).
TASK_METRIC: dict[str, str] = {k: _LBP[v] for k, v in {
    "T1.1 Global Cohesive Retrieval": "NDCG",
    "T1.2 Key-Snippet Retrieval": "NDCG",
    "T2.1 Global Timeline Reconstruction": "Pairwise_Accuracy",
    "T2.2 Local Causal Chain Sorting": "Pairwise_Accuracy",
    "T3.1 Multi-Doc Integration QA": "Accuracy",
    "T3.2 Single-Hop Fact QA": "Accuracy",
    "T4.1 Global-Coverage Constrained Summary": "Summary",
    "T4.2 Query-Focused Summary": "Summary",
    "T5.1 Full-Sentence Citation Alignment": "F1_Score",
    "T5.2 Key-Statement Citation Alignment": "F1_Score",
    "T6.1 Large-Scale Document Clustering": "SubEM",
    "T6.2 Targeted Subset Cluster Identification": "F1_Score",
    "T6.3 Global Frequency Analysis": "Pairwise_Accuracy",
    "T7.1 Global Conflict & Inconsistency Localization": "F1_Score",
    "T7.2 Targeted Rule or Condition Violation Detection": "F1_Score",
    "T7.3 Comprehensive Error & Anomaly Sweep": "F1_Score",
    "T8.1 Structured Multi-Source Consistency Verification": "SubEM",
    "T8.2 Single-Source Targeted Aggregation": "SubEM",
    "T8.3 Long-Context Procedural State Tracking": "SubEM",
    "T9.1 Dependency-Aware Multi-Version Impact Analysis": "F1_Score",
    "T9.2 Localized Interface Change Detection": "F1_Score",
    "T10.1 Large-Scale In-Context Rule Induction": "SubEM",
    "T10.2 Targeted Example-Based Rule Induction": "SubEM",
    "T11.1 Long-Range Entity & Commitment Tracking": "Accuracy",
    "T11.2 Short-Range Reference Resolution & State Query": "Accuracy",
}.items()}

DATA_SOURCES = ("EM", "selection", "math_longcot_math_verify", "multitableqa_pretraining", "longbench_pro")


def get_reward(key: str) -> RewardFn:
    if key not in REWARDS:
        raise ConfigError(f"unknown metric {key!r}", f"expected one of: {', '.join(sorted(REWARDS))}")
    return REWARDS[key]


def known_route(data_source: str, reward_mode: str | None) -> str | None:
    """The metric key the official router would use, or None when it has no such route."""
    if data_source == "EM":
        return "em"
    if data_source == "selection":
        return "accuracy"
    if "math_longcot_math_verify" in data_source:
        return "math_verify"
    if data_source == "multitableqa_pretraining":
        return "iou"
    if data_source == "longbench_pro":
        return TASK_METRIC.get(reward_mode or "")
    return None


def route_metric(data_source: Any, extra_info: dict[str, Any] | None) -> str:
    """Like known_route, but an unroutable row is an error that lists what is routable."""
    if not isinstance(data_source, str):
        raise ConfigError(f"data_source must be a string, got {data_source!r}", f"one of: {', '.join(DATA_SOURCES)}")
    reward_mode = (extra_info or {}).get("reward_mode")
    key = known_route(data_source, reward_mode)
    if key is None:
        if data_source == "longbench_pro":
            raise ConfigError(
                f"longbench_pro row with unknown reward_mode {reward_mode!r} (extra_info.reward_mode)",
                f"expected one of: {', '.join(TASK_METRIC)}",
            )
        raise ConfigError(f"no reward for data_source {data_source!r}", f"expected one of: {', '.join(DATA_SOURCES)}")
    return key


def _ground_truth_dict(ground_truth: Any) -> dict[str, Any]:
    if isinstance(ground_truth, (list, tuple)):  # official: a list ground truth -> its last element
        if not ground_truth:
            raise GolongError("empty ground_truth list", "give {doc_ids, golden_label, summary}")
        ground_truth = ground_truth[-1]
    if isinstance(ground_truth, str):  # a bare label (the official math route accepts one)
        return {"doc_ids": [], "golden_label": ground_truth, "summary": ""}
    if not isinstance(ground_truth, dict):
        raise GolongError(
            f"ground_truth must be a dict {{doc_ids, golden_label, summary}}, got {type(ground_truth).__name__}",
            "export rows with reward_model.ground_truth as that dict",
        )
    return ground_truth


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    *,
    profile: str | Profile = "golongrl",
    think_gate: bool | None = None,
    **_: Any,
) -> float:
    """verl's custom reward signature: the score in [0, 1] of one response (see the module docstring).

    >>> compute_score("EM", "<think>hm</think> Bath", {"doc_ids": [], "golden_label": "Bath", "summary": ""})
    1.0
    >>> compute_score("EM", "Bath", {"doc_ids": [], "golden_label": "Bath", "summary": ""})  # no </think>
    0.0
    """
    p = get_profile(profile, think_gate)
    key = route_metric(data_source, extra_info)
    gt = _ground_truth_dict(ground_truth)
    if not isinstance(solution_str, str):
        return 0.0
    if p.think_gate and not passes_think_gate(solution_str):
        return 0.0
    score = float(REWARDS[key](solution_str, gt, p))
    if math.isnan(score):
        return 0.0
    return min(1.0, max(0.0, score))


def score_sample(
    sample: Any, completion: str, profile: str | Profile = "golongrl", think_gate: bool | None = None
) -> float:
    """Score a completion for one of our Samples (record or dict), routed by its `route`."""
    route = sample["route"] if isinstance(sample, dict) else sample.route
    gt = sample["ground_truth"] if isinstance(sample, dict) else sample.ground_truth
    return compute_score(
        route["data_source"], completion, gt, {"reward_mode": route["reward_mode"]}, profile=profile,
        think_gate=think_gate,
    )
