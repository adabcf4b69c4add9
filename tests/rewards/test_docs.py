"""Each metric file's docstring example runs and holds (the examples are the documentation)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["em", "accuracy", "list_accuracy", "f1", "subem", "ndcg", "pairwise", "iou", "rouge_l", "mathverify",
           "common", "router"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"golong_data.rewards.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0


def test_score_sample_accepts_sample_records() -> None:
    from golong_data.records import Sample
    from golong_data.rewards import score_sample

    s = Sample(id="s", task_type="sequence_ordering", capability=["ordering"], metric="Pairwise",
               route={"data_source": "longbench_pro", "reward_mode": "T2.1 Global Timeline Reconstruction"},
               prompt=[], ground_truth={"doc_ids": ["a", "b", "c"], "golden_label": "", "summary": ""},
               answer="[Answer]\na\nb\nc")
    assert score_sample(s, "<think>\n..\n</think>\n" + s.answer) == 1.0
    assert score_sample(s, "<think>\n..\n</think>\n[Answer]\nc\nb\na") == 0.0
    assert score_sample(s, s.answer) == 0.0  # gated
    assert score_sample(s, s.answer, think_gate=False) == 1.0
