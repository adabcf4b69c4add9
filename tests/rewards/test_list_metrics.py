"""F1, SubEM, NDCG and Pairwise (long_bench_pro.py semantics): hand-derived values and every quirk."""

from __future__ import annotations

import math
from typing import Any

import pytest

from golong_data.rewards import compute_score

F1 = {"reward_mode": "T6.2 Targeted Subset Cluster Identification"}
SUBEM = {"reward_mode": "T8.2 Single-Source Targeted Aggregation"}
NDCG = {"reward_mode": "T1.1 Global Cohesive Retrieval"}
PAIR = {"reward_mode": "T2.1 Global Timeline Reconstruction"}
L3 = math.log2(3)

THINK = "<think>\nLet me look through the text.\n</think>\n"


def gt(doc_ids: list[str] | None = None, label: str = "", summary: str = "") -> dict[str, Any]:
    return {"doc_ids": doc_ids or [], "golden_label": label, "summary": summary}


def lines(*items: str) -> str:
    return THINK + "[Answer]\n" + "\n".join(items)



def score(mode: dict[str, str], response: str, gold: list[str], profile: str = "golongrl") -> float:
    return compute_score("longbench_pro", response, gt(gold), mode, profile=profile)


# ---------------------------------------------------------------- answer area and normalisation
def test_marker_fallbacks() -> None:
    gold = ["emma"]
    assert score(F1, THINK + "[Answer]\nx\n[Answer]\nemma", gold) == 1.0  # last [Answer] wins
    assert score(F1, THINK + "[答案]\nemma", gold) == 1.0  # Chinese marker
    assert score(F1, THINK + "[答案]\nx\n[Answer]\nemma", gold) == 1.0  # [Answer] preferred over [答案]
    # A lowercase marker is no marker: the whole response, thinking included, is the answer area (official
    # quirk). Lines: "<think>", "let me look through the text.", "</think>", "[answer]", "emma":
    # P 1/5, R 1 -> F1 = 2 * .2 / 1.2 = 1/3; with gold {emma, x}: R 1/2 -> 2 * .1 / .7
    assert score(F1, THINK + "[answer]\nemma", gold) == pytest.approx(1 / 3)
    assert score(F1, THINK + "[answer]\nemma", ["emma", "x"]) == pytest.approx(2 * 0.2 * 0.5 / 0.7)


def test_thinking_fallback_quirk_and_strict_fix() -> None:
    resp = "<think>\nemma\n</think>\nharriet"  # no marker
    # golongrl: lines {<think>, emma, </think>, harriet}; gold {emma}: P = 1/4, R = 1 -> F1 = 0.4
    assert score(F1, resp, ["emma"]) == pytest.approx(0.4)
    # strict: only the text after </think>: {harriet} -> 0
    assert score(F1, resp, ["emma"], profile="strict") == 0.0


def test_case_and_whitespace_are_normalised() -> None:
    assert score(F1, lines("  Mr.   KNIGHTLEY \t"), ["mr. knightley"]) == 1.0
    assert score(F1, lines("mr. knightley"), ["  Mr.\tKnightley "]) == 1.0
    assert score(F1, lines("mr.knightley"), ["mr. knightley"]) == 0.0  # spaces are not removed


def test_blank_lines_count_as_items_in_golongrl() -> None:
    resp = lines("emma", "", "harriet")
    # P = 2/3 ({emma, "", harriet}), R = 1 -> F1 = 0.8
    assert score(F1, resp, ["emma", "harriet"]) == pytest.approx(0.8)
    assert score(F1, resp, ["emma", "harriet"], profile="strict") == 1.0


# ---------------------------------------------------------------- F1
@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        (["emma", "harriet", "frank"], ["emma", "harriet", "jane"], 2 / 3),  # P = R = 2/3
        (["emma"], ["emma", "harriet", "jane", "frank"], 0.4),  # P 1, R 1/4 -> 2*.25/1.25
        (["emma", "emma", "emma"], ["emma", "harriet"], 2 / 3),  # duplicates collapse: P 1, R 1/2
        (["x"], ["emma"], 0.0),
    ],
)
def test_f1(pred: list[str], gold: list[str], expected: float) -> None:
    assert score(F1, lines(*pred), gold) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- SubEM
def test_subem_ignores_extra_lines_and_counts_gold_duplicates() -> None:
    assert score(SUBEM, lines("bath", "x", "y"), ["bath", "lyme"]) == 0.5
    assert score(SUBEM, lines("bath", "lyme", "x", "y"), ["bath", "lyme"]) == 1.0  # extras not penalised
    assert score(SUBEM, lines("bath", "lyme", "x", "y"), ["bath", "lyme"], profile="strict") == 0.5  # 2 / 4
    assert score(SUBEM, lines("bath"), ["bath", "bath", "lyme"]) == pytest.approx(2 / 3)  # gold list, not set
    assert score(SUBEM, lines("bath", "bath"), ["bath", "lyme"], profile="strict") == 0.5  # 1 / max(2, 1)


# ---------------------------------------------------------------- NDCG (trec_eval ndcg_cut.k, linear gain)
IDCG3 = 3 + 2 / L3 + 1 / 2  # grades 3, 2, 1 at ranks 1, 2, 3 (discount log2(rank + 1))


@pytest.mark.parametrize(
    ("pred", "gold", "expected"),
    [
        (["a", "b", "c"], ["a", "b", "c"], 1.0),
        (["c", "b", "a"], ["a", "b", "c"], (1 + 2 / L3 + 3 / 2) / IDCG3),
        (["b", "a", "c"], ["a", "b", "c"], (2 + 3 / L3 + 1 / 2) / IDCG3),
        (["x", "a"], ["a", "b", "c"], (3 / L3) / IDCG3),
        (["a", "b", "x"], ["a", "b"], 1.0),  # cut at k = 2
        (["x", "y", "a", "b"], ["a", "b"], 0.0),  # gold beyond rank k do not count
        # a repeated line ranks at its LAST position: a,b,a -> ranking b, a
        (["a", "b", "a"], ["a", "b"], (1 + 2 / L3) / (2 + 1 / L3)),
        # a repeated gold item keeps its last grade: grades a=1, b=2, k = 3; ranking a, b
        (["a", "b"], ["a", "b", "a"], (1 + 2 / L3) / (2 + 1 / L3)),
    ],
)
def test_ndcg_hand_values(pred: list[str], gold: list[str], expected: float) -> None:
    assert score(NDCG, lines(*pred), gold) == pytest.approx(expected, abs=1e-12)


def test_ndcg_matches_pytrec_eval_when_available() -> None:
    """Cross-check with trec_eval itself (the official dependency) on random rankings, if installed."""
    pytrec_eval = pytest.importorskip("pytrec_eval")
    import random

    rng = random.Random(7)
    for _ in range(300):
        gold = rng.sample("abcdefghij", rng.randint(1, 8))
        pred = [rng.choice("abcdefghijxyz") for _ in range(rng.randint(1, 12))]
        k = len(gold)
        qrels = {"q": {a: len(gold) - i for i, a in enumerate(gold)}}
        run = {"q": {p: len(pred) - i for i, p in enumerate(pred)}}
        ref = pytrec_eval.RelevanceEvaluator(qrels, {f"ndcg_cut.{k}"}).evaluate(run)["q"][f"ndcg_cut_{k}"]
        assert score(NDCG, lines(*pred), gold) == pytest.approx(ref, abs=1e-12), (gold, pred)


# ---------------------------------------------------------------- Pairwise
@pytest.mark.parametrize(
    ("pred", "gold", "golongrl", "strict"),
    [
        (["a", "b", "c", "d"], ["a", "b", "c", "d"], 1.0, 1.0),
        (["b", "a", "c"], ["a", "b", "c"], 2 / 3, 2 / 3),  # (a,c), (b,c) of C(3,2)
        (["a", "b"], ["a", "b", "c", "d"], 1.0, 1 / 6),  # omissions ignored / penalised: 1 of C(4,2)
        (["a", "x", "b"], ["a", "b"], 1 / 3, 1 / 3),  # extra line enlarges the denominator: 1 of C(3,2)
        (["a", "b", "a"], ["a", "b"], 0.0, 1.0),  # 'a' sits at its last position (2) > b (1); strict dedupes
        (["a", "b"], ["a", "b", "b"], 0.0, 1.0),  # 2 correct / 1 pair = 2 > 1 -> official assert -> 0
        (["a"], ["a", "b"], 0.0, 0.0),  # <= 1 predicted item
        (["a", "b"], ["a"], 0.0, 0.0),  # <= 1 gold item
    ],
)
def test_pairwise(pred: list[str], gold: list[str], golongrl: float, strict: float) -> None:
    assert score(PAIR, lines(*pred), gold) == pytest.approx(golongrl, abs=1e-12)
    assert score(PAIR, lines(*pred), gold, profile="strict") == pytest.approx(strict, abs=1e-12)


def test_pairwise_counts_blank_lines_in_golongrl() -> None:
    # lines a, "", b: 1 correct pair of C(3, 2) = 3
    assert score(PAIR, lines("a", "", "b"), ["a", "b"]) == pytest.approx(1 / 3)
    assert score(PAIR, lines("a", "", "b"), ["a", "b"], profile="strict") == 1.0


def test_non_string_gold_items_score_zero() -> None:
    # The official code lowercases each gold item inside its try block: an int raises and scores 0.
    assert compute_score("longbench_pro", lines("1", "2"), {"doc_ids": [1, 2], "golden_label": "", "summary": ""},
                         F1) == 0.0
