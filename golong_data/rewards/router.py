"""The reward router: (data_source, reward_mode) -> metric, with the think gate in front.

Matches `default_compute_score` in the official Train/verl/verl/utils/reward_score/__init__.py for the
routes GoLongRL trains on:
  data_source "EM"                          -> em           (text after the last </think>)
  data_source "selection"                   -> accuracy     (multiple choice)
  "math_longcot_math_verify" in data_source -> math_verify
  data_source "multitableqa_pretraining"    -> iou
  data_source "longbench_pro"               -> extra_info["reward_mode"], a LongBench-Pro subtask name,
                                               through TASK_METRIC below (official TASK_METRIC_CONFIG)
and the official router's other routes (gsm8k, MATH, math_dapo, retrieval_calculate, searchR1, the
model_verify family: legacy.py), checked in its order (official_score).
Before routing, on every data_source, the gate: no `</think>`, or more than one `<think>` or `</think>`
-> 0. A ground truth given as a list is replaced by its last element (the official router does that for
EM, selection, longbench_pro, retrieval_calculate and math_longcot_math_verify; for
multitableqa_pretraining, where a list ground truth silently scores 0, a non-empty one is unwrapped too).
longbench_pro reads the gold list from ground_truth["doc_ids"] and passes ground_truth["summary"] as the
*language* ("Chinese" -> jieba word segmentation before ROUGE-L).
Total: where the official code raises (an unknown route, a missing key, a ground truth of the wrong type,
a remote judge) the score is 0.0 with one RuntimeWarning per route per process; strict_routes=True raises
ConfigError instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from golong_data.errors import ConfigError
from golong_data.rewards import (
    accuracy,
    em,
    f1,
    iou,
    legacy,
    list_accuracy,
    mathverify,
    ndcg,
    pairwise,
    rouge_l,
    subem,
)
from golong_data.rewards.common import Unscorable, after_think, need, passes_think_gate
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


MATH_SOURCES = ("lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "HuggingFaceH4/MATH-500")
NUMINA_SOURCES = ("numina_aops_forum", "numina_synthetic_math", "numina_amc_aime", "numina_synthetic_amc",
                  "numina_cn_k12", "numina_olympiads")
CODE_SOURCES = ("codecontests", "apps", "codeforces", "taco")
SEARCH_R1_SOURCES = ("searchR1_nq", "searchR1_triviaqa", "searchR1_popqa", "searchR1_hotpotqa",
                     "searchR1_2wikimultihopqa", "searchR1_musique", "searchR1_bamboogle")
_JUDGE_MODES = ("model_judge", "model_judge_with_question", "model_compare")
# Routes the official code scores but this package does not (README "Rewards": the route table).
NOT_HERE = {
    "code": "code execution (prime_code / sandbox_fusion) is not done here",
    "numina": "prime_math is not reimplemented here",
    "geo3k": "geometry3k (mathruler) is not reimplemented here",
}

_warned: set[str] = set()


def _last(ground_truth: Any) -> Any:
    """The official `if isinstance(ground_truth, list): ground_truth = ground_truth[-1]`."""
    if isinstance(ground_truth, (list, tuple)):
        if not ground_truth:
            raise Unscorable("empty ground_truth list (official: IndexError)")
        return ground_truth[-1]
    return ground_truth


def _label(gt: Any) -> str:
    """ground_truth["golden_label"] where the official code calls string methods on it."""
    label = need(gt, "golden_label")
    if not isinstance(label, str):
        raise Unscorable(f"golden_label is {type(label).__name__}, not a string (official: AttributeError)")
    return label


def _math(text: str, gold: Any, p: Profile) -> float:
    score = mathverify.math_verify_score(text, gold, p.math_timeout_s)
    if score == mathverify.UNSCORABLE:
        raise Unscorable(f"math gold is {type(gold).__name__}, neither a string nor a collection (official: TypeError)")
    return score


def route_label(data_source: Any, extra_info: Any) -> str:
    """The route as warnings and --strict-routes name it: data_source, plus reward_mode where it routes."""
    mode = extra_info.get("reward_mode") if isinstance(extra_info, dict) else None
    if isinstance(data_source, str) and mode is not None and (
        data_source == "longbench_pro" or any(k in data_source for k in ("model_verify", "model_judge",
                                                                            "retrieval_summary_calculate"))):
        return f"{data_source} / {mode}"
    return repr(data_source) if not isinstance(data_source, str) else data_source


def official_score(data_source: Any, solution: str, ground_truth: Any, extra_info: Any, p: Profile) -> float:
    """default_compute_score after its think gate, route by route in its order; Unscorable where it raises."""
    if not isinstance(data_source, str):
        raise Unscorable(f"data_source is {type(data_source).__name__}, not a string")
    ds = data_source
    if ds == "openai/gsm8k":
        return legacy.gsm8k(solution, ground_truth)
    if ds in MATH_SOURCES:
        return legacy.hendrycks_math(solution, ground_truth)
    if ds.startswith(("MATH##", "aime")):
        if not isinstance(ground_truth, str):
            raise Unscorable(f"ground truth is {type(ground_truth).__name__}, not a string (official: TypeError)")
        return mathverify.math_metric_score(solution, ground_truth, p.math_timeout_s)
    if ds in ("math_dapo", "math", "math_dapo_reasoning", "math_longcot"):
        return legacy.minerva(solution, ground_truth)
    if ds == "math_dapo_math_verify":
        return _math(solution, ground_truth, p)
    if "math_longcot_math_verify" in ds:
        gt = _last(ground_truth)
        return _math(solution, gt if isinstance(gt, str) else need(gt, "golden_label"), p)
    if ds in ("math_stem", "math_stem_longcot"):
        raise Unscorable("the official math_stem module is not in GoLongRL's verl (ImportError there)")
    if ds in NUMINA_SOURCES:
        raise Unscorable(NOT_HERE["numina"])
    if ds in CODE_SOURCES:
        raise Unscorable(NOT_HERE["code"])
    if ds == "hiyouga/geometry3k":
        raise Unscorable(NOT_HERE["geo3k"])
    if ds in SEARCH_R1_SOURCES:
        return legacy.search_r1_em(solution, ground_truth)
    if ds == "longbench_pro":
        gt = _last(ground_truth)
        doc_ids, mode, _ = need(gt, "doc_ids"), need(extra_info, "reward_mode"), need(gt, "summary")
        if not solution.strip():
            return 0.0
        try:
            if not doc_ids or len(doc_ids) == 0:
                return 0.0
        except TypeError:
            raise Unscorable(f"doc_ids is {type(doc_ids).__name__} (official: TypeError)") from None
        if mode not in TASK_METRIC:
            raise Unscorable(f"unknown LongBench-Pro reward_mode {mode!r} (official: ValueError); "
                             f"expected one of: {', '.join(TASK_METRIC)}")
        return REWARDS[TASK_METRIC[mode]](solution, gt, p)
    if ds == "multitableqa_pretraining":
        # Deviation (profile table): a non-empty list ground truth is unwrapped; the official route reads any
        # list as no rows.
        gt = ground_truth[-1] if isinstance(ground_truth, (list, tuple)) and ground_truth else ground_truth
        return REWARDS["iou"](solution, gt, p)
    if ds == "retrieval_calculate":
        return legacy.retrieval_calculate(after_think(solution), _last(ground_truth),
                                          lambda text, gold: mathverify.math_verify_score(text, gold, p.math_timeout_s))
    if ds == "selection":
        gt = _last(ground_truth)
        return REWARDS["accuracy"](solution, {"golden_label": _label(gt)}, p)
    if ds == "EM":
        gt = _last(ground_truth)
        return REWARDS["em"](solution, {"golden_label": _label(gt)}, p)
    if any(k in ds for k in ("model_verify", "retrieval_summary_calculate", "model_judge", "retrieval_model_judge")):
        answer = after_think(solution)
        mode = need(extra_info, "reward_mode")
        if mode == "math_verify":
            if answer == need(extra_info, "ground_truth"):
                return 1.0
            return _math(answer, ground_truth, p)
        if mode in _JUDGE_MODES and answer == need(extra_info, "ground_truth"):
            return 1.0
        raise Unscorable(f"reward_mode {mode!r} needs a remote judge model (official: NotImplementedError)")
    raise Unscorable(f"no reward for data_source {ds!r} (official: NotImplementedError); "
                     f"GoLongRL's routes: {', '.join(DATA_SOURCES)}")


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: Any,
    extra_info: dict[str, Any] | None = None,
    *,
    profile: str | Profile = "golongrl",
    think_gate: bool | None = None,
    strict_routes: bool = False,
    **_: Any,
) -> float:
    """verl's custom reward signature: the score in [0, 1] of one response (see the module docstring).

    Total: a row the official router cannot score (it raises) scores 0.0 with one warning per route per
    process; strict_routes=True raises ConfigError instead.

    >>> compute_score("EM", "<think>hm</think> Bath", {"doc_ids": [], "golden_label": "Bath", "summary": ""})
    1.0
    >>> compute_score("EM", "Bath", {"doc_ids": [], "golden_label": "Bath", "summary": ""})  # no </think>
    0.0
    """
    p = get_profile(profile, think_gate)
    try:
        if not isinstance(solution_str, str):
            raise Unscorable(f"solution_str is {type(solution_str).__name__}, not a string")
        if p.think_gate and not passes_think_gate(solution_str):
            return 0.0  # official: before routing, whatever the data_source
        score = float(official_score(data_source, solution_str, ground_truth, extra_info, p))
    except Unscorable as e:
        route = route_label(data_source, extra_info)
        if strict_routes:
            raise ConfigError(f"reward route {route}: {e}", "fix the row, or score without --strict-routes "
                              "(such rows then score 0.0 with a warning)") from None
        if route not in _warned:
            _warned.add(route)
            warnings.warn(f"reward route {route}: {e}; scored 0.0 (warned once per route)", RuntimeWarning,
                          stacklevel=2)
        return 0.0
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
