"""Benchmark: export of 23,000 synthetic 64K-token samples -- seconds and peak RSS, next to a naive baseline.

    python bench/bench_export.py                 # 23,000 samples (about 6 GB of JSONL), then the comparison
    python bench/bench_export.py --n 2000        # smaller

The samples are generated here: all nine task types in their taxonomy shares, each prompt a 64K-token
(~256K-character) window of real text (the chitchat dialogue fixture, repeated), with valid gold.

* ours:  `golong_data.export.stage.run_export` (index pass, then streaming ParquetWriter in 64-row groups + JSONL).
* naive: load every sample, map to rows, `pa.Table.from_pylist(all rows)` + `pq.write_table` + JSONL in one go.

Each runs in its own process; peak RSS is that process's ru_maxrss (os.wait4). The naive baseline holds the
whole set (~2x its size) in memory, so at full scale it runs on a twentieth of the samples and ours runs on
that same twentieth too: the ratio compares like with like, and ours is also timed at full scale.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHARS_PER_TOKEN = 4  # English text under the Qwen / GPT BPEs: ~4 characters per token
TOKENS = 65536


def _corpus() -> str:
    data = json.loads((ROOT / "tests" / "fixtures" / "dialogues" / "chitchat_sample.json").read_text())
    lines = [m["text"] for conv in data.values() for turn in conv["messages"] for m in turn]
    text = "\n".join(lines)
    return (text + "\n") * (2 * TOKENS * CHARS_PER_TOKEN // len(text) + 2)


def generate(path: Path, n: int, seed: int = 0) -> None:
    """n samples of 64K tokens, task types in taxonomy shares, written as samples.jsonl."""
    import orjson

    from golong_data.export.mix import largest_remainder
    from golong_data.records import Sample, to_dict
    from golong_data.taxonomy import load_taxonomy

    tax = load_taxonomy(check_prompts=False)
    counts = largest_remainder(n, {t: s.share for t, s in tax.tasks.items()})
    base = _corpus()
    width = TOKENS * CHARS_PER_TOKEN
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        i = 0
        for task, c in counts.items():
            spec = tax.tasks[task]
            for _ in range(c):
                off = rng.randrange(0, len(base) - width)
                q = f"Question {i}: what does the passage say?"
                label = f"answer {i}"
                gt = {"doc_ids": [], "golden_label": label, "summary": ""}
                if spec.route["data_source"] == "longbench_pro":
                    gt = {"doc_ids": [label], "golden_label": "", "summary": "English"}
                s = Sample(
                    id=f"bench-{i:06d}", task_type=task, capability=spec.capability, metric=spec.metric,
                    route=dict(spec.route),
                    prompt=[{"role": "user", "content": f"{base[off:off + width]}\n\n{q}\n{spec.answer_format}"}],
                    ground_truth=gt, n_tokens=TOKENS, bucket="64k",
                    generator={"kind": "program", "name": "bench", "version": "1", "model": None, "prompt_sha": None,
                               "seed": seed},
                    verification={"pass_rate": rng.choice([0.125, 0.375, 0.5, 0.75])}, answer=label,
                    meta={"question": q},
                )
                f.write(orjson.dumps(to_dict(s)) + b"\n")
                i += 1


def worker_ours(src: Path, out: Path, size: int) -> None:
    from golong_data.config import ExportConfig
    from golong_data.export.stage import run_export

    r = run_export(src, out, ExportConfig(size=size, val_per_type=16, plots=True), command="bench")
    print(r.line, file=sys.stderr)


def worker_naive(src: Path, out: Path, size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from golong_data.export.rows import parquet_schema, sample_to_row
    from golong_data.records import Sample, from_dict

    rows = []
    with open(src / "verified.jsonl", encoding="utf-8") as f:
        for i, line in enumerate(f):
            s = from_dict(Sample, json.loads(line))
            rows.append(sample_to_row(s, i, s.verification.get("pass_rate")))
    rows = rows[:size]
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=parquet_schema()), out / "train.parquet", compression="zstd")
    with open(out / "train.jsonl", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def measure(kind: str, src: Path, out: Path, size: int) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one worker in its own process."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, __file__, "--worker", kind, "--src", str(src), "--out", str(out),
                          "--size", str(size)], env={**os.environ, "TQDM_DISABLE": "1"})
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{kind} worker failed")
    return secs, ru.ru_maxrss / 1024  # Linux: KiB


def _scratch(n: int) -> str | None:
    """RAM-backed /dev/shm when it can hold input + outputs (~3 x 270 KB per sample): the bench then measures
    the exporter, not this VM's disk (~110 MB/s here); else the default temp dir."""
    try:
        st = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if st.f_bavail * st.f_frsize > n * 3 * 280_000 * 1.1 else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=23000)
    ap.add_argument("--worker", choices=["ours", "naive"])
    ap.add_argument("--src", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--size", type=int, default=23000)
    ap.add_argument("--tmp", type=Path, default=None, help="scratch directory (needs ~3x 256 KB per sample)")
    a = ap.parse_args()
    if a.worker:
        (worker_ours if a.worker == "ours" else worker_naive)(a.src, a.out, a.size)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_export.", dir=a.tmp or _scratch(a.n)))
    try:
        full, small = tmp / "full", tmp / "small"
        t0 = time.perf_counter()
        generate(full / "verified.jsonl", a.n)
        gen_s = time.perf_counter() - t0
        gb = (full / "verified.jsonl").stat().st_size / 1e9
        n_small = max(100, a.n // 20)
        small.mkdir()
        with open(full / "verified.jsonl", "rb") as fi, open(small / "verified.jsonl", "wb") as fo:
            for _ in range(n_small):  # the same kind of samples, a twentieth as many
                fo.write(fi.readline())
        print(f"generated {a.n} samples x {TOKENS} tokens ({gb:.2f} GB JSONL) in {gen_s:.0f}s under {tmp}",
              file=sys.stderr)
        ours_s, ours_rss = measure("ours", full, tmp / "out_full", a.n)
        os_s, os_rss = measure("ours", small, tmp / "out_small", n_small)
        nv_s, nv_rss = measure("naive", small, tmp / "out_naive", n_small)
        nv_full_rss = nv_rss * a.n / n_small
        print(f"\nexport benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]})", file=sys.stderr)
        print(f"{'run':<38}{'samples':>9}{'seconds':>10}{'peak RSS MiB':>14}", file=sys.stderr)
        print(f"{'golong-data export (streaming)':<38}{a.n:>9}{ours_s:>10.1f}{ours_rss:>14.0f}", file=sys.stderr)
        print(f"{'golong-data export (streaming)':<38}{n_small:>9}{os_s:>10.1f}{os_rss:>14.0f}", file=sys.stderr)
        print(f"{'naive: load all + Table.from_pylist':<38}{n_small:>9}{nv_s:>10.1f}{nv_rss:>14.0f}", file=sys.stderr)
        print(f"ratio at {n_small} samples (naive / ours): time {nv_s / os_s:.2f}x, peak RSS {nv_rss / os_rss:.1f}x; "
              f"naive at {a.n} would need ~{nv_full_rss / 1024:.1f} GiB (linear in the set)", file=sys.stderr)
        ok = ours_rss < 1024
        print(f"target peak RSS < 1 GiB at {a.n} samples: {'met' if ok else 'MISSED'}", file=sys.stderr)
        if not ok:
            sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
