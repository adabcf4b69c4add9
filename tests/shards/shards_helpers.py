"""Constants and checks shared by the shard tests (a module of its own: `conftest` is ambiguous by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

N = 4  # shards
MAX_TOKENS = 512
THRESHOLD = 0.8
FILES = {
    "ingest": ("documents.jsonl", "rejected.jsonl"),
    "chunk": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
    "dedup": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
}


def shard_front(executor: Any, corpus: Path, work: Path) -> None:
    """ingest -> chunk -> dedup, each as N shard tasks on `executor` then merged, into work/<stage>."""
    from golong_data.config import ChunkConfig, DedupConfig, IngestConfig
    from golong_data.pipeline.sharded import run_sharded
    from golong_data.pipeline.stages import STAGES

    run_sharded(STAGES["ingest"], executor, N, [corpus], work / "ingest", IngestConfig())
    run_sharded(STAGES["chunk"], executor, N, work / "ingest", work / "chunk", ChunkConfig(max_tokens=MAX_TOKENS))
    run_sharded(STAGES["dedup"], executor, N, work / "chunk", work / "dedup", DedupConfig(threshold=THRESHOLD))


def same_bytes(a: Path, b: Path) -> None:
    assert a.read_bytes() == b.read_bytes(), f"{b} differs from {a}"
