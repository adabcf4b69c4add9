"""GPU check for `golong-data train`: a small model learns a short-context mix of program-constructed task types.

1. Build samples of six task types (golong_data.train.toy: key/value tables, real answer formats and rewards).
2. Train a small Qwen2 from scratch on the gold answers (no pretrained weights exist offline), only until its
   *sampled* reward (temperature 1, as in RL) on held-out prompts reaches --target-reward: RL then starts from
   a model that is right sometimes, with room to rise.
3. From that checkpoint, GRPO and TMN-Reweight with the TRL backend, same steps and seed.
4. Write OUT/gpu_check.json (per-task reward curves, tokens/s, peak memory, TMN overhead per step vs GRPO)
   and OUT/gpu_check.png (mean reward per step, both algorithms).

    python scripts/gpu_check.py --device cuda --out gpu-check-out          # the real check (< 8 min on an H100)
    python scripts/gpu_check.py --device cpu --steps 2 --pretrain-steps 2  # proves it runs
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import struct
import sys
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from golong_data.records import write_jsonl  # noqa: E402
from golong_data.train.config import TrainConfig  # noqa: E402
from golong_data.train.toy import THINK, TYPES, make_samples  # noqa: E402
from golong_data.train.trl_backend import build_tiny_model, build_tokenizer, prompt_ids, train_trl  # noqa: E402


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--out", type=Path, default=Path("gpu-check-out"))
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--rows", type=int, default=5, help="table rows per context")
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--pretrain-steps", type=int, default=600, help="most pre-training steps")
    ap.add_argument("--target-reward", type=float, default=0.3, help="stop pre-training at this sampled reward")
    ap.add_argument("--eval-every", type=int, default=25, help="pre-training steps between sampled-reward checks")
    ap.add_argument("--work", type=Path, default=Path("/tmp/golong-gpu-work"), help="trainer output (checkpoints)")
    ap.add_argument("--pretrain-batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=200, help="RL steps per algorithm (TMN runs as many as GRPO did)")
    ap.add_argument("--rl-seconds", type=float, default=120, help="stop GRPO after this long (the 8-minute budget)")
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-5, help="RL learning rate (the tiny model is far from 4B scale)")
    ap.add_argument("--max-completion", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.rows < 4:
        ap.error("--rows must be >= 4 (comprehension asks a 4-option question about the table's keys)")
    return a


def available_types() -> tuple[str, ...]:
    """numerical_reasoning scores with math-verify; leave it out where that is not installed."""
    try:
        import math_verify  # noqa: F401
    except ImportError:
        return tuple(t for t in TYPES if t != "numerical_reasoning")
    return TYPES


class TimeLimit(TrainerCallback):
    """Stop training after `seconds` (checked at each step's end): the check must fit its time budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.t0 = seconds, time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if time.perf_counter() - self.t0 > self.seconds:
            control.should_training_stop = True
        return control


def sampled_reward(model: Any, tok: Any, samples: list[Any], device: str, max_new: int, seed: int) -> float:
    """Mean reward of one completion per sample at temperature 1 (what GRPO's rollouts see), scored by the
    project's reward router."""
    from golong_data.train.trl_backend import golong_reward

    was_training = model.training
    model.eval()
    tok.padding_side = "left"
    torch.manual_seed(seed)
    texts = [tok.apply_chat_template(s.prompt, add_generation_prompt=True, tokenize=False) for s in samples]
    enc = tok(texts, add_special_tokens=False, return_tensors="pt", padding=True).to(device)
    with torch.no_grad(), torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
        out = model.generate(**enc, do_sample=True, temperature=1.0, top_p=1.0, max_new_tokens=max_new,
                             pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    completions = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    model.train(was_training)
    scores = golong_reward(completions, [s.route["data_source"] for s in samples],
                           [s.route["reward_mode"] for s in samples],
                           [json.dumps(s.ground_truth) for s in samples])
    return sum(scores) / len(scores)


def pretrain(model: Any, tok: Any, samples: list[Any], held_out: list[Any], a: argparse.Namespace) -> dict[str, Any]:
    """Next-token loss on the gold completions only (prompt tokens masked), AdamW, cosine over --pretrain-steps;
    stops early once the sampled reward on `held_out` reaches --target-reward."""
    device, batch = a.device, a.pretrain_batch
    rng = random.Random(a.seed)
    examples = []
    for s in samples:
        c = tok(THINK + s.answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
        examples.append((prompt_ids(tok, s.prompt), list(c)))
    steps = a.pretrain_steps
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    model.train()
    losses: list[float] = []
    evals: list[tuple[int, float]] = []
    for step in range(1, steps + 1):
        chunk = [examples[rng.randrange(len(examples))] for _ in range(batch)]
        n = max(len(p) + len(c) for p, c in chunk)
        ids = torch.full((batch, n), tok.pad_token_id)
        labels = torch.full((batch, n), -100)
        attn = torch.zeros((batch, n), dtype=torch.long)
        for i, (p, c) in enumerate(chunk):
            seq = p + c
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, len(p) : len(seq)] = torch.tensor(c)
            attn[i, : len(seq)] = 1
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(input_ids=ids.to(device), attention_mask=attn.to(device), labels=labels.to(device)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % a.eval_every == 0 or step == steps:
            r = sampled_reward(model, tok, held_out, device, a.max_completion, a.seed + step)
            evals.append((step, r))
            print(f"pretrain step {step}: loss {losses[-1]:.3f}, sampled reward {r:.3f}", flush=True)
            if r >= a.target_reward:
                break
    return {"steps": len(losses), "loss_first": losses[0], "loss_last": losses[-1], "sampled_reward": evals}


def write_png(path: Path, series: dict[str, list[float]], w: int = 640, h: int = 360) -> None:
    """A line chart of each series (y in [0, 1]); matplotlib when installed, else a minimal PNG written here."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(w / 100, h / 100), dpi=100)
        for name, ys in series.items():
            ax.plot(range(1, len(ys) + 1), ys, label=name)
        ax.set_xlabel("RL step")
        ax.set_ylabel("mean reward")
        ax.set_ylim(0, 1)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return
    except ImportError:
        pass
    colors = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]
    px = [[(255, 255, 255)] * w for _ in range(h)]
    for ys, col in zip(series.values(), colors, strict=False):
        pts = [(int(20 + (w - 40) * i / max(1, len(ys) - 1)), int(h - 20 - (h - 40) * min(1.0, max(0.0, y))))
               for i, y in enumerate(ys)]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            for t in range(101):
                x, y = round(x0 + (x1 - x0) * t / 100), round(y0 + (y1 - y0) * t / 100)
                for dy in (0, 1):
                    if 0 <= y + dy < h:
                        px[y + dy][x] = col
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in px)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def main() -> None:
    a = parse()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device; use --device cpu for a dry run")
    a.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    types = available_types()
    samples = make_samples(a.samples, seed=a.seed, types=types, n_rows=a.rows)
    held_out = make_samples(12 * len(types), seed=a.seed + 1, types=types, n_rows=a.rows)
    a.work.mkdir(parents=True, exist_ok=True)
    data = a.work / "samples.jsonl"
    write_jsonl(data, samples)
    tok = build_tokenizer([m["content"] for s in samples for m in s.prompt] + [THINK + s.answer for s in samples])
    base = build_tiny_model(tok, a.seed, hidden=a.hidden, layers=a.layers).to(a.device)
    n_params = sum(p.numel() for p in base.parameters())
    t0 = time.perf_counter()
    pre = pretrain(base, tok, samples, held_out, a)
    pre["seconds"] = time.perf_counter() - t0
    print(f"pretrain: {n_params / 1e6:.2f}M params, {pre['steps']} steps in {pre['seconds']:.0f}s, "
          f"loss {pre['loss_first']:.3f} -> {pre['loss_last']:.3f}", flush=True)

    results: dict[str, Any] = {}
    for algo in ("grpo", "tmn-reweight"):
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        out = a.work / algo
        max_steps = a.steps if algo == "grpo" else results["grpo"]["steps"]  # the same number of steps
        cfg = TrainConfig(algo=algo, data=data, tiny=True, output_dir=out, max_steps=max_steps,
                          num_generations=a.num_generations, prompts_per_step=a.prompts_per_step,
                          learning_rate=a.lr, warmup_steps=0, max_completion_length=a.max_completion,
                          temperature=1.0, save_steps=10**9, seed=a.seed, device=a.device, bf16=a.device == "cuda",
                          num_completions_to_log=2)
        if out.exists():
            import shutil

            shutil.rmtree(out)
        s = train_trl(cfg, echo=lambda line, algo=algo: print(f"[{algo}] {line}", flush=True),
                      model=copy.deepcopy(base), tokenizer=tok,
                      callbacks=[TimeLimit(a.rl_seconds)] if algo == "grpo" else None)
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        rows = [r for r in rows if "reward" in r]
        tasks = sorted({k.split("/")[1] for r in rows for k in r if k.startswith("task/")})
        per_task = {t: [r.get(f"task/{t}/reward_mean") for r in rows] for t in tasks}
        k = max(1, len(rows) // 5)

        def window(xs: list[Any], first: bool, k: int = k) -> float | None:
            vals = [x for x in (xs[:k] if first else xs[-k:]) if x is not None]
            return sum(vals) / len(vals) if vals else None

        steps = s["global_step"]
        results[algo] = {
            "steps": steps,
            "train_seconds": s["train_seconds"],
            "steps_per_second": steps / s["train_seconds"],
            "tokens_per_second": (rows[-1].get("num_tokens", 0) / s["train_seconds"]) if rows else None,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if a.device == "cuda" else None,
            "adv_ms_per_step": 1e3 * s["adv_seconds"] / max(1, s["adv_calls"]),
            "reward_curve": [r["reward"] for r in rows],
            "task_reward_curves": per_task,
            "task_reward_first_vs_last_fifth": {t: [window(v, True), window(v, False)] for t, v in per_task.items()},
            "tmn_last": {k2: v for k2, v in rows[-1].items() if k2.startswith("tmn/")} if rows else {},
        }
        curve = results[algo]["reward_curve"]
        print(f"[{algo}] {steps} steps in {s['train_seconds']:.0f}s; reward "
              f"{window(curve, True):.3f} -> {window(curve, False):.3f}", flush=True)
        write_summary(a, results, pre, types, n_params, t_start)  # after each algorithm: a timeout keeps GRPO's

    print(json.dumps({k: v for k, v in json.loads((a.out / "gpu_check.json").read_text()).items()
                      if k not in ("results", "settings")}, indent=2))
    for algo, r in results.items():
        print(algo, json.dumps(r["task_reward_first_vs_last_fifth"]))


def write_summary(a: argparse.Namespace, results: dict[str, Any], pre: dict[str, Any], types: tuple[str, ...],
                  n_params: int, t_start: float) -> None:
    summary: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
        "task_types": list(types),
        "model_params_millions": n_params / 1e6,
        "pretrain": pre,
        "results": results,
        "total_seconds": time.perf_counter() - t_start,
    }
    if "grpo" in results and "tmn-reweight" in results:
        g, t = results["grpo"], results["tmn-reweight"]
        step_ms = 1e3 * g["train_seconds"] / max(1, g["steps"])
        summary["tmn_overhead_ms_per_step"] = t["adv_ms_per_step"] - g["adv_ms_per_step"]
        summary["tmn_overhead_pct_of_grpo_step"] = 100 * summary["tmn_overhead_ms_per_step"] / step_ms
    (a.out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_png(a.out / "gpu_check.png", {k: r["reward_curve"] for k, r in results.items()})


if __name__ == "__main__":
    main()
