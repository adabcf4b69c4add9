"""Held-out evaluation: greedy answers scored by the reward router, mean reward per task type.

    golong-data eval --model smollm2-135m --data work/verify --no-think-gate
    golong-data train ... --eval-split 0.1 --eval-steps 10     # before, every 10 steps, at the end

The held-out split is per task type and by a hash of the sample id (not the file order), so the same data and
seed always hold out the same samples, and every type with enough samples is represented.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.records import atomic_open
from golong_data.rewards import compute_score, get_profile
from golong_data.train.data import load_rows, prompt_ids
from golong_data.train.generation import generate_ids
from golong_data.train.models import load_model_and_tokenizer


def split_rows(rows: list[dict[str, Any]], frac: float, seed: int = 0) -> tuple[list[dict[str, Any]],
                                                                              list[dict[str, Any]]]:
    """(train, held_out): round(frac * n) samples of each task type held out (at least 1 where n >= 2)."""
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_type[r["task_type"]].append(r)
    held_ids: set[str] = set()
    for items in by_type.values():
        k = min(len(items) - 1, max(1, round(frac * len(items)))) if frac > 0 else 0
        ranked = sorted(items, key=lambda r: hashlib.sha256(f"{seed}:{r['sample_id']}".encode()).hexdigest())
        held_ids.update(r["sample_id"] for r in ranked[:k])
    return [r for r in rows if r["sample_id"] not in held_ids], [r for r in rows if r["sample_id"] in held_ids]


@dataclass
class EvalResult:
    per_type: dict[str, float]
    mean: float
    n: int
    tokens: int = 0
    seconds: float = 0.0
    scores: list[dict[str, Any]] = field(default_factory=list)  # {sample_id, task_type, score, completion}

    def metrics(self, prefix: str = "eval") -> dict[str, float]:
        """Flat keys for metrics.jsonl: eval/mean, eval/<task_type>, eval/n, eval/tokens_per_second."""
        m = {f"{prefix}/mean": self.mean, f"{prefix}/n": float(self.n),
             f"{prefix}/tokens_per_second": self.tokens / self.seconds if self.seconds else 0.0}
        m.update({f"{prefix}/{t}": v for t, v in sorted(self.per_type.items())})
        return m

    def table(self) -> str:
        counts: dict[str, int] = defaultdict(int)
        for s in self.scores:
            counts[s["task_type"]] += 1
        lines = [f"{'task type':24} {'n':>4} {'mean':>7}"]
        lines += [f"{t:24} {counts[t]:>4} {v:>7.4f}" for t, v in sorted(self.per_type.items())]
        lines.append(f"{'all':24} {self.n:>4} {self.mean:>7.4f}")
        return "\n".join(lines)


def evaluate(model: Any, tok: Any, rows: list[dict[str, Any]], *, profile: str = "golongrl",
             think_gate: bool | None = None, max_new_tokens: int = 256, batch_size: int = 16,
             method: str = "bucketed") -> EvalResult:
    """Greedy completions for `rows` (train rows: prompt, data_source, reward_mode, ground_truth, task_type)."""
    if not rows:
        raise GolongError("no held-out samples to evaluate", "raise --eval-split or pass --eval-data")
    prof = get_profile(profile, think_gate)
    prompts = [prompt_ids(tok, r["prompt"]) for r in rows]
    ids, stats = generate_ids(model, tok, prompts, max_new_tokens, method=method, batch_size=batch_size)
    texts = tok.batch_decode(ids, skip_special_tokens=True)
    by_type: dict[str, list[float]] = defaultdict(list)
    scores = []
    for r, text in zip(rows, texts, strict=True):
        s = float(compute_score(r["data_source"], text, json.loads(r["ground_truth"]),
                                {"reward_mode": r["reward_mode"]}, profile=prof))
        by_type[r["task_type"]].append(s)
        scores.append({"sample_id": r["sample_id"], "task_type": r["task_type"], "score": s, "completion": text})
    allv = [s["score"] for s in scores]
    return EvalResult(per_type={t: math.fsum(v) / len(v) for t, v in by_type.items()},
                      mean=math.fsum(allv) / len(allv), n=len(allv), tokens=int(stats["tokens"]),
                      seconds=stats["seconds"], scores=scores)


def eval_curves(metrics_path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Per-task (steps, values) of the eval rows in a metrics.jsonl, for the PNG."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for line in Path(metrics_path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("event") != "eval":
            continue
        for k, v in row.items():
            if k.startswith("eval/") and k not in ("eval/n", "eval/tokens_per_second"):
                xs, ys = curves.setdefault(k.removeprefix("eval/"), ([], []))
                xs.append(int(row["step"]))
                ys.append(float(v))
    return curves


def run_eval(model_spec: str, data: Path, *, out: Path | None = None, profile: str = "golongrl",
             think_gate: bool | None = None, max_new_tokens: int = 256, batch_size: int = 16, limit: int | None = None,
             device: str = "auto", method: str = "bucketed", echo: Any = print) -> EvalResult:
    """`golong-data eval`: load the model (same loader as train), evaluate every sample of `data`."""
    import torch  # lazy: torch

    rows = load_rows(Path(data))[:limit] if limit else load_rows(Path(data))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    model, tok = load_model_and_tokenizer(model_spec, dtype=torch.bfloat16 if use_cuda else None, echo=echo)
    model.to("cuda" if use_cuda else "cpu")
    result = evaluate(model, tok, rows, profile=profile, think_gate=think_gate, max_new_tokens=max_new_tokens,
                      batch_size=batch_size, method=method)
    if out is not None:
        with atomic_open(Path(out)) as f:
            for s in result.scores:
                f.write(json.dumps(s, ensure_ascii=False) + "\n")
    return result
