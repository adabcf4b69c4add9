"""GPU check for `golong-data train`: a small model learns a short-context mix of program-constructed task types.

1. Build samples of six task types (golong_data.train.toy: key/value tables, real answer formats and rewards).
2. Train a small Qwen2 from scratch on the gold answers (no pretrained weights exist offline), briefly.
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
    ap.add_argument("--pretrain-steps", type=int, default=600)
    ap.add_argument("--pretrain-batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=80, help="RL steps per algorithm")
    ap.add_argument("--num-generations", type=int, default=8)
    ap.add_argument("--prompts-per-step", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-5, help="RL learning rate (the tiny model is far from 4B scale)")
    ap.add_argument("--max-completion", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    return ap.parse_args()


def available_types() -> tuple[str, ...]:
    """numerical_reasoning scores with math-verify; leave it out where that is not installed."""
    try:
        import math_verify  # noqa: F401
    except ImportError:
        return tuple(t for t in TYPES if t != "numerical_reasoning")
    return TYPES


def pretrain(model: Any, tok: Any, samples: list[Any], steps: int, batch: int, device: str, seed: int) -> list[float]:
    """Next-token loss on the gold completions only (prompt tokens masked), AdamW, cosine to zero."""
    rng = random.Random(seed)
    examples = []
    for s in samples:
        c = tok(THINK + s.answer + "<|im_end|>", add_special_tokens=False)["input_ids"]
        examples.append((prompt_ids(tok, s.prompt), list(c)))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * min(i, steps) / steps)))
    model.train()
    losses = []
    for _ in range(steps):
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
    return losses


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
    data = a.out / "samples.jsonl"
    write_jsonl(data, samples)
    tok = build_tokenizer([m["content"] for s in samples for m in s.prompt] + [THINK + s.answer for s in samples])
    base = build_tiny_model(tok, a.seed, hidden=a.hidden, layers=a.layers).to(a.device)
    n_params = sum(p.numel() for p in base.parameters())
    t0 = time.perf_counter()
    losses = pretrain(base, tok, samples, a.pretrain_steps, a.pretrain_batch, a.device, a.seed)
    pretrain_s = time.perf_counter() - t0
    print(f"pretrain: {n_params / 1e6:.2f}M params, {a.pretrain_steps} steps in {pretrain_s:.0f}s, "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}", flush=True)

    results: dict[str, Any] = {}
    for algo in ("grpo", "tmn-reweight"):
        if a.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        out = a.out / algo
        cfg = TrainConfig(algo=algo, data=data, tiny=True, output_dir=out, max_steps=a.steps,
                          num_generations=a.num_generations, prompts_per_step=a.prompts_per_step,
                          learning_rate=a.lr, warmup_steps=0, max_completion_length=a.max_completion,
                          temperature=1.0, save_steps=10**9, seed=a.seed, device=a.device, bf16=a.device == "cuda",
                          num_completions_to_log=2)
        if out.exists():
            import shutil

            shutil.rmtree(out)
        s = train_trl(cfg, echo=lambda line, algo=algo: print(f"[{algo}] {line}", flush=True),
                      model=copy.deepcopy(base), tokenizer=tok)
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

    g, t = results["grpo"], results["tmn-reweight"]
    step_ms = 1e3 * g["train_seconds"] / max(1, g["steps"])
    summary = {
        "device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "settings": vars(a) | {"out": str(a.out)},
        "task_types": list(types),
        "model_params_millions": n_params / 1e6,
        "pretrain": {"steps": a.pretrain_steps, "seconds": pretrain_s, "loss_first": losses[0],
                     "loss_last": losses[-1]},
        "results": results,
        "tmn_overhead_ms_per_step": t["adv_ms_per_step"] - g["adv_ms_per_step"],
        "tmn_overhead_pct_of_grpo_step": 100 * (t["adv_ms_per_step"] - g["adv_ms_per_step"]) / step_ms,
        "total_seconds": time.perf_counter() - t_start,
    }
    (a.out / "gpu_check.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_png(a.out / "gpu_check.png", {"grpo": g["reward_curve"], "tmn-reweight": t["reward_curve"]})
    print(json.dumps({k: v for k, v in summary.items() if k not in ("results", "settings")}, indent=2))
    for algo, r in results.items():
        print(algo, json.dumps(r["task_reward_first_vs_last_fifth"]))


if __name__ == "__main__":
    main()
