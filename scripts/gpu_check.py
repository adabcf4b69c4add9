"""GPU check for `golong-data train`: SmolLM2-135M-Instruct learns pipeline-built samples, proven on held-out data.

1. Load SmolLM2-135M-Instruct through the train loader (its GGUF de-quantized once into a trainable HF dir).
2. Split the pipeline-built samples (`gpu_check.sh prepare`: synthesize at the 1k/2k buckets, fitted to the
   8K window) per task type into train and held-out.
3. Generation speed, side by side on the same model (bf16), prompts and settings: TRL's default path
   (left-padded `model.generate` over the whole generation batch), the same batch sorted into length buckets,
   and transformers' continuous batching (paged KV cache; what `--generation paged` runs), plus continuous
   batching over a 4x larger prompt batch.
4. GRPO and TMN-Reweight from the same base, same steps, seed and data (`--no-think-gate`: SmolLM2 does not
   think), held-out greedy reward per task type at step 0 (the base model), every --eval-steps and at the end.
5. OUT/gpu_check.json (everything above + the done-when verdict), OUT/gpu_check_<algo>.png (per-task curves),
   OUT/gpu_check.png (held-out mean, both algorithms).

    bash scripts/gpu_check.sh                                              # the real check, see its header
    python scripts/gpu_check.py --device cpu --data S.jsonl --steps 1 --max-completion 8 --speed-prompts 2 ...
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from golong_data.records import atomic_open, iter_jsonl, write_jsonl  # noqa: E402
from golong_data.train.config import TrainConfig  # noqa: E402
from golong_data.train.data import load_rows  # noqa: E402
from golong_data.train.evaluate import split_rows  # noqa: E402
from golong_data.train.generation import generate_ids  # noqa: E402
from golong_data.train.models import load_model_and_tokenizer  # noqa: E402
from golong_data.train.plot import write_png  # noqa: E402
from golong_data.train.trl_backend import prompt_ids, train_trl  # noqa: E402

DONE_DELTA = 0.10  # the bar: held-out mean reward +0.10 absolute over the base model, both algorithms


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--model", default="smollm2-135m", help="as `train --model`")
    ap.add_argument("--data", type=Path, required=True, help="samples.jsonl from `gpu_check.sh prepare`")
    ap.add_argument("--out", type=Path, default=Path("gpu-check-out"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/golong-gpu-work"), help="trainer output (checkpoints)")
    ap.add_argument("--eval-split", type=float, default=0.15)
    ap.add_argument("--eval-max", type=int, default=96, help="most held-out samples (the rest go back to train)")
    ap.add_argument("--steps", type=int, default=40, help="RL steps per algorithm (TMN runs as many as GRPO did)")
    ap.add_argument("--rl-seconds", type=float, default=120, help="stop GRPO after this long (the 8-minute budget)")
    ap.add_argument("--eval-steps", type=int, default=20)
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--max-completion", type=int, default=256)
    ap.add_argument("--generation", default="paged", choices=["default", "paged"], help="rollouts in training")
    ap.add_argument("--speed-prompts", type=int, default=8, help="prompts in the speed comparison (x generations)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="stop after the speed comparison")
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


class TimeLimit(TrainerCallback):
    """Stop training after `seconds` (checked at each step's end): the check must fit its time budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.t0 = seconds, time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if time.perf_counter() - self.t0 > self.seconds:
            control.should_training_stop = True
        return control


def speed(model: Any, tok: Any, rows: list[dict[str, Any]], a: argparse.Namespace) -> dict[str, Any]:
    """Generated tokens/s of each rollout path on the same bf16 model, prompts and sampling settings."""
    m = copy.deepcopy(model).to(torch.bfloat16 if a.device == "cuda" else torch.float32).eval()
    g = a.num_generations

    def prompts(n: int) -> list[list[int]]:  # TRL's RepeatSampler: each prompt's g copies side by side
        return [p for r in rows[:n] for p in [prompt_ids(tok, r["prompt"])] * g]

    base, big = prompts(a.speed_prompts), prompts(4 * a.speed_prompts)
    runs = [("trl_default_padded", base, "padded", len(base)), ("bucketed", base, "bucketed", max(1, len(base) // 4)),
            ("paged", base, "paged", len(base)), ("paged_4x_prompts", big, "paged", len(big))]
    generate_ids(m, tok, base[:2], 4, method="padded")  # warm-up: kernels, allocator
    out: dict[str, Any] = {"sequences": len(base), "max_new_tokens": a.max_completion, "temperature": 1.0,
                           "prompt_tokens_mean": sum(map(len, base)) / len(base), "dtype": str(m.dtype)}
    for name, ps, method, bs in runs:
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        _, st = generate_ids(m, tok, ps, a.max_completion, method=method, batch_size=bs, do_sample=True,
                             temperature=1.0, seed=a.seed)
        st["sequences"] = len(ps)
        st["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30 if a.device == "cuda" else None
        out[name] = st
        print(f"speed {name}: {st['tokens']} tokens in {st['seconds']:.1f}s = {st['tokens_per_second']:.0f} tok/s "
              f"({len(ps)} sequences)", flush=True)
    ref = out["trl_default_padded"]["tokens_per_second"]
    out["speedup_vs_trl_default"] = {k: out[k]["tokens_per_second"] / ref if ref else None
                                     for k in ("bucketed", "paged", "paged_4x_prompts")}
    del m
    return out


def main() -> None:
    a = parse()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device; use --device cpu for a dry run")
    t_start = time.perf_counter()
    a.out.mkdir(parents=True, exist_ok=True)
    a.work.mkdir(parents=True, exist_ok=True)
    model, tok = load_model_and_tokenizer(a.model)
    model.to(a.device)
    n_params = sum(p.numel() for p in model.parameters())
    rows = load_rows(a.data)
    train_rows, held = split_rows(rows, a.eval_split, a.seed)
    if len(held) > a.eval_max:  # round-robin over the types, so every type stays represented
        by_type: dict[str, list[dict[str, Any]]] = {}
        for r in held:
            by_type.setdefault(r["task_type"], []).append(r)
        queues = [by_type[t] for t in sorted(by_type)]
        held = [q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)][: a.eval_max]
    held_ids = {r["sample_id"] for r in held}
    train_rows = [r for r in rows if r["sample_id"] not in held_ids]
    records = list(iter_jsonl(a.data))  # the Sample records themselves, split by id
    write_jsonl(a.work / "train.jsonl", [x for x in records if x["id"] not in held_ids])
    write_jsonl(a.work / "held_out.jsonl", [x for x in records if x["id"] in held_ids])
    print(f"model {a.model}: {n_params / 1e6:.1f}M params; {len(train_rows)} train / {len(held)} held-out samples",
          flush=True)

    summary: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu",
        "torch": torch.__version__, "transformers": __import__("transformers").__version__,
        "trl": __import__("trl").__version__, "model": a.model, "model_params_millions": n_params / 1e6,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
        "n_train": len(train_rows), "n_held_out": len(held),
        "held_out_types": sorted({r["task_type"] for r in held}),
        "prompt_tokens_max": max(len(prompt_ids(tok, r["prompt"])) for r in rows),
    }
    if not a.skip_speed:
        summary["speed"] = speed(model, tok, train_rows, a)
    write(a, summary, t_start)
    if a.speed_only:
        return

    results: dict[str, Any] = {}
    for algo in ("grpo", "tmn-reweight"):
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        out = a.work / algo
        shutil.rmtree(out, ignore_errors=True)
        steps = a.steps if algo == "grpo" else results["grpo"]["steps"]  # the same number of steps
        cfg = TrainConfig(algo=algo, model=a.model, data=a.work / "train.jsonl", eval_data=a.work / "held_out.jsonl",
                          eval_steps=a.eval_steps, output_dir=out, max_steps=steps, num_generations=a.num_generations,
                          prompts_per_step=a.prompts_per_step, learning_rate=a.lr, warmup_steps=0,
                          max_completion_length=a.max_completion, temperature=1.0, save_steps=10**9, seed=a.seed,
                          device=a.device, bf16=a.device == "cuda", no_think_gate=True, generation=a.generation,
                          num_completions_to_log=2)
        s = train_trl(cfg, echo=lambda line, algo=algo: print(f"[{algo}] {line}", flush=True),
                      model=copy.deepcopy(model), tokenizer=tok,
                      callbacks=[TimeLimit(a.rl_seconds)] if algo == "grpo" else None)
        metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        step_rows = [r for r in metrics if "reward" in r]
        evals = {int(r["step"]): r for r in metrics if r.get("event") == "eval"}
        first, last = evals[min(evals)], evals[max(evals)]  # step 0 is the base model (same for both)
        types = sorted(k.removeprefix("eval/") for k in first if k.startswith("eval/")
                       and k not in ("eval/n", "eval/tokens_per_second", "eval/mean"))
        gen_tps = [r["gen/tokens_per_second"] for r in step_rows if r.get("gen/tokens_per_second")]
        results[algo] = {
            "steps": s["global_step"],
            "train_seconds": s["train_seconds"],
            "seconds_per_step": s["train_seconds"] / max(1, s["global_step"]),
            "gen_tokens_per_second_mean": sum(gen_tps) / len(gen_tps) if gen_tps else None,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if a.device == "cuda" else None,
            "adv_ms_per_step": 1e3 * s["adv_seconds"] / max(1, s["adv_calls"]),
            "train_reward_curve": [r["reward"] for r in step_rows],
            "eval_curve": {str(k): v for k, v in sorted(evals.items())},
            "held_out_before": {"mean": first["eval/mean"], **{t: first[f"eval/{t}"] for t in types}},
            "held_out_after": {"mean": last["eval/mean"], **{t: last[f"eval/{t}"] for t in types}},
            "held_out_delta": last["eval/mean"] - first["eval/mean"],
            "zero_reward_warning": s["zero_reward_warning"],
        }
        if (out / "eval_curves.png").exists():
            shutil.copyfile(out / "eval_curves.png", a.out / f"gpu_check_{algo}.png")
        print(f"[{algo}] {s['global_step']} steps in {s['train_seconds']:.0f}s; held-out mean "
              f"{first['eval/mean']:.4f} -> {last['eval/mean']:.4f}", flush=True)
        summary["results"] = results
        summary.setdefault("base_eval", {"mean": first["eval/mean"], "n": int(first["eval/n"]),
                                         "per_type": {t: first[f"eval/{t}"] for t in types}})
        write(a, summary, t_start)  # after each algorithm: a timeout keeps GRPO's

    g, t = results["grpo"], results["tmn-reweight"]
    summary["tmn_overhead_ms_per_step"] = t["adv_ms_per_step"] - g["adv_ms_per_step"]
    summary["tmn_overhead_pct_of_grpo_step"] = 100 * summary["tmn_overhead_ms_per_step"] / (1e3 * g["seconds_per_step"])
    summary["done_when"] = {algo: {"delta": r["held_out_delta"], "meets_0.10": r["held_out_delta"] >= DONE_DELTA}
                            for algo, r in results.items()}
    write(a, summary, t_start)
    write_png(a.out / "gpu_check.png",
              {algo: ([float(k) for k in r["eval_curve"]], [v["eval/mean"] for v in r["eval_curve"].values()])
               for algo, r in results.items()}, ylabel="held-out greedy reward (mean)",
              title=f"{a.model}: GRPO vs TMN-Reweight")
    print(json.dumps({k: summary[k] for k in ("device", "speed", "base_eval", "done_when",
                                              "tmn_overhead_ms_per_step") if k in summary}, indent=2))
    print(table(summary))


def table(summary: dict[str, Any]) -> str:
    """Markdown: held-out greedy reward per task type, base vs each algorithm (for docs/ and the README)."""
    res = summary.get("results", {})
    types = ["mean"] + summary["held_out_types"]
    head = "| task type | base | " + " | ".join(res) + " |"
    lines = [head, "|" + "---|" * (2 + len(res))]
    for t in types:
        base = summary["base_eval"]["mean"] if t == "mean" else summary["base_eval"]["per_type"].get(t, math.nan)
        lines.append(f"| {t} | {base:.3f} | " + " | ".join(f"{r['held_out_after'].get(t, math.nan):.3f}"
                                                      for r in res.values()) + " |")
    return "\n".join(lines)


def write(a: argparse.Namespace, summary: dict[str, Any], t_start: float) -> None:
    summary["total_seconds"] = time.perf_counter() - t_start
    with atomic_open(a.out / "gpu_check.json") as f:
        f.write(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
