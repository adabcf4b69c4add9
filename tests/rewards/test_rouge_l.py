"""ROUGE-L: equal to the `rouge` 1.0.1 package (the official dependency) on real passages, plus quirks."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from golong_data.rewards import compute_score
from golong_data.rewards.rouge_l import ROUGE_MAX_PATH, rouge_l_f

BOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "books"
SUMMARY = {"reward_mode": "T4.1 Global-Coverage Constrained Summary"}


def official_summary(references: list[str], response: str) -> float:
    """long_bench_pro.Summary as the official code runs it, on the real `rouge` package."""
    from rouge import Rouge

    answers = [" ".join(a.lower().split()) for a in references]
    prediction = " ".join(response.lower().split())
    if not answers or not prediction:
        return 0.0
    try:
        scores = Rouge().get_scores([prediction] * len(answers), answers, avg=False)
    except Exception:  # the official bare `except:` (ValueError on empty sides, RecursionError)
        return 0.0
    return max(s["rouge-l"]["f"] for s in scores)


def ours(references: list[str], response: str, profile: str = "golongrl") -> float:
    gt = {"doc_ids": references, "golden_label": "", "summary": ""}
    return compute_score("longbench_pro", response, gt, SUMMARY, profile=profile)


@pytest.fixture(scope="module")
def words() -> list[str]:
    import ebooklib
    from ebooklib import epub
    from lxml import html

    text = []
    for name in ("persuasion.epub", "northangerabbey.epub"):
        book = epub.read_epub(str(BOOKS / name))
        docs = book.get_items_of_type(ebooklib.ITEM_DOCUMENT)
        text += [html.fromstring(i.get_content()).text_content() for i in docs]
    return " ".join(text).split(" ")  # split on ' ' only: keeps newlines/tabs inside tokens, as real text has


def test_equal_to_rouge_package_on_real_passages(words: list[str]) -> None:
    rng = random.Random(20260526)
    n = len(words)
    checked = 0
    for _ in range(300):
        a = rng.randrange(n - 3000)
        think = " ".join(words[a : a + rng.randrange(20, 160)])
        b = a + rng.randrange(0, 600)
        answer = " ".join(words[b : b + rng.randrange(10, 120)])
        refs = [" ".join(words[b + d : b + d + rng.randrange(10, 150)]) for d in (rng.randrange(-50, 50), 700)]
        response = f"<think>\n{think}\n</think>\n[Answer]\n{answer}"
        expected = official_summary(refs, response)
        assert ours(refs, response) == pytest.approx(expected, abs=1e-9), (refs, response)
        checked += expected > 0
    assert checked > 250  # the comparison is not vacuous


@pytest.mark.parametrize(
    ("hyp", "ref"),
    [
        ("a. . b", "a b"),  # a piece of only spaces becomes the one-word sentence ""
        ("mr. darcy. mr. bingley.", "mr darcy and mr bingley"),
        ("x y z", "z y x"),  # LCS ties: the reconstruction's choice decides the union
        ("a b a b a b", "b a b a"),
        ("the cat sat on the mat. it was happy", "the cat was on the mat"),
    ],
)
def test_tokenisation_and_tie_breaking_match_the_package(hyp: str, ref: str) -> None:
    from rouge import Rouge

    assert rouge_l_f(hyp, ref) == pytest.approx(Rouge().get_scores(hyp, ref)[0]["rouge-l"]["f"], abs=1e-12)


def test_hand_derived_value() -> None:
    # hyp sentences [the cat sat on the mat] [it was happy]; ref [the cat was on the mat]
    # union LCS words {the, cat, on, mat} + {was} = 5; m = 5 distinct ref words, n = 8 distinct hyp words
    # R = 1, P = 5/8, F = 2 * (P * R / (P + R + 1e-8))
    p, r = 5 / 8, 1.0
    assert rouge_l_f("the cat sat on the mat. it was happy", "the cat was on the mat") == 2.0 * (p * r / (p + r + 1e-8))


def test_max_over_references_and_empty_sides() -> None:
    resp = "</think>[Answer]\nanne walked to the cobb"
    one = ours(["anne walked to the cobb"], resp, profile="strict")
    assert one == pytest.approx(1.0, abs=1e-7)  # rouge's 1e-8 epsilon keeps F just under 1
    assert ours(["nothing alike here", "anne walked to the cobb"], resp, profile="strict") == one
    assert ours(["..."], resp) == 0.0  # a reference with no sentence: rouge raises -> 0
    assert ours(["anne walked", "..."], resp) == 0.0  # one failing reference zeroes the whole call
    assert ours(["anne"], "</think>...") == 0.0  # response with no sentence


def test_thinking_counts_in_golongrl_not_in_strict() -> None:
    ref = ["captain wentworth returned to kellynch"]
    resp = "<think>\n" + "lots of unrelated reasoning words here " * 20 + "\n</think>\n[Answer]\n" + ref[0]
    golongrl, strict = ours(ref, resp), ours(ref, resp, profile="strict")
    assert golongrl == pytest.approx(official_summary(ref, resp), abs=1e-12)
    assert golongrl < 0.7 < strict


def test_recursion_overflow_quirk() -> None:
    """rouge 1.0.1 recurses once per backtrack step: a ~1200-word sentence overflows and scores 0."""
    ref = ["anne elliot"]
    # the backtrack starts at the END: with the match at the start it walks left through every word
    long_sentence = "anne elliot " + " ".join(f"w{i}" for i in range(ROUGE_MAX_PATH + 240))
    resp = "</think>[Answer]\n" + long_sentence
    assert official_summary(ref, resp) == 0.0  # the package really does fail
    assert ours(ref, resp) == 0.0
    assert ours(ref, resp, profile="strict") > 0.0
    short = "</think>[Answer]\nanne elliot " + " ".join(f"w{i}" for i in range(400))
    expected = official_summary(ref, short)
    assert expected > 0.0
    assert ours(ref, short) == pytest.approx(expected, abs=1e-12)
