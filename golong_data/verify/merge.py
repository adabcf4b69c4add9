"""Merging verify shards: the position of a sample's line in the samples.jsonl every shard read (named in the
manifests, checked by its sha256) orders the merge. A verify shard checks its own samples of each global chunk of
input lines and writes both files in input order; a repeated id's `duplicate_id` lines take that id's later
positions in turn."""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from golong_data.config import VerifyConfig
from golong_data.errors import GolongError
from golong_data.pipeline.shard import ID_PREFIX, keyed, merge_sorted, shard_manifests
from golong_data.pipeline.stage import REJECTED, StageRun
from golong_data.pipeline.stages import StageResult

_ID_PREFIX_B = re.compile(ID_PREFIX.pattern.encode())  # a Sample line starts with its id too


def sample_order(mans: Sequence[dict[str, Any]], override: Path | None = None
                 ) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The input order of the samples.jsonl the (verify) shards read: (id -> position of its first line,
    id -> positions of its later lines), positions counted over non-blank lines as verify reads them."""
    ins = [(m.get("inputs") or [{}])[0] for m in mans]
    shas = {i.get("sha256") for i in ins}
    if override is not None:
        path = Path(override)
        if path.is_dir():
            path = path / "samples.jsonl"
    else:
        paths = {i.get("path") for i in ins}
        if len(paths) != 1 or None in paths:
            raise GolongError("the shards read different samples.jsonl files", "give it with --order-from")
        path = Path(str(next(iter(paths))))
    if len(shas) != 1 or None in shas:
        raise GolongError("the shards read different samples.jsonl contents", "rerun them on one input")
    if not path.is_file():
        raise GolongError(f"{path} not found (the samples.jsonl the shards read)",
                          "pass it with --order-from, e.g. the synthesize directory")
    first: dict[str, int] = {}
    later: dict[str, list[int]] = {}
    h = hashlib.sha256()
    n = 0
    # Bytes, and the id from the line's prefix: a sample line holds a whole long-context prompt (~256 KB).
    with open(path, "rb") as f:
        for line in f:
            h.update(line)
            m = _ID_PREFIX_B.match(line)
            if m and b"\\" not in m.group(1):
                rid = m.group(1).decode("utf-8")
            else:
                text = line.decode("utf-8")
                if not text.strip():  # as records.iter_jsonl: blank lines are no input
                    continue
                rid = str(json.loads(text)["id"])
            if rid in first:
                later.setdefault(rid, []).append(n)
            else:
                first[rid] = n
            n += 1
    if h.hexdigest() not in shas:
        raise GolongError(f"{path} changed since the shards read it (sha256 differs from their manifests)",
                          "merge against the samples.jsonl the shards verified, or rerun the shards")
    return first, later


def _sample_position(first: dict[str, int], rid: str) -> int:
    try:
        return first[rid]
    except KeyError:
        raise GolongError(f"sample {rid!r} is not in the samples.jsonl the shards read",
                          "merge shards of one verify run") from None


def _rejection_key(first: dict[str, int], later: dict[str, list[int]]) -> Callable[[dict[str, Any]], int]:
    """Position of a rejected.jsonl line of one shard stream: a `duplicate_id` line is the id's next later line
    (the stream lists them in input order); any other rejection is the id's first line."""
    taken: dict[str, int] = {}

    def key(r: dict[str, Any]) -> int:
        rid = str(r.get("source", ""))
        if r.get("reason") != "duplicate_id":
            return _sample_position(first, rid)
        k = taken.get(rid, 0)
        taken[rid] = k + 1
        more = later.get(rid, [])
        if k >= len(more):
            raise GolongError(f"more duplicate_id lines for {rid!r} than repeats of it in samples.jsonl",
                              "merge shards of one verify run")
        return more[k]

    return key


def merge_verify(shard_dirs: Sequence[Path], out: Path, order_from: Path | None = None) -> str:
    """Merge `verify --shard i/N` outputs into out/verified.jsonl + rejected.jsonl: the single run's bytes."""
    mans = shard_manifests(shard_dirs, "verify")
    first, later = sample_order(mans, order_from)
    dirs = [Path(d) for d in shard_dirs]
    config = {**(mans[0].get("config") or {}), "shard": None, "merged_shards": len(dirs)}
    inputs = [d / n for d in dirs for n in ("verified.jsonl", REJECTED)]
    with StageRun("verify", out, inputs=inputs, config=config) as run:
        w = run.writer("verified.jsonl")
        for obj in merge_sorted([d / "verified.jsonl" for d in dirs], lambda s: _sample_position(first, s["id"])):
            w.write(obj)
        # One key (and duplicate counter) per shard stream: heapq.merge calls it as that stream advances.
        streams = [keyed(d / REJECTED, _rejection_key(first, later)) for d in dirs if (d / REJECTED).exists()]
        for _, r in heapq.merge(*streams, key=lambda kv: kv[0]):
            run.reject(r["source"], r["reason"], r.get("detail", ""))
        requests = sum(int((m.get("counts") or {}).get("llm_requests", 0)) for m in mans)
        if requests:
            run.counts.update({"llm_requests": requests})
        line = run.summary(f"merged {len(dirs)} shards, kept")
    return line


# ---------------------------------------------------------------- verify shards


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def merge(shard_dirs: Sequence[Path], out_dir: Path, cfg: VerifyConfig, inputs: Sequence[Path] = ()) -> StageResult:
    """`inputs`: optionally the samples.jsonl (or its dir) the shards read; default: named in their manifests."""
    return StageResult(merge_verify(shard_dirs, out_dir, inputs[0] if inputs else None))
