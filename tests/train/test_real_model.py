"""Training and evaluation on a real pretrained model: SmolLM2-135M-Instruct from the GGUF `make local-llm` caches.

The GGUF is de-quantized once into $GOLONG_HOME/models (shared between runs); the weights are checked against
the `gguf` package's own de-quantizer, not against the transformers path that produced them. Torch runs on
one thread here: on this shared 2-core machine two OpenMP threads spin against each other (a 8x100-token
prefill took 22-31 s on 2 threads, 5-6 s on 1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("trl", reason="the [train] extra is not installed (pip install -e '.[train]')")
pytest.importorskip("gguf", reason="the [train] extra's gguf package is not installed")

import torch  # noqa: E402

from golong_data.errors import ConfigError, GolongError  # noqa: E402
from golong_data.llm.local_server import GGUF_NAME
from golong_data.paths import home as golong_home  # noqa: E402
from golong_data.records import write_jsonl  # noqa: E402
from golong_data.train.config import TrainConfig  # noqa: E402
from golong_data.train.toy import make_samples  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
GGUF = golong_home() / "models" / GGUF_NAME
needs_gguf = pytest.mark.skipif(not GGUF.is_file(), reason=f"{GGUF} is not cached (run `make local-llm`)")


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Any:
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def smol() -> tuple[Any, Any]:
    if not GGUF.is_file():
        pytest.skip(f"{GGUF} is not cached (run `make local-llm`)")
    from golong_data.train.models import load_model_and_tokenizer

    return load_model_and_tokenizer("smollm2-135m", echo=lambda _: None)


# ---------------------------------------------------------------- model loading
@needs_gguf
def test_gguf_becomes_a_plain_trainable_model_with_the_gguf_weights(smol: tuple[Any, Any]) -> None:
    from gguf import GGUFReader
    from gguf.quants import dequantize

    from golong_data.train.models import resolve_model

    model, tok = smol
    hf_dir = resolve_model("smollm2-135m")
    assert hf_dir.parent == golong_home() / "models" and hf_dir.name.endswith("-hf")
    config = json.loads((hf_dir / "config.json").read_text())
    assert "quantization_config" not in config  # else transformers refuses to train or save it
    assert type(model).__name__ == "LlamaForCausalLM" and config["max_position_embeddings"] == 8192
    assert tok.pad_token is not None and tok.chat_template

    # The weights are what the gguf package itself de-quantizes (Q8_0 embeddings, Q4_1 MLP).
    tensors = {t.name: t for t in GGUFReader(GGUF).tensors}
    for gguf_name, ours in (("token_embd.weight", model.model.embed_tokens.weight),
                            ("blk.0.ffn_down.weight", model.model.layers[0].mlp.down_proj.weight)):
        t = tensors[gguf_name]
        ref = torch.from_numpy(dequantize(t.data, t.tensor_type).copy()).float()
        assert ref.shape == ours.shape
        assert torch.allclose(ours.detach(), ref, atol=1e-6), gguf_name

    # Trainable: one backward pass gives finite, non-zero gradients.
    model.train()
    ids = torch.tensor([tok("The capital of France is Paris.")["input_ids"]])
    model(input_ids=ids, labels=ids).loss.backward()
    g = model.model.layers[0].mlp.down_proj.weight.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    model.zero_grad(set_to_none=True)
    model.eval()


@needs_gguf
def test_dequantized_model_answers_a_question(smol: tuple[Any, Any]) -> None:
    """A broken conversion (permuted attention weights, wrong tokenizer) produces garbage; this one answers."""
    from golong_data.train.generation import generate_ids
    from golong_data.train.trl_backend import prompt_ids

    model, tok = smol
    p = prompt_ids(tok, [{"role": "user", "content": "What is the capital of France? Answer with one word."}])
    ids, stats = generate_ids(model, tok, [p], max_new_tokens=8)
    assert "Paris" in tok.decode(ids[0]) and 0 < stats["tokens"] <= 8


@pytest.mark.slow
@needs_gguf
def test_conversion_into_an_empty_cache_is_atomic_and_done_once(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLONG_CACHE", str(tmp_path))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / GGUF_NAME).symlink_to(GGUF)
    from golong_data.train.models import resolve_model

    lines: list[str] = []
    d = resolve_model("smollm2-135m", echo=lines.append)
    assert d.parent == tmp_path / "models" and any("de-quantizing" in x for x in lines)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == sorted([GGUF_NAME, d.name])  # no temp left
    stamp = (d / "model.safetensors").stat().st_mtime_ns
    lines.clear()
    assert resolve_model(str(tmp_path / "models" / GGUF_NAME), echo=lines.append) == d  # the path, same content
    assert not lines and (d / "model.safetensors").stat().st_mtime_ns == stamp


def test_unknown_model_names_the_choices(tmp_path: Path) -> None:
    from golong_data.train.models import resolve_model

    with pytest.raises(GolongError, match="smollm2-135m"):
        resolve_model("smollm3")
    with pytest.raises(GolongError, match="not found"):
        resolve_model(str(tmp_path / "missing.gguf"))


# ---------------------------------------------------------------- reward settings
def _cols(samples: list[Any]) -> dict[str, list[str]]:
    return dict(data_source=[s.route["data_source"] for s in samples],
                reward_mode=[s.route["reward_mode"] for s in samples],
                ground_truth=[json.dumps(s.ground_truth) for s in samples])


def test_reward_settings_reach_the_router() -> None:
    from golong_data.train.trl_backend import make_reward, zero_reward_cause

    samples = make_samples(6, seed=5)
    plain = [[{"role": "assistant", "content": s.answer}] for s in samples]  # a non-thinking model's gold answers
    assert make_reward("golongrl")(plain, **_cols(samples)) == [0.0] * 6  # the official gate zeroes them all
    assert make_reward("golongrl", think_gate=False)(plain, **_cols(samples)) == [1.0] * 6
    assert make_reward("strict", think_gate=False)(plain, **_cols(samples)) == [1.0] * 6

    gated = make_reward("golongrl").profile  # type: ignore[attr-defined]
    texts = [s.answer for s in samples]
    assert "think gate" in zero_reward_cause(texts, **_cols(samples), profile=gated)
    assert "answer format" in zero_reward_cause(["I do not know."] * 6, **_cols(samples), profile=gated)

    with pytest.raises(ConfigError, match="golongrl"):
        TrainConfig(data=Path("x"), tiny=True, profile="lenient").validate()
    assert TrainConfig(no_think_gate=True).think_gate is False and TrainConfig().think_gate is None


def test_split_rows_is_per_type_and_stable() -> None:
    from golong_data.train.data import sample_row
    from golong_data.train.evaluate import split_rows

    rows = [sample_row(s) for s in make_samples(60, seed=2)]
    train, held = split_rows(rows, 0.1, seed=0)
    held_ids = {r["sample_id"] for r in held}
    assert len(train) + len(held) == 60 and not {r["sample_id"] for r in train} & held_ids
    assert sorted(r["task_type"] for r in held) == sorted({r["task_type"] for r in rows})  # one of each of 6 types
    assert {r["sample_id"] for r in split_rows(rows[::-1], 0.1, seed=0)[1]} == held_ids  # not the file order
    assert {r["sample_id"] for r in split_rows(rows, 0.1, seed=1)[1]} != held_ids


# ---------------------------------------------------------------- data that fits the window
@needs_gguf
def test_pipeline_samples_fit_the_model_window(smol: tuple[Any, Any], tmp_path: Path) -> None:
    from golong_data.records import Sample, read_records
    from golong_data.train.samples import build_fitted_samples
    from golong_data.train.trl_backend import prompt_ids

    _, tok = smol
    corpus = [FIXTURES / "books", FIXTURES / "papers", FIXTURES / "dialogues"]
    path = build_fitted_samples(corpus, tmp_path, tok, max_prompt_tokens=580, buckets=["512"], per_type=2)
    kept = list(read_records(path, Sample))
    made = list(read_records(tmp_path / "synthesize" / "samples.jsonl", Sample))
    ledger = [json.loads(x) for x in (tmp_path / "fit_rejected.jsonl").read_text().splitlines()]
    assert kept and ledger and len(kept) + len(ledger) == len(made)  # nothing lost
    assert all(len(prompt_ids(tok, s.prompt)) <= 580 for s in kept)
    assert {x["reason"] for x in ledger} == {"prompt_over_model_window"}
    assert all(int(x["detail"].split()[0]) > 580 for x in ledger)
    assert all(s.generator["kind"] == "program" for s in kept)  # the pipeline's constructors, not toy rows


# ---------------------------------------------------------------- generation paths
@needs_gguf
def test_fast_generation_paths_give_the_default_paths_tokens(smol: tuple[Any, Any]) -> None:
    """Greedy: bucketing (sorted batches) and continuous batching must not change what is generated."""
    from golong_data.train.generation import generate_ids
    from golong_data.train.trl_backend import prompt_ids

    model, tok = smol
    prompts = [prompt_ids(tok, s.prompt) for s in make_samples(2, seed=4, n_rows=4)]
    prompts.insert(1, prompt_ids(tok, [{"role": "user", "content": "Say hi."}]))  # a much shorter one
    ref, _ = generate_ids(model, tok, prompts, 4, method="padded", batch_size=3)
    for method in ("bucketed", "paged"):
        ids, stats = generate_ids(model, tok, prompts, 4, method=method, batch_size=2)
        assert [x[:4] for x in ids] == [x[:4] for x in ref], method  # first tokens: fp32 ties aside, identical
        assert stats["tokens"] == sum(len(x) for x in ids) and stats["tokens_per_second"] > 0


# ---------------------------------------------------------------- train one step, eval 4 prompts
@pytest.mark.slow
@needs_gguf
def test_one_step_on_smollm2_records_settings_eval_and_the_zero_reward_cause(tmp_path: Path) -> None:
    from golong_data.train.trl_backend import train_trl

    data, held = tmp_path / "train.jsonl", tmp_path / "held.jsonl"
    write_jsonl(data, make_samples(4, seed=7, n_rows=4))
    write_jsonl(held, make_samples(4, seed=8, n_rows=4))
    out = tmp_path / "run"
    lines: list[str] = []
    cfg = TrainConfig(data=data, model="smollm2-135m", output_dir=out, max_steps=1, num_generations=2,
                      prompts_per_step=2, max_completion_length=8, device="cpu", learning_rate=1e-5,
                      warmup_steps=0, save_steps=10**6, eval_data=held, zero_reward_steps=1, seed=0)
    s = train_trl(cfg, echo=lines.append)  # golongrl with its think gate: SmolLM2 never writes </think>
    assert s["global_step"] == 1
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    config = [r for r in rows if r.get("event") == "config"]
    assert config == [{"step": 0, "event": "config", "profile": "golongrl", "think_gate": True,
                       "algo": "tmn-reweight", "generation": "default"}]
    assert json.loads((out / "train_config.json").read_text())["profile"] == "golongrl"
    step = [r for r in rows if "reward" in r]
    assert step[0]["reward"] == 0.0 and step[0]["gen/tokens"] <= 4 * 8 and step[0]["gen/tokens_per_second"] > 0
    assert "likely cause" in step[0]["warning"] and s["zero_reward_warning"] == step[0]["warning"]
    assert any(x.startswith("warning: the first 1 steps all scored 0") for x in lines)
    evals = [r for r in rows if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == [0, 1] and all(r["eval/n"] == 4 for r in evals)
    types = {x.task_type for x in make_samples(4, seed=8, n_rows=4)}
    assert all({f"eval/{t}" for t in types} <= set(r) for r in evals)
    assert (out / "eval_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "final" / "model.safetensors").is_file()


@needs_gguf
def test_eval_command_scores_four_prompts(tmp_path: Path) -> None:
    data = tmp_path / "held.jsonl"
    samples = make_samples(4, seed=9, n_rows=4)
    write_jsonl(data, samples)
    out = tmp_path / "scores.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "golong_data.cli", "eval", "--model", "smollm2-135m", "--data",
                        str(data), "--no-think-gate", "--max-new-tokens", "8", "--device", "cpu", "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    scores = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["sample_id"] for x in scores] == [s.id for s in samples]
    assert all(0.0 <= x["score"] <= 1.0 and isinstance(x["completion"], str) for x in scores)
    assert "eval: 4 samples, mean" in r.stderr and "all" in r.stderr
