"""The think gate, the router's routes and its errors (official reward_score/__init__.py semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from golong_data.errors import ConfigError, GolongError
from golong_data.rewards import REWARDS, compute_score, get_reward, score_sample

THINK = "<think>\nLet me look through the text.\n</think>\n"


def gt(doc_ids: list[str] | None = None, label: str = "", summary: str = "") -> dict[str, Any]:
    return {"doc_ids": doc_ids or [], "golden_label": label, "summary": summary}


def lines(*items: str) -> str:
    return THINK + "[Answer]\n" + "\n".join(items)


EM_GT = gt(label="Bath")
F1 = {"reward_mode": "T6.2 Targeted Subset Cluster Identification"}
QA = {"reward_mode": "T3.2 Single-Hop Fact QA"}



@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("<think>hm</think>Bath", 1.0),
        ("hm</think>Bath", 1.0),  # the opening tag is optional
        ("Bath", 0.0),  # no </think>
        ("<think>a</think><think>b</think>Bath", 0.0),  # two of each
        ("<think>a<think>b</think>Bath", 0.0),  # two <think>
        ("a</think>b</think>Bath", 0.0),  # two </think>
        ("", 0.0),
    ],
)
def test_gate(response: str, expected: float) -> None:
    assert compute_score("EM", response, EM_GT) == expected


def test_no_think_gate_scores_plain_answers() -> None:
    assert compute_score("EM", "Bath", EM_GT, think_gate=False) == 1.0
    assert compute_score("EM", "Bath", EM_GT, profile="strict", think_gate=False) == 1.0
    # with the gate off, two </think> are allowed; the text after the last one is the answer
    assert compute_score("EM", "a</think>b</think>Bath", EM_GT, think_gate=False) == 1.0


def test_list_ground_truth_uses_last_element() -> None:
    assert compute_score("EM", "</think>Bath", [gt(label="Lyme"), EM_GT]) == 1.0
    assert compute_score("EM", "</think>Lyme", [gt(label="Lyme"), EM_GT]) == 0.0


def test_longbench_pro_routes_by_reward_mode() -> None:
    g = gt(["a", "b", "c"])
    resp = "</think>[Answer]\nb\na\nc"
    # same response, three subtasks, three metrics: F1 (sets equal) = 1, NDCG < 1, Pairwise = 2/3
    assert compute_score("longbench_pro", resp, g, F1) == 1.0
    assert compute_score("longbench_pro", resp, g, {"reward_mode": "T2.1 Global Timeline Reconstruction"}) == 2 / 3
    assert compute_score("longbench_pro", resp, g, {"reward_mode": "T1.1 Global Cohesive Retrieval"}) < 1.0
    # T3.x Accuracy: first line only
    assert compute_score("longbench_pro", resp, g, QA) == 0.0
    assert compute_score("longbench_pro", "</think>[Answer]\na\nx", g, QA) == 1.0


def test_unknown_routes_list_the_choices_under_strict_routes() -> None:
    with pytest.raises(ConfigError) as e:
        compute_score("longbench_pro", "</think>x", gt(["a"]), {"reward_mode": "T99 Nope"}, strict_routes=True)
    assert "T1.1 Global Cohesive Retrieval" in str(e.value)
    with pytest.raises(ConfigError) as e:
        compute_score("gsm8k", "</think>x", EM_GT, strict_routes=True)
    assert "multitableqa_pretraining" in str(e.value)
    with pytest.raises(ConfigError) as e:
        get_reward("bleu")
    assert "rouge_l" in str(e.value) and "ndcg" in str(e.value)
    with pytest.raises(ConfigError) as e:
        compute_score("EM", "</think>x", EM_GT, profile="lenient")
    assert "golongrl" in str(e.value) and "strict" in str(e.value)


def test_malformed_ground_truth_is_an_error_only_under_strict_routes() -> None:
    with pytest.raises(GolongError):
        compute_score("EM", "</think>x", 42, strict_routes=True)
    with pytest.warns(RuntimeWarning, match="golden_label"):
        assert compute_score("EM", "</think>x", ["EM-test-route-42"], {"reward_mode": "x"}) == 0.0


def test_registry_has_the_nine_metrics() -> None:
    assert {"em", "accuracy", "f1", "math_verify", "iou", "subem", "ndcg", "pairwise", "rouge_l"} <= set(REWARDS)


def test_score_sample_uses_the_route() -> None:
    sample = {"route": {"data_source": "selection", "reward_mode": "selection"}, "ground_truth": gt(label="C")}
    assert score_sample(sample, "<think>..</think>The correct answer is (C)") == 1.0
    assert score_sample(sample, "<think>..</think>The correct answer is (D)") == 0.0
