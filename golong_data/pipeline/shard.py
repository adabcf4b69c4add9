"""Sharding, generic: which records shard i/N owns, where shard outputs live, and the k-way merge by position.

A shard writes a subsequence of the single run's output, in the single run's order. So a stage's merge is a
k-way merge (heapq.merge, streaming: one record per shard in memory) by each record's position in that order;
each stage says what the position is (its merge module). `upstream_order` reads the documents order the shards
were given, cheaply: a Document line starts with its id.
"""

from __future__ import annotations

import heapq
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.pipeline.stage import MANIFEST, read_manifest
from golong_data.records import iter_jsonl


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """'i/N' -> (i, N); None -> None (the whole input)."""
    if not spec:
        return None
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/N (e.g. 0/4), got {spec!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard {spec}: need 0 <= i < N")
    return i, n


def in_shard(record_id: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic shard assignment by id (stable across machines and Python runs)."""
    if shard is None:
        return True
    return zlib.crc32(record_id.encode()) % shard[1] == shard[0]


def shard_manifests(shard_dirs: Sequence[Path], stage: str) -> list[dict[str, Any]]:
    """The finished shard runs' manifests, checked to be shards 0..N-1 of one N of `stage` with one config."""
    if not shard_dirs:
        raise GolongError("no shard directories given", "pass the --out directories of the `--shard i/N` runs")
    mans: list[dict[str, Any]] = []
    for d in shard_dirs:
        m = read_manifest(Path(d))
        if m is None:
            raise GolongError(f"{d}/{MANIFEST} not found: that shard did not finish",
                              "rerun that shard's command; a finished shard writes its manifest last")
        if m.get("stage") != stage:
            raise GolongError(f"{d} holds stage {m.get('stage')!r}, not {stage!r}", "merge one stage's shards")
        mans.append(m)
    specs = [parse_shard((m.get("config") or {}).get("shard")) for m in mans]
    if any(s is None for s in specs):
        bad = [str(d) for d, s in zip(shard_dirs, specs, strict=True) if s is None]
        raise GolongError(f"not a sharded run: {', '.join(bad)}", "merge the outputs of `--shard i/N` runs")
    ns = {s[1] for s in specs if s}
    got = sorted(s[0] for s in specs if s)
    if len(ns) != 1 or got != list(range(next(iter(ns)))):
        raise GolongError(f"shards {sorted(f'{s[0]}/{s[1]}' for s in specs if s)} are not 0/N .. N-1/N of one N",
                          "pass every shard's directory exactly once")
    base = [{k: v for k, v in (m.get("config") or {}).items() if k != "shard"} for m in mans]
    if any(b != base[0] for b in base):
        raise GolongError("the shards ran with different settings", "rerun them with the same options")
    return mans


def shard_dirs(out: Path, n: int) -> list[Path]:
    """Where shard i of the stage writing OUT writes: OUT.shards/i (beside OUT, so OUT holds only the merge)."""
    out = Path(out)
    return [out.parent / f"{out.name}.shards" / str(i) for i in range(n)]


# dumps() writes a record's fields in dataclass order, so a Document line starts with its id: reading the
# order of a 10 GB documents.jsonl then costs a regex per line instead of parsing every book's text.
ID_PREFIX = re.compile(r'^\{"id":"((?:[^"\\]|\\.)*)"')


def upstream_order(mans: Sequence[dict[str, Any]], override: Path | None = None) -> dict[str, int]:
    """doc id -> position in the documents.jsonl the (chunk) shards read: the single run's order."""
    if override is not None:
        path = Path(override)
        if path.is_dir():
            path = path / "documents.jsonl"
    else:
        paths = {(m.get("inputs") or [{}])[0].get("path") for m in mans}
        if len(paths) != 1 or None in paths:
            raise GolongError("the shards read different documents.jsonl files", "give it with --order-from")
        path = Path(str(next(iter(paths))))
    if not path.is_file():
        raise GolongError(f"{path} not found (the upstream documents.jsonl the shards read)",
                          "pass it with --order-from, e.g. the merged ingest directory")
    pos: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            m = ID_PREFIX.match(line)
            if m and "\\" not in m.group(1):
                rid = m.group(1)
            else:
                rid = json.loads(line)["id"]
            pos.setdefault(rid, len(pos))
    return pos


def keyed(path: Path, key: Callable[[dict[str, Any]], int]) -> Iterator[tuple[int, dict[str, Any]]]:
    for obj in iter_jsonl(path):
        yield key(obj), obj


def merge_sorted(paths: Sequence[Path], key: Callable[[dict[str, Any]], int]) -> Iterator[dict[str, Any]]:
    """The records of several JSONL files, each already in `key` order, in one `key` order (stable: records
    with equal keys keep their file's order; equal keys never span shards, as a key lives in one shard)."""
    streams = [keyed(p, key) for p in paths if p.exists()]
    for _, obj in heapq.merge(*streams, key=lambda kv: kv[0]):
        yield obj


def position(pos: dict[str, int], rid: str, what: str) -> int:
    try:
        return pos[rid]
    except KeyError:
        raise GolongError(f"{what} {rid!r} is not in the upstream documents.jsonl",
                          "merge shards of one run, reading one upstream file") from None
