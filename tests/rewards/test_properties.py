"""Property tests over every task type of the taxonomy: a perfect completion in the task's answer format
scores 1, a shuffled ranking/ordering scores < 1, an empty response scores 0."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from golong_data.rewards import compute_score
from golong_data.taxonomy import load_taxonomy

TAX = load_taxonomy(check_prompts=False)
THINK = "<think>\nThe passage says so.\n</think>\n"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

item = st.text(alphabet=string.ascii_letters + string.digits + " -'", min_size=1, max_size=14).filter(
    lambda s: s.split() != []
)


def norm(s: str) -> str:
    return " ".join(s.lower().split())


def distinct(items: list[str]) -> bool:
    return len({norm(i) for i in items}) == len(items)


def score(task: str, response: str, ground_truth: dict[str, Any], profile: str = "golongrl") -> float:
    route = TAX.tasks[task].route
    return compute_score(route["data_source"], response, ground_truth, {"reward_mode": route["reward_mode"]},
                         profile=profile)


def gt(doc_ids: list[str] | None = None, label: str = "") -> dict[str, Any]:
    return {"doc_ids": doc_ids or [], "golden_label": label, "summary": ""}


LIST_TASKS = ["exhaustive_retrieval", "structured_matching", "graded_ranking", "sequence_ordering"]


@SETTINGS
@given(items=st.lists(item, min_size=2, max_size=12))
def test_gold_list_formatted_scores_one(items: list[str]) -> None:
    assume(distinct(items))
    response = THINK + "[Answer]\n" + "\n".join(items)
    for task in LIST_TASKS:
        assert score(task, response, gt(items)) == 1.0, task
        assert score(task, response, gt(items), profile="strict") == 1.0, task


@SETTINGS
@given(items=st.lists(item, min_size=2, max_size=12), data=st.data())
def test_permutation_scores_below_one(items: list[str], data: st.DataObject) -> None:
    assume(distinct(items))
    perm = data.draw(st.permutations(items))
    assume(perm != items)
    response = THINK + "[Answer]\n" + "\n".join(perm)
    assert score("graded_ranking", response, gt(items)) < 1.0
    assert score("sequence_ordering", response, gt(items)) < 1.0
    assert score("exhaustive_retrieval", response, gt(items)) == 1.0  # sets ignore order


@SETTINGS
@given(label=item, letter=st.sampled_from("ABCD"), n=st.integers(-10**6, 10**6),
       rows=st.lists(st.lists(st.one_of(item, st.integers(-999, 999)), min_size=1, max_size=4), min_size=1,
                     max_size=6))
def test_gold_scalar_answers_score_one(label: str, letter: str, n: int, rows: list[list[Any]]) -> None:
    assert score("precise_retrieval", THINK + label, gt(label=label)) == 1.0
    assert score("comprehension", THINK + f"The correct answer is ({letter})", gt(label=letter)) == 1.0
    assert score("numerical_reasoning", THINK + f"So the total is $\\boxed{{{n}}}$.", gt(label=str(n))) == 1.0
    table = json.dumps({"data": rows})
    assert score("structured_extraction", THINK + f"<answer>{table}</answer>", gt(label=table)) == 1.0


@SETTINGS
@given(words=st.lists(st.sampled_from("anne wentworth walked lyme cobb bath kellynch letter navy".split()),
                      min_size=1, max_size=40))
def test_gold_summary_scores_one_in_strict(words: list[str]) -> None:
    summary = " ".join(words)
    response = THINK + "[Answer]\n" + summary
    # rouge's F = 2PR / (P + R + 1e-8) stays 1e-8 short of 1
    assert abs(score("summarization", response, gt([summary]), profile="strict") - 1.0) < 1e-7
    # golongrl also scores the thinking and the marker, so the same completion scores less
    assert score("summarization", response, gt([summary])) < 1.0


@settings(max_examples=10, deadline=None)
@given(items=st.lists(item, min_size=2, max_size=6), label=item)
def test_empty_response_scores_zero(items: list[str], label: str) -> None:
    for task in TAX.tasks:
        g = gt(items, label=json.dumps({"data": [[label]]}) if task == "structured_extraction" else label)
        for response in ("", THINK, "<think>\n</think>\n[Answer]\n"):
            for profile in ("golongrl", "strict"):
                if task == "summarization" and profile == "golongrl" and response == THINK:
                    # golongrl's ROUGE-L reads the thinking too (the official quirk): a gold sharing a word with
                    # THINK ("so") scores > 0. Found by hypothesis (items=['0', 'SO']): the property is strict's.
                    continue
                assert score(task, response, g, profile) == 0.0, (task, response, profile)
