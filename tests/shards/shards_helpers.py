"""Constants and checks shared by the shard tests (a module of its own: `conftest` is ambiguous by name)."""

from __future__ import annotations

from pathlib import Path

N = 4  # shards
MAX_TOKENS = 512
THRESHOLD = 0.8
FILES = {
    "ingest": ("documents.jsonl", "rejected.jsonl"),
    "chunk": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
    "dedup": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
}


def same_bytes(a: Path, b: Path) -> None:
    assert a.read_bytes() == b.read_bytes(), f"{b} differs from {a}"
