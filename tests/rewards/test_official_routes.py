"""The router is total over the official default_compute_score (issue 16): every route it scores scores the
same here, every row it raises on scores 0.0 with one warning per route, or an error under strict_routes.

Expected values are worked out by hand from the official modules' rules (Train/verl/verl/utils/reward_score in
github.com/xiaoxuanNLP/GoLongRL), cited per case.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.errors import ConfigError
from golong_data.rewards import compute_score, router

T = "<think>reading</think>"


def gt(label: Any = "", doc_ids: Any = None, summary: str = "") -> dict[str, Any]:
    return {"doc_ids": [] if doc_ids is None else doc_ids, "golden_label": label, "summary": summary}


def scored(ds: str, resp: str, g: Any, extra: Any = None) -> float:
    """The score, asserting no warning: a row the official router scores must not be flagged."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = compute_score(ds, resp, g, extra)
    assert compute_score(ds, resp, g, extra, strict_routes=True) == s
    return s


def unscorable(ds: str, resp: str, g: Any, extra: Any = None, match: str = "") -> None:
    router._warned.clear()  # each case's own warning (once per route is tested on its own)
    with pytest.warns(RuntimeWarning, match=match):
        assert compute_score(ds, resp, g, extra) == 0.0
    with pytest.raises(ConfigError, match=match):
        compute_score(ds, resp, g, extra, strict_routes=True)


# ---------------------------------------------------------------- the gate comes first, on every route


@pytest.mark.parametrize("ds", ["EM", "openai/gsm8k", "no_such_source", "math_stem", "apps"])
def test_failed_think_gate_is_zero_on_any_data_source(ds: str) -> None:
    # official: `if "</think>" not in solution_str: return PENALTY` before any routing
    assert scored(ds, "#### 7 \\boxed{7} Bath", gt("Bath")) == 0.0
    assert scored(ds, "<think>a</think><think>b</think>Bath", gt("Bath")) == 0.0


# ---------------------------------------------------------------- the official legacy routes


@pytest.mark.parametrize(
    ("resp", "truth", "want"),
    [
        (T + "so #### 1,234", "1234", 1.0),  # commas dropped, string compare
        (T + "so #### 1234.", "1234", 0.0),  # the regex keeps the trailing dot: "1234." != "1234"
        (T + "#### 72", 72, 0.0),  # an int ground truth never equals the extracted string
        (T + "72", "72", 0.0),  # strict: no "#### " marker
        (T + "#### 5" + "x" * 300, "5", 0.0),  # only the last 300 characters are searched
    ],
)
def test_gsm8k(resp: str, truth: Any, want: float) -> None:
    assert scored("openai/gsm8k", resp, truth) == want


@pytest.mark.parametrize(
    ("resp", "truth", "want"),
    [
        (T + "\\boxed{\\dfrac12}", "\\frac{1}{2}", 1.0),  # dfrac -> frac, \frac12 -> \frac{1}{2}
        (T + "\\boxed{0.5}", "\\frac{1}{2}", 1.0),  # "0.5" is rewritten to \frac{1}{2}
        (T + "\\boxed{3/4}", "\\frac{3}{4}", 1.0),  # a/b -> \frac{a}{b}
        (T + "\\boxed{k = 3}", "3", 1.0),  # a short "k =" prefix is dropped
        (T + "\\boxed{5\\text{ cm}}", "5", 1.0),  # units after "\text{ " are dropped
        (T + "\\fbox{3}", "3", 0.0),  # found, but remove_boxed asserts \boxed{: error -> 0
        (T + "\\boxed 7$ and more", "7", 1.0),  # the "\boxed " form runs to the next $
        (T + "\\boxed{3}", {"golden_label": "3"}, 0.0),  # strip_string fails on a dict: raw equality, False
        (T + "no box", "3", 0.0),
    ],
)
def test_hendrycks_math(resp: str, truth: Any, want: float) -> None:
    for ds in ("lighteval/MATH", "DigitalLearningGmbH/MATH-lighteval", "HuggingFaceH4/MATH-500"):
        assert scored(ds, resp, truth) == want


@pytest.mark.parametrize(
    ("resp", "truth", "want"),
    [
        (T + "Answer: 3 dollars", "3", 1.0),  # units removed
        (T + "Answer: $1,000$", "1000", 1.0),  # $...$ kept inside, digits lose their commas
        (T + "answer : x = 7\nthen", "7", 1.0),  # case-insensitive, right side of '='
        (T + "Answer: 7\nAnswer: 8", "7", 0.0),  # the LAST answer line counts
        (T + "\\boxed{7}", "7", 0.0),  # no "Answer:" line: [INVALID]
    ],
)
def test_minerva_routes(resp: str, truth: str, want: float) -> None:
    for ds in ("math_dapo", "math", "math_dapo_reasoning", "math_longcot"):
        assert scored(ds, resp, truth) == want


def test_minerva_with_a_non_string_truth_is_unscorable() -> None:
    unscorable("math_dapo", T + "Answer: 7", {"golden_label": "7"}, match="math_dapo")


def test_math_verify_routes_take_every_gold_candidate() -> None:
    # math_verify_from_sky: a string gold becomes [gold]; a list is a list of candidates
    assert scored("math_dapo_math_verify", T + "so \\boxed{7}", "7") == 1.0
    assert scored("math_dapo_math_verify", T + "so \\boxed{7}", ["3", "7"]) == 1.0
    assert scored("math_longcot_math_verify", T + "so \\boxed{3}", gt(["7", "3"])) == 1.0  # a list golden_label
    assert scored("math_longcot_math_verify", T + "so \\boxed{3}", "3") == 1.0  # a bare string ground truth
    # an int golden_label reaches `parsed[1] in 7` (TypeError) once the response parses
    unscorable("math_longcot_math_verify", T + "so \\boxed{7}", gt(7), match="neither a string")
    # ...but a response with nothing to parse returns 0 before the gold is touched
    assert scored("math_longcot_math_verify", T + "", gt(7)) == 0.0


def test_aime_and_math_hash_routes_use_math_metric() -> None:
    assert scored("aime24", T + "the answer is \\boxed{\\frac{1}{2}}", "0.5") == 1.0
    assert scored("MATH##algebra", T + "\\boxed{3}", "4") == 0.0
    unscorable("aime24", T + "\\boxed{3}", ["3"], match="not a string")


def test_retrieval_calculate() -> None:
    good = T + "<relevant_doc_ids><|doc_1|> <|doc_2|></relevant_doc_ids><continue_reasoning>so \\boxed{7}" \
               "</continue_reasoning>"
    truth = gt("7", ["<|doc_2|>", "<|doc_1|>"])
    assert scored("retrieval_calculate", good, truth) == 1.0  # same id set, math_verify passes
    assert scored("retrieval_calculate", good, gt("8", ["<|doc_1|>", "<|doc_2|>"])) == 0.0
    assert scored("retrieval_calculate", good, gt("7", ["<|doc_1|>"])) == 0.0  # sets differ
    assert scored("retrieval_calculate", good, [gt("0"), truth]) == 1.0  # a list: its last element
    # no ids or no reasoning: 0 before the ground truth is read (a malformed one is never touched)
    assert scored("retrieval_calculate", T + "<continue_reasoning>7</continue_reasoning>", "junk") == 0.0
    unscorable("retrieval_calculate", good, "junk", match="doc_ids")


def test_model_verify_family() -> None:
    mv = {"reward_mode": "math_verify", "ground_truth": "Bath"}
    assert scored("model_verify_x", T + "Bath", gt("Bath"), mv) == 1.0  # exact match of extra_info.ground_truth
    assert scored("model_verify_x", T + "\\boxed{7}", "7", mv) == 1.0  # else math_verify on ground_truth
    judge = {"reward_mode": "model_judge", "ground_truth": "Bath"}
    assert scored("retrieval_model_judge", T + "Bath", gt("Bath"), judge) == 1.0
    unscorable("retrieval_model_judge", T + "Lyme", gt("Bath"), judge, match="remote judge")
    unscorable("model_verify_x", T + "Bath", gt("Bath"), None, match="reward_mode")


def test_search_r1_em() -> None:
    assert scored("searchR1_nq", T + "<answer>The Eiffel  Tower!</answer>", {"target": ["eiffel tower"]}) == 1.0
    assert scored("searchR1_nq", T + "<answer>Paris</answer>" * 11, {"target": "paris"}) == 0.25
    assert scored("searchR1_nq", T + "no tags", {}) == 0.0
    unscorable("searchR1_nq", T + "<answer>x</answer>", {"target": 5}, match="strings")


@pytest.mark.parametrize(("ds", "why"), [("math_stem", "math_stem"), ("numina_olympiads", "prime_math"),
                                          ("apps", "code execution"), ("hiyouga/geometry3k", "geometry3k"),
                                          ("gsm8k", "no reward for data_source")])
def test_routes_not_scored_here_are_zero_with_a_warning(ds: str, why: str) -> None:
    unscorable(ds, T + "x", "x", match=why)


def test_one_warning_per_route_per_process() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            compute_score("no_such_source", T + "x", gt("x"))
            compute_score("other_source", T + "x", gt("x"))
    assert len(caught) == 2 and "no_such_source" in str(caught[0].message)


# ---------------------------------------------------------------- malformed ground truth on GoLongRL's routes


def test_em_and_selection_need_a_string_golden_label() -> None:
    # EM_judge: ground_truth["golden_label"].strip() -> a string ground truth (TypeError) or a list label
    # (AttributeError) raise officially
    unscorable("EM", T + "Bath", "Bath", match="golden_label")
    unscorable("EM", T + "Bath", gt(["Bath"]), match="golden_label")
    # multi_choices: extract_answer(label) runs before anything else
    unscorable("selection", T + "The correct answer is (B)", gt(None), match="golden_label")
    unscorable("EM", T + "Bath", [], match="empty ground_truth")


def test_multitableqa_gold_data_as_string_or_dict_counts_as_officially() -> None:
    resp = T + '<answer>{"data": ["a", "b"]}</answer>'
    # a "data" string is its characters, a dict its keys (Counter over whatever is there)
    assert scored("multitableqa_pretraining", resp, gt('{"data": "ab"}')) == 1.0
    assert scored("multitableqa_pretraining", resp, gt('{"data": {"a": 1, "c": 2}}')) == 1 / 3
    # a ground truth without golden_label is the gold object itself; a bare string is no rows
    assert scored("multitableqa_pretraining", resp, {"data": [["a"], "b"]}) == 1 / 3
    assert scored("multitableqa_pretraining", resp, '{"data": ["a", "b"]}') == 0.0
    assert scored("multitableqa_pretraining", resp, gt(["not", "json"])) == 0.0  # json.loads(list): TypeError -> 0
    unscorable("multitableqa_pretraining", resp, gt('{"data": 5}'), match='"data" is int')


def test_longbench_pro_malformed_rows() -> None:
    # the empty-gold check comes before the subtask lookup
    assert scored("longbench_pro", T + "[Answer]\na", gt("", []), {"reward_mode": "T99 Nope"}) == 0.0
    unscorable("longbench_pro", T + "[Answer]\na", gt("", ["a"]), {"reward_mode": "T99 Nope"}, match="T99")
    unscorable("longbench_pro", T + "[Answer]\na", {"doc_ids": ["a"]}, {"reward_mode": "T3.2 Single-Hop Fact QA"},
               match="summary")


def test_chinese_summary_scores_with_jieba() -> None:
    # (a) of the issue: a Chinese T4.x row raised ConfigError when jieba was not installed
    ref = "这本书讲述了一个年轻女子在乡村的生活和她的婚姻选择。"
    mode = {"reward_mode": "T4.1 Global-Coverage Constrained Summary"}
    # 0.7999999952 from the official code on this row (thinking and [Answer] marker are words to ROUGE-L)
    assert scored("longbench_pro", T + "[Answer]\n" + ref, gt("", [ref], "Chinese"), mode) == pytest.approx(0.8)


def test_without_jieba_a_chinese_summary_is_zero_with_a_warning_not_an_exception(monkeypatch: Any) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "jieba", None)  # `import jieba` now raises ImportError
    mode = {"reward_mode": "T4.1 Global-Coverage Constrained Summary"}
    unscorable("longbench_pro", T + "[Answer]\n他去了北京。", gt("", ["他去了北京。"], "Chinese"), mode, match="jieba")


# ---------------------------------------------------------------- `score` over official parquet rows

ROWS: list[tuple[str, Any, dict[str, Any], str, float]] = [
    # (data_source, ground_truth, extra_info, completion, official score)
    ("EM", gt("Bath"), {"reward_mode": "EM"}, T + "Bath", 1.0),
    ("selection", gt("C"), {"reward_mode": "selection"}, T + "The correct answer is (C)", 1.0),
    ("math_longcot_math_verify", gt("7"), {"reward_mode": "math_verify"}, T + "\\boxed{7}", 1.0),
    ("multitableqa_pretraining", gt('{"data": [["a", "1"]]}'), {"reward_mode": "iou"},
     T + '<answer>{"data": [["a", 1]]}</answer>', 1.0),
    ("longbench_pro", gt("", ["x", "y"]), {"reward_mode": "T2.1 Global Timeline Reconstruction"},
     T + "[Answer]\nx\ny", 1.0),
    ("longbench_pro", gt("", ["他去了北京。"], "Chinese"), {"reward_mode": "T4.2 Query-Focused Summary"},
     T + "[Answer]\n他去了北京。", 0.55555555154321),  # golongrl: ROUGE-L over the whole response (value run
    # through the official long_bench_pro.compute_score: the thinking and the marker count as words)
    ("retrieval_calculate", gt("7", ["<|doc_3|>"]), {"reward_mode": "retrieval_calculate"},
     T + "<relevant_doc_ids><|doc_3|></relevant_doc_ids><continue_reasoning>\\boxed{7}</continue_reasoning>", 1.0),
    ("model_verify", gt("7"), {"reward_mode": "math_verify", "ground_truth": "7"}, T + "7", 1.0),
]
LEGACY_ROWS = [  # string ground truths: another parquet file (a column holds one type)
    ("openai/gsm8k", "1234", {"reward_mode": "gsm8k"}, T + "#### 1,234", 1.0),
    ("lighteval/MATH", "\\frac{1}{2}", {"reward_mode": "math"}, T + "\\boxed{0.5}", 1.0),
    ("math_dapo", "3", {"reward_mode": "math"}, T + "Answer: 3 dollars", 1.0),
    ("aime24", "0.5", {"reward_mode": "math"}, T + "\\boxed{\\frac{1}{2}}", 1.0),
    ("math_dapo", "3", {"reward_mode": "math"}, "Answer: 3", 0.0),  # no </think>
]


def write_parquet(path: Path, rows: list[tuple[str, Any, dict[str, Any], str, float]], start: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = [{"data_source": ds, "prompt": [{"role": "user", "content": "q"}], "ability": "long",
              "reward_model": {"style": "rule", "ground_truth": g}, "extra_info": {**e, "index": start + i}}
             for i, (ds, g, e, _, _) in enumerate(rows)]
    pq.write_table(pa.Table.from_pylist(table), path)


def test_score_on_official_parquet_rows_never_raises(tmp_path: Path) -> None:
    write_parquet(tmp_path / "a.parquet", ROWS, 0)
    write_parquet(tmp_path / "b.parquet", LEGACY_ROWS, 100)
    comps = [{"id": i, "completion": c} for i, (_, _, _, c, _) in enumerate(ROWS)]
    comps += [{"id": 100 + i, "completion": c} for i, (_, _, _, c, _) in enumerate(LEGACY_ROWS)]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(c) + "\n" for c in comps))
    args = ["score", "--data", str(tmp_path), "--completions", str(tmp_path / "c.jsonl"), "--strict-routes"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    got = [json.loads(x)["score"] for x in r.stdout.splitlines() if x.startswith("{")]
    assert got == [w for *_, w in ROWS] + [w for *_, w in LEGACY_ROWS]


def test_score_strict_routes_stops_on_a_row_the_official_router_cannot_score(tmp_path: Path) -> None:
    rows = [("numina_olympiads", "3", {"reward_mode": "math"}, T + "\\boxed{3}", 0.0)]
    write_parquet(tmp_path / "a.parquet", rows, 0)
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": 0, "completion": T + "\\boxed{3}"}) + "\n")
    base = ["score", "--data", str(tmp_path), "--completions", str(tmp_path / "c.jsonl")]
    loose = CliRunner().invoke(app, base)
    assert loose.exit_code == 0 and json.loads(loose.stdout.splitlines()[0])["score"] == 0.0
    strict = CliRunner().invoke(app, [*base, "--strict-routes"])
    assert strict.exit_code == 1 and "numina_olympiads" in strict.output and "Traceback" not in strict.output
