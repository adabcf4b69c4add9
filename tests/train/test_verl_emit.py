"""The verl files: structure, the reward file's scores, and the estimator on tensors (verl is not installable here)."""

from __future__ import annotations

import importlib.util
import json
import py_compile
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from golong_data.records import write_jsonl
from golong_data.rewards import compute_score
from golong_data.train import verl_plugin
from golong_data.train.config import TrainConfig
from golong_data.train.data import load_rows
from golong_data.train.toy import THINK, make_samples
from golong_data.train.verl_emit import emit_verl

FILES = ["data/train.parquet", "golong_reward.py", "golong_tmn_plugin.py", "golong_verl_main.py", "launch.sh",
         "README.md"]


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
        'custom_reward_function.path="$HERE/golong_reward.py"',
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


# --- the estimator, on tensors: verl's calling convention is (bs, T) token-level rewards and a response mask.
def _worked_case_batch() -> dict[str, Any]:
    scores = [1, 0, 0, 0] + [1, 1, 0, 0] + [0.1, 0.2, 0.3, 0.8]
    lengths = [3, 5, 2, 4] * 3
    mask = torch.zeros(12, 6)
    tlr = torch.zeros(12, 6)
    for i, (s, n) in enumerate(zip(scores, lengths, strict=True)):
        mask[i, :n] = 1
        tlr[i, n - 1] = s  # verl puts the outcome reward on the last response token
    extra = [{"reward_mode": "EM"}] * 8 + [{"reward_mode": "T4.1 Global-Coverage Constrained Summary"}] * 4
    return {"tlr": tlr, "mask": mask, "uid": ["u1"] * 4 + ["u2"] * 4 + ["u3"] * 4, "extra": extra,
            "source": ["EM"] * 8 + ["longbench_pro"] * 4}


@pytest.fixture
def fake_verl(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """Stand-ins for verl.trainer.ppo.core_algos / ray_trainer with upstream's calling convention."""
    registry: dict[str, Any] = {}

    def register_adv_est(name: str) -> Any:
        def deco(fn: Any) -> Any:
            registry[name] = fn
            return fn
        return deco

    def compute_advantage(data: Any, adv_estimator: str, **kwargs: Any) -> Any:
        # upstream: registered estimators get rewards, mask, config and the uid -- no task key
        fn = registry[adv_estimator]
        adv, ret = fn(token_level_rewards=data.batch["token_level_rewards"], response_mask=data.batch["response_mask"],
                      index=data.non_tensor_batch["uid"], config=None)
        data.batch["advantages"] = adv
        return data

    core_algos = types.ModuleType("verl.trainer.ppo.core_algos")
    core_algos.ADV_ESTIMATOR_REGISTRY = registry  # type: ignore[attr-defined]
    core_algos.register_adv_est = register_adv_est  # type: ignore[attr-defined]
    ray_trainer = types.ModuleType("verl.trainer.ppo.ray_trainer")
    ray_trainer.compute_advantage = compute_advantage  # type: ignore[attr-defined]
    ppo = types.ModuleType("verl.trainer.ppo")
    ppo.core_algos, ppo.ray_trainer = core_algos, ray_trainer  # type: ignore[attr-defined]
    for name, mod in {"verl": types.ModuleType("verl"), "verl.trainer": types.ModuleType("verl.trainer"),
                      "verl.trainer.ppo": ppo, "verl.trainer.ppo.core_algos": core_algos,
                      "verl.trainer.ppo.ray_trainer": ray_trainer}.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return types.SimpleNamespace(registry=registry, ray_trainer=ray_trainer)


def test_plugin_installs_and_matches_the_worked_case(fake_verl: types.SimpleNamespace, emitted: Path) -> None:
    plugin = _load(emitted / "golong_tmn_plugin.py")
    plugin.install()
    plugin.install()  # idempotent: one registration, one wrapper
    assert fake_verl.registry["golong_tmn"] is verl_plugin.golong_tmn_advantage
    b = _worked_case_batch()
    data = types.SimpleNamespace(
        batch={"token_level_rewards": b["tlr"], "response_mask": b["mask"]},
        non_tensor_batch={"uid": b["uid"], "extra_info": b["extra"], "data_source": b["source"]},
        meta_info={},
    )
    out = fake_verl.ray_trainer.compute_advantage(data, adv_estimator="golong_tmn")
    adv = out.batch["advantages"]
    assert adv.shape == (12, 6)
    assert torch.equal(adv * (1 - b["mask"]), torch.zeros(12, 6))  # nothing outside the response
    per_response = adv[:, 0].tolist()  # the scalar is broadcast over the response tokens
    expected = ([1.783162] + [-0.360514] * 3 + [0.925818] * 2 + [-0.925818] * 2
                + [-0.626220, -0.375732, -0.125244, 1.858431])
    assert per_response == pytest.approx(expected, abs=1e-5)
    assert out.meta_info["golong_tmn_metrics"]["sigma/EM"] == pytest.approx((7 / 24) ** 0.5)
    assert verl_plugin._CURRENT["tasks"] is None  # handed over for this call only


def test_plugin_settings_and_errors(fake_verl: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    verl_plugin.install()
    b = _worked_case_batch()
    monkeypatch.setenv("GOLONG_TMN_ALGO", "grpo")
    data = types.SimpleNamespace(batch={"token_level_rewards": b["tlr"], "response_mask": b["mask"]},
                                 non_tensor_batch={"uid": b["uid"], "reward_mode": ["EM"] * 12}, meta_info={})
    adv = fake_verl.ray_trainer.compute_advantage(data, adv_estimator="golong_tmn").batch["advantages"]
    assert adv[0, 0].item() == pytest.approx(1.5, abs=1e-5)  # P1 under GRPO: 0.75 / 0.5
    # Called without the hook (e.g. stock main_ppo): a clear error, not silent GRPO.
    with pytest.raises(RuntimeError, match="golong_verl_main.py"):
        verl_plugin.golong_tmn_advantage(b["tlr"], b["mask"], b["uid"])
    with pytest.raises(ValueError, match="reward_mode"):
        verl_plugin.batch_task_keys({"uid": b["uid"]})


def test_emit_from_parquet_copies_it(emitted: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    lines = emit_verl(TrainConfig(data=emitted / "data", backend="verl", emit=out, algo="tmn").validate())
    assert (out / "data" / "train.parquet").read_bytes() == (emitted / "data" / "train.parquet").read_bytes()
    assert "ALGO=tmn " in (out / "launch.sh").read_text()
    assert "12 rows" in lines[0]
    json.dumps(lines)
