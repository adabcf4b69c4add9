"""CPU smoke runs of the TRL subclass on a tiny random model: the override runs, changes TRL's advantages, resumes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="the [train] extra is not installed (pip install -e '.[train]')")

import torch  # noqa: E402

from golong_data.errors import GolongError  # noqa: E402
from golong_data.records import write_jsonl  # noqa: E402
from golong_data.train.config import TrainConfig  # noqa: E402
from golong_data.train.toy import THINK, make_samples  # noqa: E402
from golong_data.train.trl_backend import golong_reward, train_trl  # noqa: E402


def word_overlap(completions: list[Any], answer: list[str], **_: Any) -> list[float]:
    """A graded second reward for the smoke runs: share of the gold answer's words the completion contains.

    A random 2-layer model never writes `</think>`, so the project's gated rewards alone are all 0 and every
    group would be flat; this term gives the groups spread so the advantage step has something to change.
    """
    out = []
    for c, a in zip(completions, answer, strict=True):
        text = c[0]["content"] if isinstance(c, list) else c
        words = set(a.replace("\n", " ").split())
        out.append(sum(w in text for w in words) / max(1, len(words)))
    return out


@pytest.fixture
def samples_file(tmp_path: Path) -> Path:
    path = tmp_path / "samples.jsonl"
    write_jsonl(path, make_samples(12, seed=3))
    return path


def _cfg(data: Path, out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(data=data, tiny=True, output_dir=out, max_steps=3, num_generations=4,
                                prompts_per_step=3, max_completion_length=24, device="cpu", save_steps=2,
                                learning_rate=1e-3, warmup_steps=0, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_reward_function_scores_gold_and_garbage_through_the_router() -> None:
    samples = make_samples(6)
    gold = [[{"role": "assistant", "content": THINK + s.answer}] for s in samples]
    junk = [[{"role": "assistant", "content": "no think block"}] for _ in samples]
    cols = dict(data_source=[s.route["data_source"] for s in samples],
                reward_mode=[s.route["reward_mode"] for s in samples],
                ground_truth=[json.dumps(s.ground_truth) for s in samples])
    assert golong_reward(gold, **cols) == [1.0] * 6
    assert golong_reward(junk, **cols) == [0.0] * 6


def test_smoke_run_overrides_trl_advantages(samples_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    lines: list[str] = []
    summary = train_trl(_cfg(samples_file, out), echo=lines.append, reward_funcs=[golong_reward, word_overlap])
    trainer = summary["trainer"]
    assert summary["global_step"] == 3
    assert trainer.adv_calls == 3  # one generation batch per step
    changed = 0
    for trl_adv, ours in trainer.adv_history:
        assert ours.shape == trl_adv.shape == (12,)  # 3 prompts x 4 rollouts
        assert torch.isfinite(ours).all()
        # Same centring (group mean), positive rescaling: every sign agrees with TRL's GRPO.
        assert torch.equal(torch.sign(ours), torch.sign(trl_adv))
        changed += int(not torch.allclose(ours, trl_adv, atol=1e-3))
    assert changed >= 1, "TMN-Reweight never differed from TRL's GRPO advantages"
    # TRL's own completion log now shows the advantages that were trained on.
    assert list(trainer._logs["advantages"])[-12:] == pytest.approx(trainer.adv_history[-1][1].tolist(), abs=1e-6)

    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    step_rows = [r for r in rows if "reward" in r]
    assert [r["step"] for r in step_rows] == [1, 2, 3]
    keys = set().union(*step_rows)
    assert {"tmn/mean_pass_rate", "tmn/weight_min", "tmn/weight_max", "tmn/zero_var_frac"} <= keys
    assert any(k.startswith("tmn/sigma/") for k in keys)
    assert any(k.startswith("task/") and k.endswith("/reward_mean") for k in keys)
    assert any(k.startswith("task/") and k.endswith("/reward_std") for k in keys)
    completions = [json.loads(x) for x in (out / "completions.jsonl").read_text().splitlines()]
    assert len(completions) == 3 * 2 and all(isinstance(c["completion"], str) for c in completions)
    assert any(line.startswith("step 3: reward") for line in lines)
    assert json.loads((out / "train_config.json").read_text())["algo"] == "tmn-reweight"


def test_resume_continues_at_the_right_step(samples_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = train_trl(_cfg(samples_file, out, max_steps=2, algo="grpo"), echo=lambda _: None,
                      reward_funcs=[golong_reward, word_overlap])
    assert first["global_step"] == 2 and (out / "checkpoint-2").is_dir()
    with pytest.raises(GolongError, match="--resume"):  # never silently restart over an existing run
        train_trl(_cfg(samples_file, out, max_steps=4, algo="grpo"), reward_funcs=[word_overlap])
    second = train_trl(_cfg(samples_file, out, max_steps=4, algo="grpo", resume=True), echo=lambda _: None,
                       reward_funcs=[golong_reward, word_overlap])
    assert second["global_step"] == 4
    assert second["trainer"].adv_calls == 2  # steps 3 and 4 only: steps 1-2 were not redone
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()
             if "reward" in json.loads(x)]
    assert steps == [1, 2, 3, 4]
    assert (out / "checkpoint-4").is_dir()


def test_resume_without_checkpoint_is_an_error(samples_file: Path, tmp_path: Path) -> None:
    with pytest.raises(GolongError, match="no checkpoint"):
        train_trl(_cfg(samples_file, tmp_path / "empty", resume=True))


def test_paged_rollouts_train_and_log_generation_speed(samples_file: Path, tmp_path: Path) -> None:
    """--generation paged: TRL's continuous-batching path generates the rollouts; tokens/s is logged per step."""
    out = tmp_path / "run"
    summary = train_trl(_cfg(samples_file, out, max_steps=1, algo="grpo", generation="paged"), echo=lambda _: None,
                        reward_funcs=[golong_reward, word_overlap])
    assert summary["global_step"] == 1 and summary["trainer"].args.use_transformers_continuous_batching
    row = next(json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "reward" in json.loads(x))
    assert 0 < row["gen/tokens"] <= 3 * 4 * 24 and row["gen/tokens_per_second"] > 0
    assert row["gen/tokens"] == pytest.approx(row["completions/mean_length"] * 12)  # TRL's count agrees
