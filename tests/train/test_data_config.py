"""Training rows from every input the pipeline writes, the task key, and config validation through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.errors import ConfigError, GolongError
from golong_data.records import write_jsonl
from golong_data.train.config import TrainConfig
from golong_data.train.data import load_rows, task_key
from golong_data.train.toy import make_samples


def test_task_key_is_the_routes_metric_group() -> None:
    # As the official trainer: LongBench-Pro sub-tasks map to their metric, other routes keep their reward_mode.
    assert task_key("longbench_pro", "T4.1 Global-Coverage Constrained Summary") == "Summary"
    assert task_key("longbench_pro", "T1.1 Global Cohesive Retrieval") == "NDCG"
    assert task_key("longbench_pro", "T2.1 Global Timeline Reconstruction") == "Pairwise_Accuracy"
    assert task_key("longbench_pro", "T6.2 Targeted Subset Cluster Identification") == "F1_Score"
    assert task_key("longbench_pro", "T8.2 Single-Source Targeted Aggregation") == "SubEM"
    assert task_key("EM", "EM") == "EM"
    assert task_key("math_longcot_math_verify", "math_verify") == "math_verify"


def test_jsonl_parquet_and_directory_give_the_same_rows(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from golong_data.export.rows import parquet_schema, sample_to_row

    samples = make_samples(6, seed=4)
    write_jsonl(tmp_path / "samples.jsonl", samples)
    export_dir = tmp_path / "export"
    export_dir.mkdir()
    table = pa.Table.from_pylist([sample_to_row(s, i, None) for i, s in enumerate(samples)], schema=parquet_schema())
    pq.write_table(table, export_dir / "train.parquet")

    from_jsonl = load_rows(tmp_path / "samples.jsonl")
    from_parquet = load_rows(export_dir)  # a directory: finds train.parquet
    keys = ["prompt", "data_source", "reward_mode", "task", "task_type", "sample_id"]
    assert [{k: r[k] for k in keys} for r in from_jsonl] == [{k: r[k] for k in keys} for r in from_parquet]
    assert json.loads(from_jsonl[0]["ground_truth"]) == samples[0].ground_truth
    assert from_jsonl[0]["answer"] == samples[0].answer
    assert from_parquet[0]["answer"] == ""  # the export schema carries no gold answer text


def test_missing_or_foreign_data_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(GolongError, match="golong-data export"):
        load_rows(tmp_path / "nope.parquet")
    with pytest.raises(GolongError, match="holds no train.parquet"):
        load_rows(tmp_path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["x"]}), tmp_path / "other.parquet")
    with pytest.raises(GolongError, match="verl schema"):
        load_rows(tmp_path / "other.parquet")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(algo="ppo"), "expected one of: grpo, tmn, tmn-reweight"),
        (dict(backend="slurm"), "expected one of: trl, verl"),
        (dict(model=None), "smollm2-135m"),
        (dict(profile="lenient"), "expected one of: golongrl"),
        (dict(generation="vllm"), "expected one of: default, paged"),
        (dict(eval_split=1.5), "outside"),
        (dict(backend="verl"), "--emit"),
        (dict(num_generations=1), "at least 2"),
        (dict(alpha=1.5), "outside"),
    ],
)
def test_config_validation(kwargs: dict, match: str) -> None:
    base = dict(data=Path("x.parquet"), model="m")
    base.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**base).validate()  # type: ignore[arg-type]


def test_cli_help_comes_from_the_config_and_errors_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for opt in ("--algo", "--data", "--model", "--tiny", "--backend", "--emit", "--resume", "--output-dir",
                "--max-steps", "--num-generations", "--alpha", "--profile", "--no-think-gate", "--eval-split",
                "--eval-data", "--eval-steps", "--generation"):
        assert opt in result.output
    assert "paper: 2e-6" in result.output  # the help text declared on TrainConfig.learning_rate
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "x.parquet"), "--algo", "ppo"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "expected one of: grpo, tmn, tmn-reweight" in result.output


def test_cli_emits_a_verl_run(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "samples.jsonl", make_samples(3))
    result = CliRunner().invoke(app, ["train", "--backend", "verl", "--data", str(tmp_path / "samples.jsonl"),
                                      "--emit", str(tmp_path / "v"), "--algo", "tmn"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v" / "launch.sh").exists()
