"""Shard scaling on one machine: ingest and dedup throughput with the local executor, 1 vs 2 workers.

    python bench/bench_shards.py [CORPUS_DIR] [--copies K] [--shards N]

The corpus (default: tests/fixtures, every file copied K=3 times under new names so there is work for N=4
shards) is ingested as N shard tasks on LocalExecutor(workers=1) and (workers=2), interleaved ROUNDS times,
best round kept (the least noisy estimate on a shared machine). Dedup: dedup-shards over chunk shards of K
near-duplicate variants of every distinct document (signatures in parallel, clustering in the driver).
Prints wall-clock documents/s, the 2-vs-1 ratio, and documents per CPU-second (this process and its workers:
the per-core rate the README's cluster estimate uses, which machine load barely moves). The 2-worker ratio is
bounded by the machine's free cores: on a 2-core box shared with other jobs it stays near 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data.pipeline.executor import LocalExecutor, Task  # noqa: E402

ROUNDS = 2


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (pool workers are reaped when the pool closes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def build_corpus(src: Path, dst: Path, copies: int) -> int:
    n = 0
    for f in sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in (".epub", ".pdf", ".json")):
        for k in range(copies):
            out = dst / f"{k}" / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, out)
            n += 1
    return n


def ingest_tasks(corpus: Path, work: Path, n: int) -> list[Task]:
    return [Task(f"ingest {i}/{n}", "golong_data.ingest.stage:run_ingest",
                 {"paths": [corpus], "out": work / str(i), "shard": f"{i}/{n}", "workers": 1}) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default=str(ROOT / "tests" / "fixtures"))
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--shards", type=int, default=4)
    args = ap.parse_args()
    from golong_data.chunk import run_chunk
    from golong_data.dedup.shards import run_dedup_shards
    from golong_data.ingest.merge import merge_ingest
    from golong_data.records import iter_jsonl, write_jsonl

    n = args.shards
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        corpus = tmpd / "corpus"
        n_files = build_corpus(Path(args.corpus), corpus, args.copies)
        times: dict[str, list[float]] = {"ingest1": [], "ingest2": [], "dedup1": [], "dedup2": []}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        # ingest, 1 vs 2 workers, rounds interleaved so load spikes hit both alike
        for r in range(ROUNDS):
            for w in (1, 2):
                t, c = time.perf_counter(), cpu_seconds()
                LocalExecutor(workers=w, progress=False).run(ingest_tasks(corpus, tmpd / f"ing{w}.{r}", n))
                times[f"ingest{w}"].append(time.perf_counter() - t)
                cpu[f"ingest{w}"].append(cpu_seconds() - c)
        shard_dirs = [tmpd / "ing1.0" / str(i) for i in range(n)]
        merge_ingest(shard_dirs, tmpd / "ingest", [corpus])
        # copies are exact duplicates the merge drops; the shards read (and parsed) every copy
        read = sum(sum(1 for _ in iter_jsonl(d / "documents.jsonl")) for d in shard_dirs)
        read_chars = sum(len(x["text"]) for d in shard_dirs for x in iter_jsonl(d / "documents.jsonl"))
        # dedup input: each distinct document K times with a different first line -- near duplicates, so the
        # clustering has real clusters to find, and K x the text to sign.
        variants = []
        for x in iter_jsonl(tmpd / "ingest" / "documents.jsonl"):
            for k in range(args.copies):
                prefix = f"Variant {k}.\n\n"
                variants.append({**x, "id": f"{x['id']}-{k}", "text": prefix + x["text"], "sections": [
                    {**sec, "start": sec["start"] + len(prefix), "end": sec["end"] + len(prefix)}
                    for sec in x.get("sections", [])]})
        write_jsonl(tmpd / "variants" / "documents.jsonl", variants)
        docs, chars = len(variants), sum(len(v["text"]) for v in variants)
        del variants
        chunk_dirs = [tmpd / "chunk" / str(i) for i in range(n)]
        for i, d in enumerate(chunk_dirs):
            run_chunk(tmpd / "variants", d, 2048, shard=f"{i}/{n}")
        for r in range(ROUNDS):
            for w in (1, 2):
                t, c = time.perf_counter(), cpu_seconds()
                run_dedup_shards(chunk_dirs, tmpd / f"dd{w}.{r}", executor=LocalExecutor(workers=w, progress=False),
                                 work_dir=tmpd / f"sig{w}.{r}")
                times[f"dedup{w}"].append(time.perf_counter() - t)
                cpu[f"dedup{w}"].append(cpu_seconds() - c)
    b = {k: min(v) for k, v in times.items()}
    print(f"corpus: {n_files} files ({args.copies} copies of {args.corpus}), {read} documents read by {n} shards, "
          f"dedup over {docs} documents; cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for stage, unit, amount in (("ingest", "docs/s", read), ("dedup", "docs/s", docs)):
        r1, r2 = amount / b[f"{stage}1"], amount / b[f"{stage}2"]
        print(f"{stage}: 1 worker {b[f'{stage}1']:.2f} s ({r1:.1f} {unit}), 2 workers {b[f'{stage}2']:.2f} s "
              f"({r2:.1f} {unit}), ratio {r2 / r1:.2f}; {amount / min(cpu[stage + '1']):.1f} docs per CPU-second")
    print(f"text: ingest {read_chars / 1e6:.1f} M chars, {read_chars / 1e6 / min(cpu['ingest1']):.2f} M chars per "
          f"CPU-second; dedup {chars / 1e6:.1f} M chars, {chars / 1e6 / min(cpu['dedup1']):.2f} M chars per CPU-second")


if __name__ == "__main__":
    main()
