"""One-GPU training with TRL's GRPOTrainer; TMN / TMN-Reweight enter at the advantage step only.

TRL (pinned to 1.16.*) has no public advantage hook. Following its maintainers' advice we subclass
`GRPOTrainer`: `_calculate_rewards` also gathers each completion's task key, and
`_generate_and_score_completions` lets TRL do everything (generation, rewards, its own GRPO advantages),
then replaces the advantages with `compute_advantages` over the gathered batch, keeps this process's slice,
and rewrites TRL's logged advantages so its completion tables agree with what was trained on.

Rewards come from `golong_data.rewards.compute_score` -- the same function `golong-data score` and the verl
reward file call -- so training and scoring cannot disagree -- with the run's --profile / --no-think-gate.
A run whose first --zero-reward-steps steps all score 0 says so and names the likely cause (the think gate
when the ungated rewards are not all 0, else the answer format), since every advantage is then 0.

Each step logs gen/tokens_per_second (generated tokens, EOS-trimmed, over generation wall time), and with
--eval-split / --eval-data a greedy held-out evaluation runs before training, every --eval-steps and at the
end (`event: eval` rows in metrics.jsonl, eval_curves.png).
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object
from datasets import Dataset
from transformers import AutoTokenizer, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import get_last_checkpoint
from trl import GRPOConfig, GRPOTrainer

from golong_data.errors import GolongError
from golong_data.rewards import Profile, compute_score, get_profile
from golong_data.train.advantages import compute_advantages
from golong_data.train.config import TrainConfig
from golong_data.train.data import load_rows, prompt_ids  # noqa: F401 (prompt_ids: re-exported)
from golong_data.train.evaluate import eval_curves, evaluate, split_rows
from golong_data.train.models import load_model_and_tokenizer
from golong_data.train.plot import write_png

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def completion_text(completion: Any) -> str:
    """TRL hands conversational completions as [{"role": "assistant", "content": ...}]; plain ones as str."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    return str(completion)


def make_reward(profile: str | Profile = "golongrl", think_gate: bool | None = None) -> Any:
    """A TRL reward function: the project's reward router with this profile / think gate, reading the
    ground-truth column. Named golong_reward (TRL logs rewards under the function's name)."""
    prof = get_profile(profile, think_gate)

    def golong_reward(completions: list[Any], data_source: list[str], reward_mode: list[str],
                      ground_truth: list[str], **_: Any) -> list[float]:
        return [
            float(compute_score(ds, completion_text(c), json.loads(gt), {"reward_mode": rm}, profile=prof))
            for c, ds, rm, gt in zip(completions, data_source, reward_mode, ground_truth, strict=True)
        ]

    golong_reward.profile = prof  # type: ignore[attr-defined]  (the zero-reward diagnosis reads it)
    return golong_reward


golong_reward = make_reward()  # the official profile, think gate on


def zero_reward_cause(completions: list[str], data_source: list[str], reward_mode: list[str],
                      ground_truth: list[str], profile: Profile) -> str:
    """Why a batch scored all 0: re-score without the think gate; if that scores, the gate is the cause."""
    ungated = make_reward(replace(profile, think_gate=False))(completions, data_source, reward_mode, ground_truth)
    if profile.think_gate and any(x > 0 for x in ungated):
        return ("the think gate: completions lack one </think>, so the profile scores them 0 "
                f"(without the gate {sum(x > 0 for x in ungated)} of {len(ungated)} would score); "
                "add --no-think-gate for a model that does not think")
    example = completions[0][:120] if completions else ""
    return ("the answer format: even without the think gate nothing scores; check the completions "
            f"(e.g. {example!r}) against the task prompts' format, or raise --max-completion-length")


class GolongGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose advantages are GRPO, TMN or TMN-Reweight from `golong_data.train.advantages`."""

    def __init__(self, *args: Any, algo: str = "tmn-reweight", alpha: float = 0.8, gamma: float = 1.0,
                 scale: str = "group", completions_log: Path | None = None, num_completions_to_log: int = 2,
                 zero_reward_steps: int = 3, echo: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.adv_algo, self.adv_alpha, self.adv_gamma, self.adv_scale = algo, alpha, gamma, scale
        self.completions_log = completions_log
        self.num_completions_to_log = num_completions_to_log
        self._batch_tasks: list[str] = []
        self._batch_rewards_per_func: torch.Tensor | None = None
        self._batch_completions: list[Any] = []
        self.adv_calls = 0  # how many batches went through the override (checked by the tests)
        self.last_trl_advantages: torch.Tensor | None = None
        self.last_advantages: torch.Tensor | None = None
        self.adv_history: deque[tuple[torch.Tensor, torch.Tensor]] = deque(maxlen=16)  # (TRL's, ours) per batch
        self.adv_seconds = 0.0  # wall time spent in compute_advantages (TMN overhead vs GRPO)
        self.recent_completions: list[dict[str, Any]] = []
        self.zero_reward_steps, self.echo = zero_reward_steps, echo
        self._zero_batches = 0  # leading batches in which every reward was 0
        self.zero_reward_warning: str | None = None
        self.gen_seconds, self.gen_tokens = 0.0, 0  # this batch's generation wall time and generated tokens

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations,  # type: ignore[no-untyped-def]
                              has_tool_images=False):
        dev = self.accelerator.device
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        completion_ids, logprobs = super()._generate_single_turn(prompt_ids, images, multimodal_fields,
                                                                 num_generations, has_tool_images)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        self.gen_seconds += time.perf_counter() - t0
        self.gen_tokens += sum(len(c) for c in completion_ids)  # TRL trims each at its first EOS
        return completion_ids, logprobs

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        # Same order as TRL's gather of rewards_per_func: process 0's completions, then process 1's, ...
        self._batch_tasks = gather_object([str(x["task"]) for x in inputs])
        self._batch_completions = completions
        self._batch_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        self.gen_seconds, self.gen_tokens = 0.0, 0
        output = super()._generate_and_score_completions(inputs)
        mode = "train" if self.model.training else "eval"
        g = self.num_generations if mode == "train" else self.num_generations_eval
        rpf = self._batch_rewards_per_func
        assert rpf is not None and len(self._batch_tasks) == rpf.shape[0]
        rewards = (rpf * self.reward_weights.to(rpf.device).unsqueeze(0)).nansum(dim=1)  # (N,) as TRL sums them
        n = rewards.shape[0]
        groups = [i // g for i in range(n)]  # TRL's RepeatSampler keeps a prompt's g completions contiguous

        t0 = time.perf_counter()
        adv, metrics = compute_advantages(rewards.float().cpu(), groups, self._batch_tasks, algo=self.adv_algo,
                                          alpha=self.adv_alpha, gamma=self.adv_gamma, scale=self.adv_scale)
        self.adv_seconds += time.perf_counter() - t0

        local = len(inputs)
        start = self.accelerator.process_index * local
        self.last_trl_advantages = output["advantages"].detach().clone()
        output["advantages"] = adv[start : start + local].to(output["advantages"].device, output["advantages"].dtype)
        self.last_advantages = output["advantages"].detach().clone()
        self.adv_history.append((self.last_trl_advantages.cpu(), self.last_advantages.cpu()))
        self.adv_calls += 1
        # TRL appended its own advantages to the completion log; make it show what we train on.
        logged = self._logs["advantages"]
        for i, a in enumerate(adv.tolist()):
            logged[len(logged) - n + i] = a

        m = self._metrics[mode]
        m["gen/seconds"].append(self.gen_seconds)
        m["gen/tokens"].append(float(self.gen_tokens))
        m["gen/tokens_per_second"].append(self.gen_tokens / self.gen_seconds if self.gen_seconds else 0.0)
        if torch.cuda.is_available():
            try:  # nvml's utilisation over the last sample period; needs pynvml, absent on some boxes
                m["gen/gpu_utilization"].append(float(torch.cuda.utilization()))
            except Exception:  # noqa: BLE001 - a missing metric must not stop training
                pass
        self._watch_zero_rewards(inputs, rewards)
        for key, value in metrics.items():
            m[f"tmn/{key}"].append(value)
        r = rewards.float().cpu()
        for task in sorted(set(self._batch_tasks)):
            sel = torch.tensor([t == task for t in self._batch_tasks])
            m[f"task/{task}/reward_mean"].append(r[sel].mean().item())
            m[f"task/{task}/reward_std"].append(r[sel].std().item() if int(sel.sum()) > 1 else 0.0)
        self._log_completions(inputs, r[start : start + local], adv[start : start + local])
        return output

    def _watch_zero_rewards(self, inputs: list[dict[str, Any]], rewards: torch.Tensor) -> None:
        """Count leading all-zero batches; after zero_reward_steps of them, say so once with the likely cause."""
        if self.zero_reward_warning is not None or self._zero_batches < 0 or not self.zero_reward_steps:
            return
        if bool((rewards != 0).any()):
            self._zero_batches = -1  # something scored: the watch is over
            return
        self._zero_batches += 1
        if self._zero_batches < self.zero_reward_steps:
            return
        prof = getattr(self.reward_funcs[0], "profile", None)
        cause = "unknown" if prof is None else zero_reward_cause(
            [completion_text(c) for c in self._batch_completions], [x["data_source"] for x in inputs],
            [x["reward_mode"] for x in inputs], [x["ground_truth"] for x in inputs], prof)
        self.zero_reward_warning = (f"warning: the first {self._zero_batches} steps all scored 0, so every "
                                    f"advantage is 0 and nothing is learned; likely cause: {cause}")
        if self.echo is not None and self.accelerator.is_main_process:
            self.echo(self.zero_reward_warning)

    def _log_completions(self, inputs: list[dict[str, Any]], rewards: torch.Tensor, adv: torch.Tensor) -> None:
        """Keep a few decoded completions (one per prompt group first) and append them to completions.jsonl."""
        if not self.accelerator.is_main_process:
            return
        g = self.num_generations
        order = list(range(0, len(inputs), g)) + [i for i in range(len(inputs)) if i % g]
        self.recent_completions = [
            {"step": self.state.global_step + 1, "sample_id": inputs[i].get("sample_id"), "task": inputs[i].get("task"),
             "reward": rewards[i].item(), "advantage": adv[i].item(),
             "completion": completion_text(self._batch_completions[i])}
            for i in order[: self.num_completions_to_log]
        ]
        if self.completions_log is not None:
            with open(self.completions_log, "a", encoding="utf-8") as f:
                for row in self.recent_completions:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")


class JsonlMetrics(TrainerCallback):
    """Append every log line to metrics.jsonl and print a short summary line."""

    def __init__(self, path: Path, echo: Any = None) -> None:
        self.path = path
        self.echo = echo
        self.trainer: GolongGRPOTrainer | None = None  # set after the trainer is built: decoded completions
        self._warned = False

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, **logs}
        if self.trainer is not None and self.trainer.zero_reward_warning and not self._warned:
            row["warning"] = self.trainer.zero_reward_warning
            self._warned = True
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.echo and "reward" in logs:
            tasks = " ".join(f"{k.split('/')[1]}={v:.3f}" for k, v in sorted(logs.items())
                             if k.startswith("task/") and k.endswith("reward_mean") and v is not None)
            self.echo(f"step {state.global_step}: reward {logs['reward']:.3f} loss {logs.get('loss', 0):.4f} {tasks}")
            if self.trainer is not None and self.trainer.recent_completions:
                c = self.trainer.recent_completions[0]
                self.echo(f"  [{c['task']}] reward {c['reward']:.2f} adv {c['advantage']:+.2f}: "
                          f"{c['completion'][:160]!r}")


class HeldOutEval(TrainerCallback):
    """Greedy held-out reward per task type before training, every `every` steps (0: never) and at the end:
    `{"event": "eval", "step", "eval/mean", "eval/<type>", ...}` rows in metrics.jsonl, eval_curves.png."""

    def __init__(self, rows: list[dict[str, Any]], tokenizer: Any, cfg: TrainConfig, echo: Any = None) -> None:
        self.rows, self.tok, self.cfg, self.echo = rows, tokenizer, cfg, echo
        self.path = Path(cfg.output_dir) / "metrics.jsonl"
        self.done_steps: set[int] = set()
        self.results: dict[int, Any] = {}

    def _run(self, state: Any, model: Any) -> None:
        step = state.global_step
        if step in self.done_steps or not state.is_world_process_zero:
            return
        self.done_steps.add(step)
        cfg = self.cfg
        res = evaluate(model, self.tok, self.rows, profile=cfg.profile, think_gate=cfg.think_gate,
                       max_new_tokens=cfg.eval_max_new_tokens or cfg.max_completion_length,
                       batch_size=max(1, cfg.prompts_per_step * cfg.num_generations))
        self.results[step] = res
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, "event": "eval", **res.metrics()}) + "\n")
        write_png(Path(cfg.output_dir) / "eval_curves.png",
                  {k: (list(map(float, xs)), ys) for k, (xs, ys) in eval_curves(self.path).items()},
                  ylabel="held-out greedy reward", title=f"{cfg.algo}: held-out reward per task type")
        if self.echo:
            per = " ".join(f"{t}={v:.3f}" for t, v in sorted(res.per_type.items()))
            self.echo(f"eval step {step}: held-out mean {res.mean:.3f} (n={res.n}) {per}")

    def on_train_begin(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        self._run(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.cfg.eval_steps and state.global_step % self.cfg.eval_steps == 0:
            self._run(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        self._run(state, model)


def build_tokenizer(texts: list[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained in code on the data's own text (no download), with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # lazy: only --tiny builds a tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=None, eos_token="<|im_end|>",
                                   pad_token="<|pad|>", unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_model(tokenizer: Any, seed: int, hidden: int = 64, layers: int = 2) -> Any:
    """A randomly initialised 2-layer Qwen2 with the tokenizer's vocabulary (smoke runs, GPU checks)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM  # lazy: loads the Qwen2 model code, only for --tiny

    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=8192, tie_word_embeddings=True,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=None)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def _last_checkpoint(cfg: TrainConfig, out: Path) -> str | None:
    """The run's last checkpoint-*, checked against --resume (resume needs one, a fresh run must find none)."""
    last = get_last_checkpoint(str(out))
    if cfg.resume and last is None:
        raise GolongError(f"--resume: no checkpoint-* in {out}",
                          "drop --resume to start, or point --output-dir at an earlier run")
    if not cfg.resume and last is not None:
        raise GolongError(f"{out} already holds {Path(last).name}", "add --resume to continue it, or pick another "
                          "--output-dir")
    return last


def _train_and_held_out(cfg: TrainConfig, echo: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The training rows and the held-out evaluation rows (--eval-data, else --eval-split of the data, else none)."""
    rows = load_rows(Path(cfg.data))  # type: ignore[arg-type]
    held_out: list[dict[str, Any]] = []
    if cfg.eval_data is not None:
        held_out = load_rows(Path(cfg.eval_data))
    elif cfg.eval_split:
        rows, held_out = split_rows(rows, cfg.eval_split, cfg.seed)
        echo(f"train: held out {len(held_out)} of {len(rows) + len(held_out)} samples for evaluation")
    return rows, held_out


def _model_and_tokenizer(cfg: TrainConfig, rows: list[dict[str, Any]], tok_dir: Path, model: Any, tokenizer: Any,
                         echo: Any) -> tuple[Any, Any]:
    """The caller's model and tokenizer if both are given, else --tiny's (built on the rows) or cfg.model's."""
    if model is not None and tokenizer is not None:
        pass  # built by the caller
    elif cfg.tiny:
        if tok_dir.exists():  # a resumed tiny run must see the very same vocabulary
            tokenizer = AutoTokenizer.from_pretrained(tok_dir)
        else:
            texts = [m["content"] for r in rows for m in r["prompt"]] + [r["answer"] for r in rows]
            tokenizer = build_tokenizer(texts)
            tokenizer.save_pretrained(tok_dir)
        model = build_tiny_model(tokenizer, cfg.seed)
    else:
        model, tokenizer = load_model_and_tokenizer(cfg.model, echo=echo)  # type: ignore[arg-type]
    return model, tokenizer


def _fitting_rows(cfg: TrainConfig, rows: list[dict[str, Any]], model: Any, tokenizer: Any,
                  echo: Any) -> list[dict[str, Any]]:
    """The rows whose prompt fits --max-prompt-tokens and leaves room for a completion in the model's window."""
    # A prompt plus its completion must fit the model's window (8K for SmolLM2), whatever --max-prompt-tokens says.
    window = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    limit = min(cfg.max_prompt_tokens, window - cfg.max_completion_length) if window else cfg.max_prompt_tokens
    kept = [r for r in rows if len(prompt_ids(tokenizer, r["prompt"])) <= limit]
    if not kept:
        raise GolongError(f"every prompt is longer than {limit} tokens (--max-prompt-tokens, model window)",
                          "raise --max-prompt-tokens or use shorter samples")
    if len(kept) < len(rows):
        echo(f"train: left out {len(rows) - len(kept)} of {len(rows)} prompts over {limit} tokens")
    return kept


def _grpo_args(cfg: TrainConfig, out: Path) -> GRPOConfig:
    """TRL's GRPOConfig for this run: verl's settings where TRL has a knob for them."""
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    return GRPOConfig(
        output_dir=str(out),
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant_with_warmup",  # verl: constant lr after lr_warmup_steps
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        num_generations=cfg.num_generations,
        per_device_train_batch_size=cfg.prompts_per_step * cfg.num_generations,
        epsilon=cfg.epsilon,
        epsilon_high=cfg.epsilon_high,
        beta=cfg.beta,
        temperature=cfg.temperature,
        top_p=1.0,
        max_completion_length=cfg.max_completion_length,
        loss_type="dapo",  # token-mean over the batch, verl's loss_agg_mode="token-mean"
        scale_rewards=cfg.scale_rewards,
        save_steps=cfg.save_steps,
        logging_steps=cfg.logging_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_cpu=not use_cuda,
        bf16=bool(cfg.bf16 and use_cuda),
        report_to=[],
        log_completions=False,
        disable_tqdm=True,
        use_transformers_continuous_batching=cfg.generation == "paged",
    )


def _write_run_config(cfg: TrainConfig, out: Path) -> None:
    """train_config.json, and the reward settings as the first metrics.jsonl row."""
    (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
    # The reward settings go into metrics.jsonl too, so a curve read alone says how it was scored.
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": 0, "event": "config", "profile": cfg.profile, "think_gate": not cfg.no_think_gate
                            and get_profile(cfg.profile).think_gate, "algo": cfg.algo,
                            "generation": cfg.generation}) + "\n")


def train_trl(cfg: TrainConfig, echo: Any = print, reward_funcs: list[Any] | None = None, model: Any = None,
              tokenizer: Any = None, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train with TRL; returns a summary (steps, timings, paths, the trainer). Writes into cfg.output_dir.

    `model` / `tokenizer`: already-built objects to train instead of cfg.model / --tiny (the GPU check passes
    the loaded model to both algorithms). `callbacks`: extra transformers TrainerCallbacks.
    """
    cfg.validate()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    last = _last_checkpoint(cfg, out)
    rows, held_out = _train_and_held_out(cfg, echo)
    model, tokenizer = _model_and_tokenizer(cfg, rows, out / "tokenizer", model, tokenizer, echo)
    kept = _fitting_rows(cfg, rows, model, tokenizer, echo)
    args = _grpo_args(cfg, out)
    metrics_cb = JsonlMetrics(out / "metrics.jsonl", echo)
    _write_run_config(cfg, out)
    eval_cb = HeldOutEval(held_out, tokenizer, cfg, echo) if held_out else None
    trainer = GolongGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs or [make_reward(cfg.profile, cfg.think_gate)],
        args=args,
        train_dataset=Dataset.from_list(kept),
        processing_class=tokenizer,
        callbacks=[metrics_cb, *([eval_cb] if eval_cb else []), *(callbacks or [])],
        algo=cfg.algo,
        alpha=cfg.alpha,
        gamma=cfg.gamma,
        scale=cfg.scale_rewards,
        completions_log=out / "completions.jsonl",
        num_completions_to_log=cfg.num_completions_to_log,
        zero_reward_steps=cfg.zero_reward_steps,
        echo=echo,
    )

    trainer.remove_callback(PrinterCallback)  # our JsonlMetrics prints one line per log instead of the raw dict
    metrics_cb.trainer = trainer
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last if cfg.resume else None)
    trainer.save_model(str(out / "final"))
    if cfg.tiny:
        tokenizer.save_pretrained(out / "final")
    return {
        "global_step": trainer.state.global_step,
        "train_seconds": time.perf_counter() - t0,
        "adv_seconds": trainer.adv_seconds,
        "adv_calls": trainer.adv_calls,
        "train_loss": result.training_loss,
        "n_prompts": len(kept),
        "output_dir": str(out),
        "zero_reward_warning": trainer.zero_reward_warning,
        "eval": eval_cb.results if eval_cb else {},  # step -> EvalResult
        "trainer": trainer,  # for callers that inspect it (tests, scripts/gpu_check.py)
    }
