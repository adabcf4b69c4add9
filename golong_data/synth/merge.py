"""Merging synthesize shards: shards run disjoint *slots* (wanted samples) over the whole document library and
write their raw attempts; the merge orders them by slot and makes the cross-slot decisions (duplicate questions,
quota) that a whole run makes, with golong_data.synth.select's rule."""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from golong_data.config import SynthConfig
from golong_data.errors import GolongError
from golong_data.pipeline.shard import shard_manifests
from golong_data.pipeline.stage import REJECTED, StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.records import iter_jsonl
from golong_data.synth.select import _WHERE, DROP, KEEP, Outcome, sample_detail, sample_outcome, select


# ---------------------------------------------------------------- merge synthesize shards
def merge_synthesize(shard_dirs: Sequence[Path], out: Path) -> str:
    """Merge `synthesize --shard i/N` outputs (raw attempts) into the samples.jsonl + rejected.jsonl of one run."""
    mans = shard_manifests(shard_dirs, "synthesize")
    config = mans[0].get("config") or {}
    plan = config.get("plan")
    if not plan:
        raise GolongError("the shards' manifests hold no slot plan", "rerun the shards with this version")
    groups = {(t, b): g for g, (t, b, _) in enumerate(plan)}
    quotas = {g: int(q) for g, (_, _, q) in enumerate(plan)}
    per_doc = set(config.get("per_doc_constructors") or [])
    llm = bool(config.get("llm"))
    dirs = [Path(d) for d in shard_dirs]

    def sample_key(s: dict[str, Any]) -> tuple[int, int, int]:
        return groups[(s["task_type"], s["bucket"])], int(s["meta"]["slot"]), 1

    def reject_key(r: dict[str, Any]) -> tuple[int, int, int]:
        if r.get("reason") == "contaminated_document":
            return -1, 0, 0
        m = _WHERE.match(str(r.get("detail", "")))
        if m is None or tuple(m.group("group").split("/", 1)) not in groups:
            raise GolongError(f"rejection {r.get('source')!r} ({r.get('reason')}) names no slot of this run",
                              "merge shards of one synthesize run")
        t, b = m.group("group").split("/", 1)
        return groups[(t, b)], int(m.group("slot")), 0

    def stream() -> Iterator[tuple[tuple[int, int, int], str, dict[str, Any]]]:
        # Per shard, samples and rejections are each in slot order; within a slot its ledger lines come first.
        ss = [((sample_key(s), "s", s) for s in iter_jsonl(d / "samples.jsonl")) for d in dirs]
        rs = [((reject_key(r), "r", r) for r in iter_jsonl(d / REJECTED)) for d in dirs]
        contaminated = sorted((r for d in dirs for r in iter_jsonl(d / REJECTED)
                               if r.get("reason") == "contaminated_document"), key=lambda r: str(r["source"]))
        for r in contaminated:
            yield (-1, 0, 0), "r", r
        for k, kind, obj in heapq.merge(*ss, *rs, key=lambda t: t[0]):
            if k[0] >= 0:
                yield k, kind, obj

    # Pass 1: the light outcome of every attempt, per (task, bucket); pass 2 writes by the decisions.
    outcomes: dict[int, list[Outcome]] = {}
    for (g, slot, _), kind, obj in stream():
        if g < 0:
            continue
        if kind == "s":
            o = sample_outcome(obj, sample_detail(obj["task_type"], obj["bucket"], slot,
                                                  str((obj.get("generator") or {}).get("name", ""))))
        else:
            o = Outcome(slot, str(obj["source"]), str(obj["reason"]), str(obj.get("detail", "")))
        outcomes.setdefault(g, []).append(o)
    decisions = {g: iter(select(os_, llm, quotas[g], per_doc)) for g, os_ in outcomes.items()}

    merged = {**config, "shard": None, "merged_shards": len(dirs)}
    inputs = [d / n for d in dirs for n in ("samples.jsonl", REJECTED)]
    with StageRun("synthesize", out, inputs=inputs, config=merged) as run:
        w = run.writer("samples.jsonl")
        for (g, _, _), kind, obj in stream():
            if g < 0:
                run.reject(obj["source"], obj["reason"], obj.get("detail", ""))
                continue
            d = next(decisions[g])
            if d == DROP:
                continue
            if d == KEEP:
                if kind == "s":
                    w.write(obj)
                else:
                    run.reject(obj["source"], obj["reason"], obj.get("detail", ""))
            else:
                run.reject(str((obj.get("meta") or {}).get("focus_doc", "")), d[0], d[1])
        line = run.summary(f"merged {len(dirs)} shards, made")
    return line


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def merge(shard_dirs: Sequence[Path], out_dir: Path, cfg: SynthConfig, inputs: Sequence[Path] = ()) -> StageResult:
    """The shards' raw attempts, merged by slot (golong_data.synth.merge); `inputs` is not needed."""
    return StageResult(merge_synthesize(shard_dirs, out_dir))
