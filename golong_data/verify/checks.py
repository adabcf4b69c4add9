"""The verify checks as pure predicates: numbers in, (ok, reason, evidence) out (datatrove's filter style).

The verify stage makes the LLM calls and scores them; each predicate here only decides from the recorded
numbers, and `recompute_verdict` re-applies them to a sample's verification block -- so a kept sample
carries everything needed to re-check its verdict without an LLM.

Why these checks (issue 7): a wrong gold teaches the wrong thing (gold, reanswer); a question answerable
without the document teaches memorisation (nocontext); one a fixed rule answers without reading teaches
that rule (shortcut, issue 19); a sample that collapses once the context grows is
brittle (robustness); a sample every rollout solves, or none does, has zero GRPO advantage (band -- LoongRL
keeps items a reference model solves 1-6 times out of 8).
"""

from __future__ import annotations

import statistics
from typing import Any

Verdict = tuple[bool, str, dict[str, Any]]

# Metrics whose reward is 0 or 1 (registry keys, see golong_data.taxonomy.metric_key); the others are graded.
BINARY_METRICS = frozenset({"em", "accuracy", "math_verify"})
# A graded metric counts as "solved" at this reward unless the config says otherwise.
DEFAULT_GRADED_THRESHOLD = 0.5
# The golongrl ROUGE-L profile scores the whole completion, thinking included, so even the reference
# against itself stays below 1.0 once a short think block is in front of it (issue 8: >= 0.8).
GOLD_THRESHOLDS = {"rouge_l": 0.8}
# Blind strategies that are as good as a random draw: the constructors shuffle option letters and the order
# items and labels are listed in (golong_data.verify.shortcuts). Reported, never a reason to reject.
RANDOM_EQUIVALENT = frozenset({"letter:A", "letter:B", "letter:C", "letter:D", "question_order", "label_order",
                               "label_pair"})


def is_binary(metric_key: str) -> bool:
    return metric_key in BINARY_METRICS


def solve_threshold(metric_key: str, overrides: dict[str, float] | None = None) -> float:
    """The reward at which a rollout counts as solving the sample: 1.0 for binary metrics."""
    if overrides and metric_key in overrides:
        return float(overrides[metric_key])
    return 1.0 if is_binary(metric_key) else DEFAULT_GRADED_THRESHOLD


def gold_threshold(metric_key: str) -> float:
    return GOLD_THRESHOLDS.get(metric_key, 1.0)


# ------------------------------------------------------------------------------------------ predicates


def check_gold(reward: float, threshold: float, answer: str, span_errors: list[str]) -> Verdict:
    """The gold answer, written in the answer format, must earn the full reward; its evidence must resolve."""
    ev = {"reward": reward, "threshold": threshold, "span_errors": span_errors}
    if not answer.strip():
        return False, "gold_no_answer", ev
    if span_errors:
        return False, "gold_evidence_unresolved", ev
    if reward < threshold:
        return False, "gold_scores_below_threshold", ev
    return True, "", ev


def check_shortcut(scores: dict[str, float], chance: float, max_blind: float) -> Verdict:
    """No content blind strategy may score >= the sample's chance level + max_blind (capped at 1.0).

    The worst offender names the rejection: `shortcut:<strategy>`."""
    thr = min(1.0, chance + max_blind)
    ev: dict[str, Any] = {"scores": scores, "chance": chance, "max_blind": max_blind, "threshold": thr}
    hits = sorted((-v, k) for k, v in scores.items() if k not in RANDOM_EQUIVALENT and v >= thr)
    if not hits:
        return True, "", ev
    ev["strategy"], ev["score"] = hits[0][1], -hits[0][0]
    return False, f"shortcut:{hits[0][1]}", ev


def inconclusive(ok: bool, blind: list[bool], passes_when_solved: bool) -> bool:
    """Whether a verdict rests only on replies that could not have shown a solve.

    `blind[i]`: reply i was cut by the token limit, or could not score above 0 for its format (empty, or no
    `</think>` under the think gate). Such a reply scores 0 whatever the model knew, so when every reply is
    blind, a check that passes on "not solved" (nocontext) learnt nothing, and neither did a failure of a check
    that passes on "solved" (reanswer, robustness)."""
    if not blind or not all(blind):
        return False
    return not ok if passes_when_solved else ok


def check_reanswer(rewards: list[float], threshold: float) -> Verdict:
    """The solver, given the full context, must reach the metric's threshold against the gold."""
    best = max(rewards, default=0.0)
    ev = {"rewards": rewards, "threshold": threshold, "best": best}
    return (True, "", ev) if best >= threshold else (False, "reanswer_disagrees", ev)


def check_nocontext(rewards: list[float], leak_threshold: float) -> Verdict:
    """Without the context the solver must fail: a solved no-context question leaks from parametric memory."""
    best = max(rewards, default=0.0)
    ev = {"rewards": rewards, "leak_threshold": leak_threshold, "best": best}
    return (False, "answerable_without_context", ev) if best >= leak_threshold else (True, "", ev)


def check_robustness(rewards: list[float], threshold: float) -> Verdict:
    """With extra distractors (the next bucket up), pass@k must stay above zero."""
    passes = sum(r >= threshold for r in rewards)
    ev = {"rewards": rewards, "threshold": threshold, "passes": passes}
    return (True, "", ev) if passes > 0 else (False, "brittle_under_distractors", ev)


def check_band(rewards: list[float], binary: bool, lo: int, hi: int) -> Verdict:
    """Keep samples GRPO can learn from.

    Binary metrics: lo <= (rollouts with reward 1) <= hi. Graded metrics: 0 < mean < 1 with non-zero
    variance (a group of identical rewards has zero advantage, whatever their level).
    """
    mean = statistics.fmean(rewards) if rewards else 0.0
    var = statistics.pvariance(rewards) if len(rewards) > 1 else 0.0
    ev: dict[str, Any] = {"rewards": rewards, "binary": binary, "band": [lo, hi], "mean": mean, "variance": var}
    if binary:
        correct = sum(r >= 1.0 for r in rewards)
        ev["correct"] = correct
        if correct < lo:
            return False, "too_hard", ev
        if correct > hi:
            return False, "too_easy", ev
        return True, "", ev
    if mean <= 0.0:
        return False, "too_hard", ev
    if mean >= 1.0:
        return False, "too_easy", ev
    if var <= 0.0:
        return False, "no_reward_variance", ev
    return True, "", ev


def span_errors(evidence: list[dict[str, Any]], doc_lengths: dict[str, int] | None) -> list[str]:
    """Evidence spans that do not resolve in the documents (none checked when documents are unavailable)."""
    if doc_lengths is None:
        return []
    errs = []
    for sp in evidence:
        d, s, e = sp.get("doc_id"), sp.get("start"), sp.get("end")
        if d not in doc_lengths:
            errs.append(f"{d}: unknown document")
        elif not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= doc_lengths[d]):
            errs.append(f"{d}[{s}:{e}] outside 0..{doc_lengths[d]}")
    return errs


# ------------------------------------------------------------------------------------------ re-check


def recompute_verdict(verification: dict[str, Any]) -> tuple[bool, str]:
    """Re-decide a sample from its verification block alone (no LLM, no documents).

    Applies each recorded check's predicate to its recorded numbers; a check recorded as skipped or
    inconclusive does not vote. Returns (kept, first failing check's reason or "").
    """
    checks = verification.get("checks", {})
    for name, rec in checks.items():
        if rec.get("verdict") in ("skipped", "inconclusive"):
            continue
        if name == "gold":
            ok, reason, _ = check_gold(rec["reward"], rec["threshold"], "x" if rec.get("answer_present", True) else "",
                                       rec.get("span_errors", []))
        elif name == "shortcut":
            ok, reason, _ = check_shortcut(rec["scores"], rec["chance"], rec["max_blind"])
        elif name == "reanswer":
            ok, reason, _ = check_reanswer(rec["rewards"], rec["threshold"])
        elif name == "nocontext":
            ok, reason, _ = check_nocontext(rec["rewards"], rec["leak_threshold"])
        elif name == "robustness":
            ok, reason, _ = check_robustness(rec["rewards"], rec["threshold"])
        elif name == "band":
            ok, reason, _ = check_band(rec["rewards"], rec["binary"], rec["band"][0], rec["band"][1])
        else:
            return False, f"unknown_check_{name}"
        if not ok:
            return False, reason
    return True, ""
