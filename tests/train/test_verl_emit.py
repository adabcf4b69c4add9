"""The verl files without verl: structure, the script's settings, the reward file's scores. The same files against
the real verl 0.9.1 (its config, compute_advantage, reward managers, RLHFDataset): tests/scale/test_verl.py."""

from __future__ import annotations

import importlib.util
import json
import py_compile
import subprocess
import types
from pathlib import Path

import pytest

from golong_data.records import write_jsonl
from golong_data.rewards import compute_score
from golong_data.train.config import TrainConfig
from golong_data.train.data import load_rows
from golong_data.train.toy import THINK, make_samples
from golong_data.train.verl_emit import emit_verl

FILES = ["data/train.parquet", "golong_reward.py", "launch.sh", "README.md"]


@pytest.fixture
def emitted(tmp_path: Path) -> Path:
    data = tmp_path / "samples.jsonl"
    write_jsonl(data, make_samples(12, seed=1))
    out = tmp_path / "verl"
    emit_verl(TrainConfig(data=data, backend="verl", emit=out).validate())
    return out


def _load(path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_files_exist_and_compile(emitted: Path) -> None:
    for name in FILES:
        assert (emitted / name).is_file(), name
    for name in FILES:
        if name.endswith(".py"):
            py_compile.compile(str(emitted / name), doraise=True)
    subprocess.run(["bash", "-n", str(emitted / "launch.sh")], check=True)


def test_launch_script_names_the_papers_settings(emitted: Path) -> None:
    sh = (emitted / "launch.sh").read_text()
    for setting in [
        "actor_rollout_ref.actor.optim.lr=2e-06",
        "actor_rollout_ref.rollout.n=16",
        "actor_rollout_ref.actor.clip_ratio_low=0.2",
        "actor_rollout_ref.actor.clip_ratio_high=0.28",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "algorithm.kl_ctrl.kl_coef=0.0",
        "actor_rollout_ref.rollout.temperature=1.0",
        "actor_rollout_ref.actor.loss_agg_mode=token-mean",
        "algorithm.adv_estimator=golong_tmn",
        "algorithm.adv_estimator=tmn_grpo",
        "+algorithm.difficulty_smooth_alpha=$ALPHA",
        'reward.custom_reward_function.path="$HERE/golong_reward.py"',
        "trainer.use_v1=False",
        "+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=golong_data.train.verl_plugin.install",
        "ray start --head",
    ]:
        assert setting in sh, setting
    assert "ALPHA=0.8" in sh and "ALGO=tmn-reweight" in sh


def test_reward_file_scores_like_the_library(emitted: Path) -> None:
    mod = _load(emitted / "golong_reward.py")
    for s in make_samples(6, seed=2):
        extra = {"reward_mode": s.route["reward_mode"]}
        for text in (THINK + s.answer, THINK + "wrong", "no think"):
            ours = mod.compute_score(s.route["data_source"], text, s.ground_truth, extra)
            assert ours == compute_score(s.route["data_source"], text, s.ground_truth, extra)
        assert mod.compute_score(s.route["data_source"], THINK + s.answer, s.ground_truth, extra) == 1.0


def test_parquet_holds_verl_rows(emitted: Path) -> None:
    import pyarrow.parquet as pq

    rows = pq.read_table(emitted / "data" / "train.parquet").to_pylist()
    assert len(rows) == 12
    assert rows[0]["reward_model"]["style"] == "rule"
    assert set(rows[0]["extra_info"]) >= {"reward_mode", "question", "index", "task_type", "sample_id"}
    tasks = {r["task"] for r in load_rows(emitted / "data" / "train.parquet")}
    assert tasks == {"EM", "selection", "math_verify", "Pairwise_Accuracy", "F1_Score", "SubEM"}


def test_emit_from_parquet_copies_it(emitted: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    lines = emit_verl(TrainConfig(data=emitted / "data", backend="verl", emit=out, algo="tmn").validate())
    assert (out / "data" / "train.parquet").read_bytes() == (emitted / "data" / "train.parquet").read_bytes()
    assert "ALGO=tmn " in (out / "launch.sh").read_text()
    assert "12 rows" in lines[0]
    json.dumps(lines)
