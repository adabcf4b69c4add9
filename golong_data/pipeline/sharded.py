"""Stages as N shard tasks on an executor, then merged: the bytes the single-machine stage writes.

    ex = get_executor("ray", address="auto")
    sharded.ingest(ex, 8, [Path("corpus")], Path("work/ingest"))          # work/ingest.shards/0..7 + work/ingest
    sharded.chunk(ex, 8, Path("work/ingest"), Path("work/chunk"), max_tokens=2048)
    sharded.dedup(ex, 8, Path("work/chunk"), Path("work/dedup"))           # signatures per chunk shard
    sharded.synthesize(ex, 8, Path("work/dedup"), Path("work/synthesize"), SynthConfig(...))
    sharded.verify(ex, 8, Path("work/synthesize"), Path("work/verify"), VerifyConfig(...))

Each function runs `--shard i/N` of its stage as N tasks (golong_data.pipeline.executor: a process pool or Ray, with
retries), writing OUT.shards/i, then the stage's merge writes OUT. Export is a global mix over all samples
(quotas per type, one question filter) and takes ~1 minute for 23K samples: it runs once, after the merge.
`golong-data run` uses these when its config has a `shards:` section; `golong-data shards` runs the
ingest -> dedup front.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golong_data.errors import ConfigError
from golong_data.pipeline.executor import LocalExecutor, RayExecutor, Task
from golong_data.pipeline.shard import shard_dirs

Executor = LocalExecutor | RayExecutor


def _run(executor: Executor, stage: str, fn: str, n: int, out: Path,
         kwargs: Callable[[Path, str], dict[str, Any]]) -> list[Path]:
    if n < 1:
        raise ConfigError(f"shards must be >= 1, got {n}")
    dirs = shard_dirs(out, n)
    executor.run([Task(f"{stage} {i}/{n}", fn, kwargs(d, f"{i}/{n}")) for i, d in enumerate(dirs)],
                 desc=f"{stage} shards")
    return dirs


def ingest(executor: Executor, n: int, paths: Sequence[Path], out: Path, **opts: Any) -> str:
    from golong_data.ingest.merge import merge_ingest

    paths = [Path(p) for p in paths]
    opts = {**opts, "workers": 1}  # one reader per task: the executor's workers are the parallelism
    dirs = _run(executor, "ingest", "golong_data.ingest.stage:run_ingest", n, out,
                lambda d, s: {"paths": paths, "out": d, "shard": s, **opts})
    return merge_ingest(dirs, out, paths)


def chunk(executor: Executor, n: int, in_dir: Path, out: Path, **opts: Any) -> str:
    from golong_data.chunk import merge_chunk

    dirs = _run(executor, "chunk", "golong_data.chunk:run_chunk", n, out,
                lambda d, s: {"in_dir": Path(in_dir), "out_dir": d, "shard": s, **opts})
    return merge_chunk(dirs, out)


def dedup(executor: Executor, n: int, chunk_out: Path, out: Path, **opts: Any) -> str:
    """Near-duplicate removal over the chunk shards of `chunk(...)` (their signatures are the N tasks)."""
    from golong_data.dedup.shards import run_dedup_shards

    return run_dedup_shards(shard_dirs(chunk_out, n), out, **opts, executor=executor,
                            work_dir=Path(out).parent / f"{Path(out).name}.shards")


def synthesize(executor: Executor, n: int, in_dir: Path, out: Path, cfg: Any, taxonomy: Path | None = None) -> str:
    from dataclasses import replace

    from golong_data.synth.merge import merge_synthesize

    dirs = _run(executor, "synthesize", "golong_data.synth.stage:run_synthesize", n, out,
                lambda d, s: {"in_dir": Path(in_dir), "out_dir": d, "cfg": replace(cfg, shard=s),
                              "taxonomy_path": taxonomy})
    return merge_synthesize(dirs, out)


def verify(executor: Executor, n: int, in_dir: Path, out: Path, cfg: Any, seed: int = 0) -> str:
    from golong_data.verify.merge import merge_verify

    dirs = _run(executor, "verify", "golong_data.verify.stage:run_verify", n, out,
                lambda d, s: {"in_dir": Path(in_dir), "out_dir": d, "cfg": cfg, "seed": seed, "shard": s})
    return merge_verify(dirs, out)


@dataclass
class ShardedResult:
    lines: list[str]
    dedup_dir: Path


def run_sharded(corpus: Sequence[Path], work_dir: Path, shards: int, max_tokens: int, executor: Executor,
                tokenizer: str | None = None, threshold: float = 0.8, num_perm: int = 128,
                ngram: int = 5) -> ShardedResult:
    """`golong-data shards`: ingest -> chunk -> dedup, each as shard tasks, into work_dir/{ingest,chunk,dedup}."""
    work = Path(work_dir)
    lines = [ingest(executor, shards, corpus, work / "ingest"),
             chunk(executor, shards, work / "ingest", work / "chunk", max_tokens=max_tokens, tokenizer=tokenizer),
             dedup(executor, shards, work / "chunk", work / "dedup", threshold=threshold, num_perm=num_perm,
                   ngram=ngram)]
    return ShardedResult(lines, work / "dedup")
