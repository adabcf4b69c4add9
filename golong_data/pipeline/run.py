"""`golong-data run CONFIG.yaml`: every stage in order, each skipped when it is up to date.

    ingest -> chunk -> dedup -> synthesize -> verify -> export      into <work_dir>/<stage>/

A stage is up to date when (1) its manifest exists (it finished: the manifest is written last), (2) the
files it recorded as inputs and its outputs still have the recorded sha256 (golong_data.pipeline.stage.is_up_to_date),
and (3) the run's own record beside it -- the stage's config section and the fingerprint of the paths run
handed it -- matches now. (3) catches what the stage's manifest cannot: a new file dropped into a corpus
directory, or a changed setting whose effect the stage records differently. A stage whose upstream re-ran but
wrote the same bytes stays skipped, so touching one input re-runs only what its change reaches.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golong_data.config import PipelineConfig, load_config
from golong_data.errors import ConfigError
from golong_data.pipeline.executor import get_executor
from golong_data.pipeline.sharded import run_sharded
from golong_data.pipeline.stage import REJECTED, input_fingerprint, is_up_to_date, read_manifest
from golong_data.pipeline.stages import STAGES, Stage, StageResult
from golong_data.records import atomic_open

RUN_RECORD = ".run.json"  # a dot file: input fingerprints skip it, so it never makes a downstream stage stale


@dataclass
class RunResult:
    work_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        exp = self.work_dir / "export"
        return (
            f"run: ran {', '.join(self.ran) or 'nothing'}; up to date: {', '.join(self.skipped) or 'none'}\n"
            f"dataset: {exp / 'train.parquet'} (+ val.parquet, train.jsonl, val.jsonl)\n"
            f"card:    {exp / 'README.md'}"
        )


def run_stage(cfg: PipelineConfig, stage: Stage, inputs: Any, out: Path) -> StageResult:
    """One stage of the pipeline, as shard tasks when the config has `shards: {n: >1}` and the stage shards."""
    section = cfg.section(stage.name)
    if cfg.shards.n > 1 and stage.shards:
        ex = get_executor(cfg.shards.executor, cfg.shards.workers, cfg.shards.ray_address)
        return run_sharded(stage, ex, cfg.shards.n, inputs, out, section)
    return stage.run(inputs, out, section)


def stale_reason(stage_dir: Path, inputs: list[Path], settings: dict[str, Any]) -> str | None:
    """None when the stage in stage_dir is up to date for these inputs and settings; else why not."""
    m = read_manifest(stage_dir)
    if m is None:
        return "not run yet (no manifest)"
    rec_path = stage_dir / RUN_RECORD
    try:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return "no run record"
    if rec.get("settings") != settings:
        return "settings changed"
    now = input_fingerprint(inputs)
    if rec.get("inputs") != now:
        return "inputs changed: " + _diff(rec.get("inputs") or [], now)
    if not is_up_to_date(stage_dir, [Path(i["path"]) for i in m.get("inputs", [])], m.get("config")):
        return "outputs or recorded inputs changed"
    return None


def run_pipeline(config_path: Path | str, force: list[str] | None = None) -> RunResult:
    """Run the pipeline of a config file; returns what ran and what was skipped."""
    cfg = load_config(config_path)
    force = list(force or [])
    if "all" in force:
        force = list(STAGES)
    bad = [s for s in force if s not in STAGES]
    if bad:
        raise ConfigError(f"--force {', '.join(bad)}: no such stage", f"expected one of: {', '.join(STAGES)}, all")
    work = Path(os.path.normpath(cfg.resolve(cfg.work_dir)))
    result = RunResult(work)
    prev: list[Path] = cfg.corpus_paths()  # what the next stage reads
    watched: list[Path] = prev  # what its up-to-date check fingerprints
    for stage in STAGES:
        out = work / stage
        # json round trip: the record compares equal to what was written (tuples -> lists etc.)
        settings = json.loads(json.dumps(cfg.stage_settings(stage), default=str))
        why = "forced" if stage in force else stale_reason(out, watched, settings)
        if why is None:
            print(f"run: {stage:<10} up to date, skipped ({out})", file=sys.stderr)
            result.skipped.append(stage)
        else:
            print(f"run: {stage:<10} running ({why})", file=sys.stderr)
            t0 = time.perf_counter()
            res = run_stage(cfg, STAGES[stage], prev if STAGES[stage].reads == "corpus" else prev[0], out)
            for note in res.notes:
                print(note, file=sys.stderr)
            line = res.line
            print(f"{line}  [{time.perf_counter() - t0:.1f}s]", file=sys.stderr)
            with atomic_open(out / RUN_RECORD) as f:
                json.dump({"settings": settings, "inputs": input_fingerprint(watched)}, f, indent=1, sort_keys=True)
            result.ran.append(stage)
            result.lines.append(line)
        prev, watched = [out], stage_outputs(out)
    return result


def _diff(before: list[dict[str, str]], after: list[dict[str, str]]) -> str:
    """'2 new, 1 modified (e.g. corpus/a.pdf)': what made a stage stale, for the log."""
    b = {d["path"]: d["sha256"] for d in before}
    a = {d["path"]: d["sha256"] for d in after}
    new, gone = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    mod = sorted(p for p in set(a) & set(b) if a[p] != b[p])
    parts = [f"{len(x)} {w}" for x, w in ((new, "new"), (gone, "removed"), (mod, "modified")) if x]
    example = (new or mod or gone or [""])[0]
    return ", ".join(parts) + (f" (e.g. {example})" if example else "")


def stage_outputs(stage_dir: Path) -> list[Path]:
    """The files a stage made for the next one: its manifest's outputs minus the rejection ledger.

    Fingerprinting these (not the whole directory) means a change that only adds a rejection upstream, or only
    rewrites the manifest's counts, does not re-run what follows.
    """
    m = read_manifest(stage_dir) or {}
    return [stage_dir / n for n in sorted(m.get("outputs", {})) if n != REJECTED]
