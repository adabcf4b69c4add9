"""The stage contract and the one registry that drives `run`, the CLI, sharding and merging.

Every stage (named in STAGES) has, in its module and its merge module (the same one for chunk),

    run(inputs, out_dir, cfg, shard=None) -> StageResult      # shard "i/N": only that part of the work
    merge(shard_dirs, out_dir, cfg, inputs=()) -> StageResult  # N shard outputs -> the bytes of one run

`inputs` is what the stage reads: the corpus paths for ingest, the upstream stage's directory for the others.
A stage returns; the CLI and `run` print (StageResult.notes, then StageResult.line). Modules are imported when
a stage runs, so `golong-data --help` stays instant.

How a stage shards (Stage.shards):
- "input": shard i reads the whole upstream output and keeps its own records (in_shard), writing OUT.shards/i;
  merge is a k-way merge by position in the single run's order (pipeline/shard.py).
- "upstream": shard i reads the upstream stage's shard i (dedup: MinHash signatures per chunk shard), and
  merge makes the cross-shard decision (the clustering) over all of them.
- "": not sharded (export: one global mix over every sample, ~1 minute for 23K samples).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from golong_data.config import (
    ChunkConfig,
    DedupConfig,
    ExportConfig,
    IngestConfig,
    SynthConfig,
    VerifyConfig,
)
from golong_data.errors import GolongError


@dataclass
class StageResult:
    """What a stage or a merge returns: its one-line summary, lines to print before it (tables, shortfalls), and
    the stage's own summary object for callers that want its numbers."""

    line: str
    notes: list[str] = field(default_factory=list)
    detail: Any = None


@dataclass(frozen=True)
class Stage:
    name: str
    module: str  # holds run() (and merge(), unless merge_module names another module)
    config: type
    reads: str  # "corpus", or the upstream stage whose directory is the input
    help: str
    shards: str = "input"  # "input", "upstream" or "" (see the module docstring)
    unsharded_why: str = ""
    merge_module: str = ""  # holds merge() when it is not `module` (a merge module imports its stage, not back)

    def load(self, merge: bool = False) -> ModuleType:
        return importlib.import_module(self.merge_module if merge and self.merge_module else self.module)

    def run(self, inputs: Any, out_dir: Path, cfg: Any, shard: str | None = None) -> StageResult:
        result: StageResult = self.load().run(inputs, Path(out_dir), cfg, shard)
        return result

    def require_shards(self) -> None:
        if not self.shards:
            raise GolongError(f"the {self.name} stage is not sharded: {self.unsharded_why}",
                              f"run `golong-data {self.name}` once on the merged upstream output")

    def merge(self, shard_dirs: Sequence[Path], out_dir: Path, cfg: Any, inputs: Sequence[Path] = ()) -> StageResult:
        self.require_shards()
        dirs = [Path(d) for d in shard_dirs]
        result: StageResult = self.load(merge=True).merge(dirs, Path(out_dir), cfg, list(inputs))
        return result


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("ingest", "golong_data.ingest.stage", IngestConfig, "corpus",
          "Read books, papers and dialogues into one document record each.",
          merge_module="golong_data.ingest.merge"),
    Stage("chunk", "golong_data.chunk", ChunkConfig, "ingest",
          "Split documents into token-exact chunks on section, paragraph, then sentence boundaries."),
    Stage("dedup", "golong_data.dedup.stage", DedupConfig, "chunk",
          "Drop exact and near-duplicate documents and chunks, and chunks quoting a benchmark.", shards="upstream",
          merge_module="golong_data.dedup.shards"),
    Stage("synthesize", "golong_data.synth.stage", SynthConfig, "dedup",
          "Build verifiable long-context samples of the nine task types, padded with distractors to token buckets.",
          merge_module="golong_data.synth.merge"),
    Stage("verify", "golong_data.verify.stage", VerifyConfig, "synthesize",
          "Keep samples whose gold is right, that need their context, and that teach something (pass-rate band).",
          merge_module="golong_data.verify.merge"),
    Stage("export", "golong_data.export.stage", ExportConfig, "verify",
          "Mix the RLVR set by taxonomy shares and write it in the verl schema, with its dataset card.",
          shards="", unsharded_why="the mix is global over every sample (quotas per type, one question filter)"),
)}


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise GolongError(f"no stage {name!r}", f"expected one of: {', '.join(STAGES)}")
    return STAGES[name]
