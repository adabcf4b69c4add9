"""Hostile responses: every metric returns a float in [0, 1] and never raises (per-call time bounds)."""

from __future__ import annotations

import json

import pytest

from golong_data.rewards import compute_score
from golong_data.taxonomy import load_taxonomy

TAX = load_taxonomy(check_prompts=False)
GT = {
    "doc_ids": ["anne elliot", "captain wentworth", "lyme"],
    "golden_label": "B",
    "summary": "",
}
HOSTILE = {
    "empty": "",
    "1MB newlines": "\n" * 1_000_000,
    "1MB newlines after think": "<think>x</think>" + "\n" * 1_000_000,
    "10K markers": "<think>x</think>" + "[Answer]\n" * 10_000,
    "10K chinese markers": "<think>x</think>" + "[答案]\nlyme\n" * 10_000,
    "invalid json": "<think>x</think><answer>{\"data\": [[1, 2}</answer>",
    "deep json": "<think>x</think><answer>" + "[" * 100_000 + "]" * 100_000 + "</answer>",
    "deep json object": "<think>x</think><answer>{\"data\": " + "[" * 50_000 + "]" * 50_000 + "}</answer>",
    "huge int": "<think>x</think><answer>{\"data\": [[" + "9" * 5000 + "]]}</answer>",
    "deep latex": "<think>x</think>$\\boxed{" + "\\frac{1}{" * 3000 + "2" + "}" * 3000 + "}$",
    "unbalanced latex": "<think>x</think>\\boxed{" + "{" * 5000,
    "nested sqrt": "<think>x</think>$" + "\\sqrt{" * 200 + "2" + "}" * 200 + "$",
    "1MB one sentence": "<think>x</think>[Answer]\n" + "anne " * 200_000,
    "many sentences": "<think>x</think>[Answer]\n" + "anne elliot walked. " * 40_000,
    "nul and controls": "<think>\x00</think>\x00\x1b[31m[Answer]\r\n\u2028lyme\x0b\x0c",
    "lone surrogate": "<think>x</think>[Answer]\n\ud800 lyme",
    "only tags": "</think>",
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("profile", ["golongrl", "strict"])
def test_every_metric_survives_hostile_text(profile: str) -> None:
    for task, spec in TAX.tasks.items():
        g = dict(GT)
        if task == "structured_extraction":
            g["golden_label"] = json.dumps({"data": [["lyme", 1]]})
        elif task == "numerical_reasoning":
            g["golden_label"] = "1/2"
        for name, response in HOSTILE.items():
            s = compute_score(spec.route["data_source"], response, g, {"reward_mode": spec.route["reward_mode"]},
                              profile=profile)
            assert isinstance(s, float) and 0.0 <= s <= 1.0, (task, name, s)


def test_bad_gold_json_scores_zero() -> None:
    g = {"doc_ids": [], "golden_label": "{not json", "summary": ""}
    assert compute_score("multitableqa_pretraining", "</think><answer>{\"data\": []}</answer>", g) == 0.0
