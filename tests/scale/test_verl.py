"""The emitted verl job against the real verl 0.9.1 (installed by `make test-scale` into .venv-scale; skipped
where verl is not installed, failed instead when GOLONG_REQUIRE_VERL=1, as `make test-scale` sets).

- launch.sh, run with PYTHON pointing at verl_capture.py, goes through verl's own main_ppo entry point: hydra
  composes verl's config with every override (an unknown key is an error there), verl validates it, and the
  paper's settings are read back from the dataclasses verl builds from that config.
- verl's run_ppo starts Ray with the emitted runtime_env: the setup hook installs golong_tmn in the worker that
  would train, with the settings in its environment.
- verl's compute_advantage runs golong_tmn on a DataProto; verl's naive and dapo reward managers, loaded by verl
  from reward.custom_reward_function, score like `golong-data score`; RLHFDataset reads the exported parquet.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

try:
    import verl
except ImportError:
    if os.environ.get("GOLONG_REQUIRE_VERL"):
        raise
    pytest.skip("verl is not installed: `make test-scale` runs these in .venv-scale", allow_module_level=True)

import numpy as np
import pyarrow.parquet as pq
import torch
from omegaconf import OmegaConf, open_dict
from worked_case import EXPECTED, worked_case_proto

from golong_data.records import write_jsonl
from golong_data.train import verl_plugin
from golong_data.train.config import TrainConfig
from golong_data.train.toy import THINK, make_samples
from golong_data.train.verl_emit import SETUP_HOOK, emit_verl

HERE = Path(__file__).parent
REPO = HERE.parents[1]


def test_verl_is_the_checked_version() -> None:
    assert verl.__version__ == "0.9.1"


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("verl")
    write_jsonl(tmp / "samples.jsonl", make_samples(12, seed=1))
    emit_verl(TrainConfig(data=tmp / "samples.jsonl", backend="verl", emit=tmp / "run").validate())
    return tmp / "run"


def _launch(emitted: Path, **env: str) -> Any:
    """The emitted launch.sh, run as a user runs it, with verl_capture.py where python3 stands."""
    wrapper = emitted.parent / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "verl_capture.py"}" "$@"\n')
    wrapper.chmod(0o755)
    capture = emitted.parent / f"config-{len(list(emitted.parent.glob('config-*')))}.yaml"
    proc = subprocess.run(["bash", str(emitted / "launch.sh")], cwd=emitted.parent, capture_output=True, text=True,
                          env={**os.environ, "MODEL": "/models/Qwen3-4B", "PYTHON": str(wrapper),
                               "VERL_CAPTURE": str(capture), **env}, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "All configuration checks passed" in proc.stdout + proc.stderr  # verl's validate_config ran
    return OmegaConf.load(capture)


@pytest.fixture(scope="module")
def config(emitted: Path) -> Any:
    return _launch(emitted)


def test_launch_settings_land_on_the_fields_verl_reads(config: Any, emitted: Path) -> None:
    from verl.trainer.config import AlgoConfig
    from verl.utils.config import omega_conf_to_dataclass

    actor = omega_conf_to_dataclass(config.actor_rollout_ref.actor)
    algo = omega_conf_to_dataclass(config.algorithm, AlgoConfig)
    rollout = config.actor_rollout_ref.rollout
    # the paper's settings (GoLongRL, the TRL backend's defaults): lr 2e-6 with 5 warm-up steps, 16 rollouts,
    # clip 0.2 / 0.28, no KL anywhere, no entropy bonus, temperature 1.0, token-mean loss
    assert actor.optim.lr == 2e-6 and actor.optim.lr_warmup_steps == 5
    assert (actor.clip_ratio_low, actor.clip_ratio_high) == (0.2, 0.28)
    assert actor.use_kl_loss is False and actor.kl_loss_coef == 0 and actor.entropy_coeff == 0
    assert actor.loss_agg_mode == "token-mean"
    assert (rollout.n, rollout.temperature, rollout.top_p) == (16, 1.0, 1.0)
    assert algo.adv_estimator == "golong_tmn" and algo.use_kl_in_reward is False and algo.kl_ctrl.kl_coef == 0
    # the data and reward wiring
    assert config.data.train_files == str(emitted / "data" / "train.parquet") and config.data.prompt_key == "prompt"
    assert (config.data.max_prompt_length, config.data.max_response_length) == (8192, 1024)
    assert config.reward.custom_reward_function.path == str(emitted / "golong_reward.py")
    assert config.reward.custom_reward_function.name == "compute_score"
    assert config.reward.reward_manager.name == "naive"
    # how golong_tmn gets its task keys: the legacy trainer, and the hook in every Ray worker
    assert config.trainer.use_v1 is False
    env = config.ray_kwargs.ray_init.runtime_env
    assert env.worker_process_setup_hook == SETUP_HOOK
    # Ray takes only strings as env_vars values
    assert dict(env.env_vars).items() >= {"GOLONG_TMN_ALGO": "tmn-reweight", "GOLONG_TMN_ALPHA": "0.8",
                                          "GOLONG_TMN_GAMMA": "1.0"}.items()


def test_run_ppo_installs_the_estimator_in_the_training_worker(config: Any, tmp_path: Path) -> None:
    """verl's run_ppo: ray.init with the emitted runtime_env, then the TaskRunner (here a probe) in a Ray worker."""
    import ray
    from verl.trainer.main_ppo import run_ppo
    from verl_probe import ProbeTaskRunner

    cfg = config.copy()
    with open_dict(cfg):
        cfg.ray_kwargs.ray_init.num_cpus = 1
        cfg.ray_kwargs.ray_init.include_dashboard = False
        cfg.ray_kwargs.ray_init.runtime_env.env_vars.GOLONG_PROBE_OUT = str(tmp_path / "probe.json")
        cfg.ray_kwargs.ray_init.runtime_env.env_vars.PYTHONPATH = os.pathsep.join([str(HERE), str(REPO)])
    assert not ray.is_initialized()
    try:
        run_ppo(cfg, task_runner_class=ProbeTaskRunner)
    finally:
        ray.shutdown()
    report = json.loads((tmp_path / "probe.json").read_text())
    assert report["pid"] != os.getpid()  # it ran in a Ray worker, not here
    assert report["registered"] and report["wrapped"]
    assert report["env"] == {"GOLONG_TMN_ALGO": "tmn-reweight", "GOLONG_TMN_ALPHA": "0.8", "GOLONG_TMN_GAMMA": "1.0"}
    assert report["advantages"] == pytest.approx(EXPECTED, abs=1e-5)


def test_compute_advantage_runs_golong_tmn(monkeypatch: pytest.MonkeyPatch) -> None:
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import core_algos, ray_trainer

    verl_plugin.install()
    verl_plugin.install()  # idempotent: one registration, one wrapper
    assert core_algos.get_adv_estimator_fn("golong_tmn") is verl_plugin.golong_tmn_advantage
    assert not hasattr(ray_trainer.compute_advantage.__wrapped__, "__wrapped__")
    data = worked_case_proto()
    mask = data.batch["response_mask"].clone()
    out = ray_trainer.compute_advantage(data, adv_estimator="golong_tmn", config=AlgoConfig(adv_estimator="golong_tmn"))
    adv = out.batch["advantages"]
    assert adv.shape == (12, 6)
    assert torch.equal(adv * (1 - mask), torch.zeros(12, 6))  # nothing outside the response
    assert torch.equal(adv, adv[:, :1] * mask)  # one scalar per response, over its tokens
    assert adv[:, 0].tolist() == pytest.approx(EXPECTED, abs=1e-5)
    assert out.meta_info["golong_tmn_metrics"]["sigma/EM"] == pytest.approx((7 / 24) ** 0.5)
    # settings from the environment (what the runtime_env sets in the workers)
    monkeypatch.setenv("GOLONG_TMN_ALGO", "grpo")
    adv = ray_trainer.compute_advantage(worked_case_proto(), adv_estimator="golong_tmn").batch["advantages"]
    assert adv[0, 0].item() == pytest.approx(1.5, abs=1e-5)  # u1 under GRPO: 0.75 / 0.5
    # verl's own estimators pass through the wrapper untouched
    grpo = ray_trainer.compute_advantage(worked_case_proto(), adv_estimator="grpo").batch["advantages"]
    assert grpo[0, 0].item() == pytest.approx(1.5, abs=1e-4)


def test_without_the_hook_the_estimator_says_what_is_missing() -> None:
    from verl.trainer.ppo import core_algos, ray_trainer

    verl_plugin.install()
    data = worked_case_proto()
    with pytest.raises(RuntimeError, match="use_v1=False"):  # the v1 trainer's path calls the unwrapped function
        ray_trainer.compute_advantage.__wrapped__(data, adv_estimator="golong_tmn")
    assert core_algos.get_adv_estimator_fn("golong_tmn") is verl_plugin.golong_tmn_advantage
    with pytest.raises(ValueError, match="reward_mode"):
        verl_plugin.batch_task_keys({"uid": np.array(["u"], dtype=object)})


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from golong_data.train.trl_backend import build_tokenizer

    texts = [json.dumps(s.prompt) + THINK + s.answer for s in make_samples(48, seed=3)]
    return build_tokenizer(texts)


@pytest.fixture(scope="module")
def dataset(config: Any, emitted: Path, tokenizer: Any) -> Any:
    from verl.utils.dataset.rl_dataset import RLHFDataset

    return RLHFDataset(data_files=[config.data.train_files], tokenizer=tokenizer, config=config.data)


def test_rlhf_dataset_reads_the_exported_rows(dataset: Any, emitted: Path) -> None:
    rows = pq.read_table(emitted / "data" / "train.parquet").to_pylist()
    assert len(dataset) == len(rows) == 12  # filter_overlong_prompts kept every row (all under 8192 tokens)
    for i, row in enumerate(rows):
        item = dataset[i]
        assert item["raw_prompt"] == row["prompt"]
        assert item["data_source"] == row["data_source"]
        assert item["reward_model"] == row["reward_model"]
        assert item["extra_info"] == row["extra_info"]


def _response_batch(dataset: Any, tokenizer: Any, completions: list[tuple[int, str]]) -> Any:
    """A DataProto as verl's rollout leaves it: dataset rows' fields, prompt ids left-padded, response ids
    right-padded, attention over both."""
    from verl import DataProto

    from golong_data.train.trl_backend import prompt_ids

    items = [dataset[i] for i, _ in completions]
    prompts = [prompt_ids(tokenizer, it["raw_prompt"]) for it in items]
    responses = [tokenizer(text, add_special_tokens=False)["input_ids"] for _, text in completions]
    P, R, pad = max(map(len, prompts)), max(map(len, responses)), tokenizer.pad_token_id
    p_ids = torch.tensor([[pad] * (P - len(p)) + p for p in prompts])
    r_ids = torch.tensor([r + [pad] * (R - len(r)) for r in responses])
    attn = torch.tensor([[0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r))
                         for p, r in zip(prompts, responses, strict=True)])
    return DataProto.from_dict(
        tensors={"prompts": p_ids, "responses": r_ids, "input_ids": torch.cat([p_ids, r_ids], 1),
                 "attention_mask": attn},
        non_tensors={k: np.array([it[k] for it in items], dtype=object)
                     for k in ("data_source", "reward_model", "extra_info")})


@pytest.mark.parametrize("manager", ["naive", "dapo"])
def test_verl_reward_managers_score_like_golong_data_score(manager: str, config: Any, emitted: Path, dataset: Any,
                                                           tokenizer: Any, tmp_path: Path) -> None:
    from verl.trainer.ppo.reward import load_reward_manager

    rows = pq.read_table(emitted / "data" / "train.parquet").to_pylist()
    answers = {s.id: s.answer for s in make_samples(12, seed=1)}
    completions = []
    for i, row in enumerate(rows):
        answer = answers[row["extra_info"]["sample_id"]]
        completions += [(i, THINK + answer), (i, THINK + "no idea"), (i, answer)]  # right, wrong, no </think>
    cfg = config.copy()
    with open_dict(cfg):
        cfg.reward.reward_manager.name = manager
    rm = load_reward_manager(cfg, tokenizer)  # verl loads golong_reward.py from reward.custom_reward_function
    assert type(rm).__name__ == {"naive": "NaiveRewardManager", "dapo": "DAPORewardManager"}[manager]
    data = _response_batch(dataset, tokenizer, completions)
    verl_scores = [rm.loop.run_until_complete(rm.run_single(data[k:k + 1]))["reward_score"]
                   for k in range(len(completions))]

    comp = tmp_path / "completions.jsonl"
    comp.write_text("".join(json.dumps({"id": rows[i]["extra_info"]["sample_id"], "completion": text}) + "\n"
                            for i, text in completions))
    subprocess.run([sys.executable, "-m", "golong_data.cli", "score", "--data", str(emitted / "data"),
                    "--completions", str(comp), "--out", str(tmp_path / "scores.jsonl")], check=True,
                   capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    ours = [json.loads(line)["score"] for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert verl_scores == ours
    assert ours[0::3] == [1.0] * 12 and ours[2::3] == [0.0] * 12  # right answers 1, no think gate 0
    assert asyncio.iscoroutinefunction(rm.run_single)
