"""One-GPU training with TRL's GRPOTrainer; TMN / TMN-Reweight enter at the advantage step only.

TRL (pinned to 1.16.*) has no public advantage hook. Following its maintainers' advice we subclass
`GRPOTrainer`: `_calculate_rewards` also gathers each completion's task key, and
`_generate_and_score_completions` lets TRL do everything (generation, rewards, its own GRPO advantages),
then replaces the advantages with `compute_advantages` over the gathered batch, keeps this process's slice,
and rewrites TRL's logged advantages so its completion tables agree with what was trained on.

Rewards come from `golong_data.rewards.compute_score` -- the same function `golong-data score` and the verl
reward file call -- so training and scoring cannot disagree.
"""

from __future__ import annotations

import json
import time
from collections import deque
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import gather_object
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from golong_data.errors import GolongError
from golong_data.train.advantages import compute_advantages
from golong_data.train.config import TrainConfig
from golong_data.train.data import load_rows

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


def golong_reward(
    completions: list[Any], data_source: list[str], reward_mode: list[str], ground_truth: list[str], **_: Any
) -> list[float]:
    """TRL reward function: the project's reward router, reading the ground-truth column."""
    from golong_data.rewards import compute_score

    return [
        float(compute_score(ds, completion_text(c), json.loads(gt), {"reward_mode": rm}))
        for c, ds, rm, gt in zip(completions, data_source, reward_mode, ground_truth, strict=True)
    ]


class GolongGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose advantages are GRPO, TMN or TMN-Reweight from `golong_data.train.advantages`."""

    def __init__(self, *args: Any, algo: str = "tmn-reweight", alpha: float = 0.8, gamma: float = 1.0,
                 scale: str = "group", completions_log: Path | None = None, num_completions_to_log: int = 2,
                 **kwargs: Any) -> None:
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

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        # Same order as TRL's gather of rewards_per_func: process 0's completions, then process 1's, ...
        self._batch_tasks = gather_object([str(x["task"]) for x in inputs])
        self._batch_completions = completions
        self._batch_rewards_per_func = rewards_per_func
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
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
        for key, value in metrics.items():
            m[f"tmn/{key}"].append(value)
        r = rewards.float().cpu()
        for task in sorted(set(self._batch_tasks)):
            sel = torch.tensor([t == task for t in self._batch_tasks])
            m[f"task/{task}/reward_mean"].append(r[sel].mean().item())
            m[f"task/{task}/reward_std"].append(r[sel].std().item() if int(sel.sum()) > 1 else 0.0)
        self._log_completions(inputs, r[start : start + local], adv[start : start + local])
        return output

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

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, **logs}
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


def build_tokenizer(texts: list[str], vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained in code on the data's own text (no download), with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
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
    from transformers import Qwen2Config, Qwen2ForCausalLM

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


def prompt_ids(tokenizer: Any, prompt: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat prompt as the model sees it (template + generation prompt)."""
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def train_trl(cfg: TrainConfig, echo: Any = print, reward_funcs: list[Any] | None = None, model: Any = None,
              tokenizer: Any = None, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Train with TRL; returns a summary (steps, timings, paths, the trainer). Writes into cfg.output_dir.

    `model` / `tokenizer`: already-built objects to train instead of cfg.model / --tiny (the GPU check passes
    its pre-trained tiny model). `callbacks`: extra transformers TrainerCallbacks (the GPU check's time limit).
    """
    from datasets import Dataset
    from transformers import AutoTokenizer
    from transformers.trainer_utils import get_last_checkpoint

    cfg.validate()
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    last = get_last_checkpoint(str(out))
    if cfg.resume and last is None:
        raise GolongError(f"--resume: no checkpoint-* in {out}",
                          "drop --resume to start, or point --output-dir at an earlier run")
    if not cfg.resume and last is not None:
        raise GolongError(f"{out} already holds {Path(last).name}", "add --resume to continue it, or pick another "
                          "--output-dir")

    rows = load_rows(Path(cfg.data))  # type: ignore[arg-type]
    tok_dir = out / "tokenizer"
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
        tokenizer = AutoTokenizer.from_pretrained(cfg.model)
        model = cfg.model  # a path: TRL loads it
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    kept = [r for r in rows if len(prompt_ids(tokenizer, r["prompt"])) <= cfg.max_prompt_tokens]
    if not kept:
        raise GolongError(f"every prompt is longer than --max-prompt-tokens {cfg.max_prompt_tokens}",
                          "raise --max-prompt-tokens or use shorter samples")
    if len(kept) < len(rows):
        echo(f"train: left out {len(rows) - len(kept)} of {len(rows)} prompts over {cfg.max_prompt_tokens} tokens")

    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    args = GRPOConfig(
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
    )
    metrics_cb = JsonlMetrics(out / "metrics.jsonl", echo)
    (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
    trainer = GolongGRPOTrainer(
        model=model,
        reward_funcs=reward_funcs or [golong_reward],
        args=args,
        train_dataset=Dataset.from_list(kept),
        processing_class=tokenizer,
        callbacks=[metrics_cb, *(callbacks or [])],
        algo=cfg.algo,
        alpha=cfg.alpha,
        gamma=cfg.gamma,
        scale=cfg.scale_rewards,
        completions_log=out / "completions.jsonl",
        num_completions_to_log=cfg.num_completions_to_log,
    )
    from transformers.trainer_callback import PrinterCallback

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
        "trainer": trainer,  # for callers that inspect it (tests, scripts/gpu_check.py)
    }
