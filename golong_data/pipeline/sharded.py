"""Any stage as N shard tasks on an executor, then merged: the bytes the single-machine stage writes.

    ex = get_executor("ray", address="auto")
    run_sharded(STAGES["chunk"], ex, 8, Path("work/ingest"), Path("work/chunk"), ChunkConfig(max_tokens=2048))
    # shard i writes work/chunk.shards/i; the merge writes work/chunk

`golong-data shard STAGE` and `golong-data run` (with a `shards:` section) both come here; the registry
(pipeline/stages.py) says how each stage shards. Shards run by hand on other machines
(`golong-data STAGE --shard i/N`) are joined with `golong-data shard STAGE --merge-only SHARD_DIR...`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golong_data.errors import ConfigError
from golong_data.pipeline.executor import Task
from golong_data.pipeline.shard import shard_dirs
from golong_data.pipeline.stage import read_manifest
from golong_data.pipeline.stages import Stage, StageResult
from golong_data.records import sha256_file


def upstream_shards(in_dir: Path, n: int) -> list[Path] | None:
    """The n shard directories beside in_dir (IN.shards/i) when in_dir is exactly their merge -- its manifest
    records each shard file with the sha256 it still has -- else None."""
    merged = read_manifest(in_dir)
    if merged is None or (merged.get("config") or {}).get("merged_shards") != n:
        return None
    dirs = shard_dirs(in_dir, n)
    recorded = {Path(i["path"]): i["sha256"] for i in merged.get("inputs", [])}
    mine = {d.resolve() for d in dirs}
    if not recorded or any(p.parent.resolve() not in mine for p in recorded):
        return None
    if any(not p.is_file() or sha256_file(p) != digest for p, digest in recorded.items()):
        return None
    return dirs


def run_sharded(stage: Stage, executor: Any, n: int, inputs: Any, out: Path, cfg: Any) -> StageResult:
    """Run `stage` as n shard tasks writing OUT.shards/i, then merge them into out."""
    if n < 1:
        raise ConfigError(f"shards must be >= 1, got {n}")
    stage.require_shards()
    out = Path(out)
    dirs = shard_dirs(out, n)
    if stage.shards == "upstream":
        task_inputs: Sequence[Any] | None = upstream_shards(Path(inputs), n)
        if task_inputs is None:  # no matching upstream shards: the single run writes the same bytes
            res = stage.run(inputs, out, cfg)
            res.notes.insert(0, f"{stage.name}: no {n} {stage.reads} shards match {inputs}; ran unsharded")
            return res
        merge_inputs: Sequence[Path] = task_inputs
    else:
        task_inputs = [inputs] * n
        merge_inputs = [Path(p) for p in inputs] if stage.reads == "corpus" else []
    tasks = [Task(f"{stage.name} {i}/{n}", f"{stage.module}:run",
                  {"inputs": task_inputs[i], "out_dir": d, "cfg": cfg, "shard": f"{i}/{n}"})
             for i, d in enumerate(dirs)]
    executor.run(tasks, desc=f"{stage.name} shards")
    return stage.merge(dirs, out, cfg, merge_inputs)
