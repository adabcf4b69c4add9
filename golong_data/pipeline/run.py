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

import inspect
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from golong_data.config import STAGES, PipelineConfig, load_config
from golong_data.errors import ConfigError, GolongError
from golong_data.pipeline.stage import REJECTED, input_fingerprint, is_up_to_date, read_manifest
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


def _check_kwargs(stage: str, fn: Callable[..., Any], options: dict[str, Any], fixed: set[str]) -> None:
    """Unknown keys in a stage's section are errors that list what the stage accepts."""
    params = [p for p in inspect.signature(fn).parameters if p not in fixed]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConfigError(f"{stage}: unknown option(s) {', '.join(unknown)}", f"{stage} accepts: {', '.join(params)}")


def _missing(stage: str, err: Exception) -> GolongError:
    return GolongError(
        f"stage '{stage}' is not available in this installation ({err})",
        f"the {stage} stage has not landed yet; run the stages before it by hand, or update golong-data",
    )


def _executor(cfg: PipelineConfig) -> Any:
    """The shard executor of a `shards:` section with n > 1, else None (the stages run as they are)."""
    if cfg.shards.n <= 1:
        return None
    from golong_data.pipeline.executor import get_executor

    return get_executor(cfg.shards.executor, cfg.shards.workers, cfg.shards.ray_address)


def _stage_ingest(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    try:
        from golong_data.ingest.stage import run_ingest
    except ImportError as e:
        raise _missing("ingest", e) from e
    _check_kwargs("ingest", run_ingest, cfg.ingest, {"paths", "out", "shard"})
    if ex := _executor(cfg):
        from golong_data.pipeline import sharded

        return sharded.ingest(ex, cfg.shards.n, inp, out, **cfg.ingest)
    return str(run_ingest(inp, out, **cfg.ingest).line)


def _stage_chunk(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    try:
        from golong_data.chunk import run_chunk
    except ImportError as e:
        raise _missing("chunk", e) from e
    _check_kwargs("chunk", run_chunk, cfg.chunk, {"in_dir", "out_dir", "shard"})
    if "max_tokens" not in cfg.chunk:
        raise ConfigError("chunk.max_tokens is required", "set chunk: {max_tokens: 2048}")
    if ex := _executor(cfg):
        from golong_data.pipeline import sharded

        return sharded.chunk(ex, cfg.shards.n, inp[0], out, **cfg.chunk)
    return str(run_chunk(inp[0], out, **cfg.chunk))


def _stage_dedup(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    try:
        from golong_data.dedup.stage import run_dedup  # type: ignore[attr-defined]
    except ImportError as e:
        raise _missing("dedup", e) from e
    ex = _executor(cfg)
    fn: Callable[..., Any] = run_dedup
    if ex:
        from golong_data.dedup.shards import run_dedup_shards as fn  # its sharded twin takes the same options
    params = inspect.signature(fn).parameters
    _check_kwargs("dedup", fn, cfg.dedup, set(list(params)[:2]) | {"executor", "work_dir", "order_from"})
    opts = dict(cfg.dedup)
    if "against" in opts:  # benchmark files to decontaminate against, relative to the config
        opts["against"] = [cfg.resolve(p) for p in opts["against"]]
    if ex:
        from golong_data.pipeline import sharded

        return sharded.dedup(ex, cfg.shards.n, inp[0], out, **opts)  # over the chunk stage's shards
    res = run_dedup(inp[0], out, **opts)
    return str(getattr(res, "line", res))


def _stage_synthesize(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    try:
        from golong_data.synth.stage import SynthConfig, run_synthesize
    except ImportError as e:
        raise _missing("synthesize", e) from e
    opts = dict(cfg.synthesize)
    taxonomy = opts.pop("taxonomy", None)
    names = {f.name for f in fields(SynthConfig)} - {"seed", "shard"}
    unknown = sorted(set(opts) - names)
    if unknown:
        raise ConfigError(f"synthesize: unknown option(s) {', '.join(unknown)}",
                          f"synthesize accepts: {', '.join(sorted(names | {'taxonomy'}))}")
    if ex := _executor(cfg):
        from golong_data.pipeline import sharded

        return sharded.synthesize(ex, cfg.shards.n, inp[0], out, SynthConfig(**opts, seed=cfg.seed), taxonomy)
    summary = run_synthesize(inp[0], out, SynthConfig(**opts, seed=cfg.seed), taxonomy_path=taxonomy)
    if summary.table:
        print(summary.table, file=sys.stderr)
    return str(summary.line)


def _stage_verify(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    from dataclasses import replace

    from golong_data.verify.stage import run_verify

    v = cfg.verify
    v = replace(v, documents=str(cfg.resolve(v.documents)) if v.documents else None,
                cache_path=str(cfg.resolve(v.cache_path)) if v.cache_path else None)
    if ex := _executor(cfg):
        from golong_data.pipeline import sharded

        return sharded.verify(ex, cfg.shards.n, inp[0], out, v, seed=cfg.seed)
    summary = run_verify(inp[0], out, v, seed=cfg.seed)
    print(summary.table, file=sys.stderr)
    return summary.line


def _stage_export(cfg: PipelineConfig, inp: list[Path], out: Path) -> str:
    from dataclasses import replace

    from golong_data.export.stage import run_export

    ex = cfg.export
    ex_resolved = replace(ex, imports=[str(cfg.resolve(p)) for p in ex.imports],
                          taxonomy=str(cfg.resolve(ex.taxonomy)) if ex.taxonomy else None)
    command = f"golong-data run {cfg.config_path}"
    result = run_export(inp[0], out, ex_resolved, seed=cfg.seed, command=command, config_text=cfg.source)
    for note in result.notes():
        print(note, file=sys.stderr)
    return result.line


RUNNERS: dict[str, Callable[[PipelineConfig, list[Path], Path], str]] = {
    "ingest": _stage_ingest,
    "chunk": _stage_chunk,
    "dedup": _stage_dedup,
    "synthesize": _stage_synthesize,
    "verify": _stage_verify,
    "export": _stage_export,
}


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
            line = RUNNERS[stage](cfg, prev, out)
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
