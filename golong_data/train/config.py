"""TrainConfig: every training setting declared once, with the help text `golong-data train --help` shows.

Defaults follow the paper's script (Train/verl/examples/GoLongRL/qwen3-4B-tmn-reweight.sh in the authors'
repository) where they make sense on one GPU: lr 2e-6 with 5 warm-up steps, weight decay 0.1, grad clip 1.0,
16 rollouts per prompt, clip 0.2 / 0.28, no KL, temperature 1.0, token-mean loss, TMN with alpha 0.8.
This module imports nothing heavy: the CLI reads it at start-up for its help text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from golong_data.errors import ConfigError

ALGOS = ("grpo", "tmn", "tmn-reweight")
BACKENDS = ("trl", "verl")
SCALES = ("group", "batch", "none")
GENERATIONS = ("default", "paged")


@dataclass
class TrainConfig:
    algo: str = field(default="tmn-reweight", metadata={"help": "Advantage estimator: grpo, tmn or tmn-reweight."})
    data: Path | None = field(
        default=None,
        metadata={"help": "train.parquet (export stage), samples.jsonl / verified.jsonl, or a directory holding one."},
    )
    model: str | None = field(
        default=None,
        metadata={"help": "An HF model directory, a .gguf file (de-quantized once into $GOLONG_HOME/models), or "
                          "smollm2-135m (the GGUF `make local-llm` caches). Not needed with --tiny."},
    )
    tiny: bool = field(
        default=False,
        metadata={"help": "Train a tiny randomly initialised model with a tokenizer built from the data (smoke runs)."},
    )
    backend: str = field(default="trl", metadata={"help": "trl (one GPU, runs here) or verl (writes files to --emit)."})
    emit: Path | None = field(default=None, metadata={"help": "Directory for the verl files (--backend verl)."})
    output_dir: Path = field(default=Path("train-out"), metadata={"help": "Checkpoints, metrics.jsonl, config."})
    resume: bool = field(default=False, metadata={"help": "Continue from the latest checkpoint in --output-dir."})
    max_steps: int = field(default=200, metadata={"help": "Optimizer steps to train for (in total, when resuming)."})
    learning_rate: float = field(default=2e-6, metadata={"help": "Adam learning rate (paper: 2e-6)."})
    warmup_steps: int = field(default=5, metadata={"help": "Linear warm-up steps (paper: 5)."})
    weight_decay: float = field(default=0.1, metadata={"help": "AdamW weight decay (paper: 0.1)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (paper: 1.0)."})
    num_generations: int = field(default=16, metadata={"help": "Rollouts per prompt, the GRPO group size (paper: 16)."})
    prompts_per_step: int = field(default=2, metadata={"help": "Prompts per optimizer step (per device)."})
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip, lower side (paper: 0.2)."})
    epsilon_high: float = field(default=0.28, metadata={"help": "PPO clip, upper side (paper: 0.28)."})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient (paper: no KL)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature for rollouts (paper: 1.0)."})
    max_prompt_tokens: int = field(
        default=8192, metadata={"help": "Prompts longer than this are left out (verl's filter_overlong_prompts)."}
    )
    max_completion_length: int = field(default=1024, metadata={"help": "Tokens generated per rollout."})
    alpha: float = field(default=0.8, metadata={"help": "TMN-Reweight pass-rate smoothing (paper: 0.8)."})
    gamma: float = field(default=1.0, metadata={"help": "TMN-Reweight difficulty-weight strength (paper: 1.0)."})
    scale_rewards: str = field(default="group", metadata={"help": "GRPO only: std scaling group, batch or none."})
    save_steps: int = field(default=50, metadata={"help": "Checkpoint every N steps."})
    logging_steps: int = field(default=1, metadata={"help": "Log metrics every N steps."})
    seed: int = field(default=0, metadata={"help": "Random seed (data order, sampling, tiny model)."})
    device: str = field(default="auto", metadata={"help": "auto, cpu or cuda."})
    bf16: bool = field(default=True, metadata={"help": "bf16 on GPU (ignored on CPU)."})
    num_completions_to_log: int = field(default=2, metadata={"help": "Decoded completions logged per step."})
    profile: str = field(default="golongrl", metadata={"help": "Reward profile: golongrl (the official reward code, "
                                                                "quirks included) or strict (quirks fixed)."})
    no_think_gate: bool = field(default=False, metadata={"help": "Do not zero responses lacking one </think> "
                                                                 "(for non-thinking models such as SmolLM2)."})
    zero_reward_steps: int = field(default=3, metadata={"help": "Warn when the first N steps all score 0."})
    eval_split: float = field(default=0.0, metadata={"help": "Hold out this share of the data (per task type) "
                                                             "for greedy evaluation; 0: none."})
    eval_data: Path | None = field(default=None, metadata={"help": "Held-out samples for greedy evaluation "
                                                                   "(instead of --eval-split)."})
    eval_steps: int = field(default=0, metadata={"help": "Evaluate every K steps (0: before and after only)."})
    eval_max_new_tokens: int = field(default=0, metadata={"help": "Greedy tokens per eval answer "
                                                                  "(0: --max-completion-length)."})
    generation: str = field(default="default", metadata={"help": "Rollout generation: default (TRL's padded "
                                                                 "model.generate) or paged (transformers' continuous "
                                                                 "batching, paged KV cache)."})

    def validate(self) -> TrainConfig:
        """Raise a ConfigError naming the setting and what to set instead; returns self."""
        if self.algo not in ALGOS:
            raise ConfigError(f"unknown --algo {self.algo!r}", f"expected one of: {', '.join(ALGOS)}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown --backend {self.backend!r}", f"expected one of: {', '.join(BACKENDS)}")
        if self.scale_rewards not in SCALES:
            raise ConfigError(f"unknown --scale-rewards {self.scale_rewards!r}",
                              f"expected one of: {', '.join(SCALES)}")
        if self.generation not in GENERATIONS:
            raise ConfigError(f"unknown --generation {self.generation!r}", f"expected one of: {', '.join(GENERATIONS)}")
        from golong_data.rewards.profiles import get_profile  # lazy: --help imports this module

        get_profile(self.profile)  # raises with the choices
        if not 0.0 <= self.eval_split < 1.0:
            raise ConfigError(f"--eval-split {self.eval_split} is outside [0, 1)", "e.g. 0.1 holds out a tenth")
        if self.eval_split and self.eval_data is not None:
            raise ConfigError("--eval-split and --eval-data both given", "pass one of them")
        if self.data is None:
            raise ConfigError("no training data given", "pass --data train.parquet or --data samples.jsonl")
        if self.backend == "verl":
            if self.emit is None:
                raise ConfigError("--backend verl writes files and needs --emit DIR", "add --emit verl-run/")
        elif not self.tiny and not self.model:
            raise ConfigError("no model given",
                              "pass --model (an HF directory, a .gguf file or smollm2-135m) or --tiny")
        if self.num_generations < 2:
            raise ConfigError("--num-generations must be at least 2", "GRPO needs a group to compare; paper uses 16")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"--alpha {self.alpha} is outside [0, 1]", "the paper uses 0.8")
        if self.max_steps < 1:
            raise ConfigError("--max-steps must be at least 1")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"unknown --device {self.device!r}", "expected one of: auto, cpu, cuda")
        return self

    @property
    def think_gate(self) -> bool | None:
        """What the reward router gets: None keeps the profile's own gate."""
        return False if self.no_think_gate else None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v) for f in fields(self)}
