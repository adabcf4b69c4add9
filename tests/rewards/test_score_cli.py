"""`golong-data score`: our sample records and verl rows (parquet / JSONL), profiles, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from golong_data.cli import app

RANK = {"data_source": "longbench_pro", "reward_mode": "T1.1 Global Cohesive Retrieval"}


def sample(sid: str, task: str, route: dict[str, str], gold: list[str], label: str = "") -> dict[str, Any]:
    return {"id": sid, "task_type": task, "capability": [], "metric": "", "route": route, "prompt": [],
            "ground_truth": {"doc_ids": gold, "golden_label": label, "summary": ""}}


def jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["score", *args])


def test_scores_our_samples_from_a_stage_dir(tmp_path: Path) -> None:
    stage = tmp_path / "verify"
    stage.mkdir()
    jsonl(stage / "verified.jsonl", [
        sample("s1", "precise_retrieval", {"data_source": "EM", "reward_mode": "EM"}, [], "Bath"),
        sample("s2", "graded_ranking", RANK, ["a", "b", "c"]),
    ])
    comps = jsonl(tmp_path / "c.jsonl", [
        {"id": "s1", "completion": "<think>x</think>Bath"},
        {"id": "s1", "completion": "Bath"},  # no </think>: gated to 0
        {"id": "s2", "completion": "<think>x</think>[Answer]\na\nb\nc"},
        {"id": "zz", "completion": "<think>x</think>Bath"},
    ])
    out = tmp_path / "scores.jsonl"
    result = run("--data", str(stage), "--completions", str(comps), "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [
        {"id": "s1", "task_type": "precise_retrieval", "score": 1.0},
        {"id": "s1", "task_type": "precise_retrieval", "score": 0.0},
        {"id": "s2", "task_type": "graded_ranking", "score": 1.0},
    ]
    assert "precise_retrieval" in result.stderr and "0.5000" in result.stderr  # per-task table: mean of 1, 0
    assert "skipped 1 completion" in result.stderr and "zz" in result.stderr

    # --no-think-gate scores the tag-less completion; stdout is the default output
    result = run("--data", str(stage), "--completions", str(comps), "--no-think-gate")
    assert [json.loads(x)["score"] for x in result.stdout.splitlines()] == [1.0, 1.0, 1.0]


def test_scores_verl_parquet_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {"data_source": "longbench_pro", "prompt": [{"role": "user", "content": "q"}], "ability": "long",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": ["a", "b"], "golden_label": "", "summary": ""}},
         "extra_info": {"reward_mode": "T2.1 Global Timeline Reconstruction", "index": 7,
                        "task_type": "sequence_ordering"}},
        {"data_source": "selection", "prompt": [{"role": "user", "content": "q"}], "ability": "long",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": [], "golden_label": "C", "summary": ""}},
         "extra_info": {"reward_mode": "selection", "index": 8, "task_type": "comprehension"}},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "train.parquet")
    comps = jsonl(tmp_path / "c.jsonl", [
        {"id": "7", "completion": "<think>x</think>[Answer]\nb\na"},  # reversed: 0 of 1 pair
        {"id": 7, "completion": "<think>x</think>[Answer]\na\nb"},
        {"id": "8", "completion": "<think>x</think>The correct answer is (C)"},
    ])
    result = run("--data", str(tmp_path), "--completions", str(comps))
    assert result.exit_code == 0, result.output
    assert [json.loads(x) for x in result.stdout.splitlines()] == [
        {"id": "7", "task_type": "sequence_ordering", "score": 0.0},
        {"id": "7", "task_type": "sequence_ordering", "score": 1.0},
        {"id": "8", "task_type": "comprehension", "score": 1.0},
    ]


def test_scores_verl_jsonl_rows_with_sample_id_and_strict_profile(tmp_path: Path) -> None:
    data = jsonl(tmp_path / "rows.jsonl", [{
        "data_source": "longbench_pro",
        "reward_model": {"ground_truth": {"doc_ids": ["a", "b", "c", "d"], "golden_label": "", "summary": ""}},
        "extra_info": {"reward_mode": "T2.1 Global Timeline Reconstruction", "sample_id": "x1", "index": 0},
    }])
    comps = jsonl(tmp_path / "c.jsonl", [{"id": "x1", "completion": "<think>x</think>[Answer]\na\nb"}])
    loose = run("--data", str(data), "--completions", str(comps))
    strict = run("--data", str(data), "--completions", str(comps), "--profile", "strict")
    assert json.loads(loose.stdout)["score"] == 1.0  # omissions ignored (official)
    assert json.loads(strict.stdout)["score"] == 1 / 6  # 1 correct pair of C(4, 2)
    assert json.loads(loose.stdout)["task_type"] == "pairwise"  # no task_type in the row: the metric


def test_errors_are_one_line(tmp_path: Path) -> None:
    data = jsonl(tmp_path / "s.jsonl", [sample("s1", "precise_retrieval", {"data_source": "EM", "reward_mode": "EM"},
                                               [], "Bath")])
    comps = jsonl(tmp_path / "c.jsonl", [{"id": "s1", "completion": "</think>Bath"}])
    r = run("--data", str(data), "--completions", str(comps), "--profile", "lenient")
    assert r.exit_code == 1 and "golongrl" in r.output and "Traceback" not in r.output
    (tmp_path / "bad.jsonl").write_text('{"id": "s1"}\n')
    r = run("--data", str(data), "--completions", str(tmp_path / "bad.jsonl"))
    assert r.exit_code == 1 and "bad.jsonl:1" in r.output
    r = run("--data", str(tmp_path / "nope"), "--completions", str(comps))
    assert r.exit_code == 1 and "not found" in r.output
