"""`golong-data export`: the RLVR mix as verl parquet + JSONL, with its dataset card.

Rows are (de)serialised with orjson: at 256 KB a row, stdlib json costs more than everything else together.

Two streaming passes, so a 23K x 64K-token export never holds the set in memory:

1. *Index*: read every sample line once, keeping only (id, task type, bucket, band, tokens, file, byte
   offset) -- a few hundred bytes per sample -- and choose the mix from that index.
2. *Write*: seek to each chosen line, turn it into a verl row, and stream rows in batches into a
   pyarrow ParquetWriter and a JSONL mirror (temp files renamed into place; manifest written last).

The mix (QwenLong-L1.5 / GoLongRL practice): per task type, the taxonomy share of `size`; inside a type,
equal draws per length bucket and, when verification recorded pass rates, per difficulty band. A cell that
runs short is filled from the other cells of *the same type* and the shortfall is reported; a type that
runs short is never padded with other types -- the card and stderr say by how much and from which pool.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from golong_data import crashpoints
from golong_data.config import ExportConfig
from golong_data.dedup.questions import duplicate_questions
from golong_data.errors import GolongError
from golong_data.export.card import write_card
from golong_data.export.mix import Entry, Shortfall, choose_mix, difficulty_band
from golong_data.export.rows import (
    IMPORT_BUCKET,
    normalize_import_row,
    parquet_schema,
    sample_to_row,
)
from golong_data.pipeline.stage import StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.progress import progress
from golong_data.records import Sample, atomic_open, from_dict, iter_jsonl, jsonl_lines
from golong_data.taxonomy import Taxonomy, load_taxonomy, metric_key
from golong_data.verify.shortcuts import measure

BATCH_ROWS = 64  # rows per parquet row group: 64 x 64K tokens ~ 16 MB of text held at once


@dataclass
class ExportResult:
    out_dir: Path
    train: list[Entry]
    val: list[Entry]
    pool_size: int
    shortfalls: list[Shortfall] = field(default_factory=list)
    import_counts: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    measured: list[Entry] = field(default_factory=list)  # pooled rows with blind-strategy scores (the card's table)

    def notes(self) -> list[str]:
        """Lines the caller prints before `line` (a stage returns; the CLI and `run` print)."""
        return [f"export: quota shortfall -- {s.line()}" for s in self.shortfalls]

    @property
    def line(self) -> str:
        s = f"export: {len(self.train)} train + {len(self.val)} val rows from a pool of {self.pool_size}"
        if self.shortfalls:
            s += f"; {len(self.shortfalls)} quota shortfall(s) (see {self.out_dir / 'README.md'})"
        if self.rejected:
            s += f"; rejected {self.rejected} (see {self.out_dir / 'rejected.jsonl'})"
        return s


# ------------------------------------------------------------------------------------------ mixing (pure)


# ------------------------------------------------------------------------------------------ rows (pure)


# ------------------------------------------------------------------------------------------ I/O


def find_samples_file(in_dir: Path) -> Path:
    """verify's verified.jsonl, or synthesize's samples.jsonl when verify was skipped."""
    for name in ("verified.jsonl", "samples.jsonl"):
        if (Path(in_dir) / name).exists():
            return Path(in_dir) / name
    raise GolongError(
        f"{in_dir} holds neither verified.jsonl nor samples.jsonl",
        "point --in at the output directory of `golong-data verify` (or synthesize)",
    )


_PROMPT_OPEN = b'"prompt":['
_PROMPT_CLOSE = b'],"ground_truth":'


def index_fields(line: bytes) -> dict[str, Any]:
    """A sample line parsed without its prompt (pass 1 needs everything but the 64K tokens of context).

    Safe to cut at the byte patterns: inside a JSON string every `"` is escaped as `\\"`, so `"prompt":[` and
    `],"ground_truth":` (an unescaped quote right after `[` or `,`) can only be the structure itself. The prompt
    comes back as True when it held messages, [] when it was empty. Any other layout: a full parse.
    """
    i = line.find(_PROMPT_OPEN)
    j = line.rfind(_PROMPT_CLOSE)
    if 0 < i < j:
        k = i + len(_PROMPT_OPEN)
        obj = orjson.loads(line[:k] + line[j:])
        obj["prompt"] = line[k : k + 1] == b"{"
        return obj
    return orjson.loads(line)


def _generator_key(gen: dict[str, Any]) -> str:
    g = gen or {}
    s = f"{g.get('kind', '?')}/{g.get('name', '?')}@{g.get('version', '?')}"
    if g.get("model"):
        s += f" model={g['model']}"
    if g.get("prompt_sha"):
        s += f" prompt={str(g['prompt_sha'])[:12]}"
    return s


def _verifier_key(ver: dict[str, Any]) -> str:
    parts = []
    for name, rec in sorted((ver.get("checks") or {}).items()):
        if isinstance(rec, dict) and rec.get("verdict") == "pass":
            parts.append(f"{name}(model={rec['model']})" if rec.get("model") else name)
    return sys.intern(", ".join(parts) or "unverified")


def _blind_record(ver: dict[str, Any], profile: str) -> dict[str, Any] | None:
    rec = (ver.get("checks") or {}).get("shortcut")
    if not isinstance(rec, dict) or rec.get("profile") != profile or "scores" not in rec:
        return None
    return {k: rec[k] for k in ("profile", "chance", "scores", "gold")}


def _iter_import_rows(path: Path) -> Any:
    """Rows of an official-schema parquet or JSONL file, streamed in batches."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # lazy: pyarrow (0.1 s) only where parquet is read or written

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()
    else:
        yield from iter_jsonl(path)


def _route_index(tax: Any) -> dict[tuple[str, str], str]:
    return {(t.route["data_source"], t.route["reward_mode"]): name for name, t in tax.tasks.items()}


def _index_pool(run: StageRun, samples_path: Path, tax: Taxonomy, profile: str, seen_ids: set[str],
                questions: list[str]) -> list[Entry]:
    """Pass 1: index the verified pool (offsets, not rows); ledger unknown, duplicate and incomplete samples."""
    entries: list[Entry] = []
    for off, ln, line in progress(jsonl_lines(samples_path), desc="export: index", unit="samples", leave=False):
        obj = index_fields(line)
        sid = str(obj.get("id", ""))
        task = obj.get("task_type", "")
        if task not in tax.tasks:
            run.reject(sid or f"{samples_path}@{off}", "unknown_task_type", f"task_type {task!r} not in {tax.path}")
            continue
        if sid in seen_ids:
            run.reject(sid, "duplicate_id", "a sample with this id was already pooled")
            continue
        gt = obj.get("ground_truth") or {}
        if not obj.get("prompt", True) or not (gt.get("golden_label") or gt.get("doc_ids")):
            run.reject(sid, "incomplete_sample", "no prompt, or neither ground_truth.golden_label nor doc_ids")
            continue
        seen_ids.add(sid)
        ver = obj.get("verification") or {}
        rate = ver.get("pass_rate")
        q = (obj.get("meta") or {}).get("question")
        questions.append(str(q or ""))
        entries.append(
            Entry(sid, task, str(obj.get("bucket", "")), difficulty_band(rate), int(obj.get("n_tokens") or 0),
                  0, off, ln, "synthetic", _generator_key(obj.get("generator") or {}),
                  verifier=_verifier_key(ver), blind=_blind_record(ver, profile))
        )
    return entries


def _spool_imports(run: StageRun, imports: list[Path], tax: Taxonomy, spool: Path, seen_ids: set[str],
                   questions: list[str], entries: list[Entry], import_counts: Counter[str]) -> list[str]:
    """Normalise the imported rows into the spool file and the pool (entries); returns each pooled row's source."""
    routes = _route_index(tax)
    import_src: list[str] = []
    with atomic_open(spool, "wb") as sp:
        pos = 0
        for p in imports:
            origin = f"import:{p.name}"
            for i, row in enumerate(progress(_iter_import_rows(p), desc=f"export: import {p.name}", unit="rows",
                                                leave=False)):
                src = f"{p}#{i}"
                ei = row.get("extra_info") or {}
                route = (str(row.get("data_source", "")), str(ei.get("reward_mode", "")))
                task = routes.get(route)
                if task is None:
                    run.reject(src, "import_unmapped_route",
                               f"data_source/reward_mode {route} matches no task type of {tax.path}")
                    import_counts["unmapped"] += 1
                    continue
                if not row.get("prompt"):
                    run.reject(src, "import_incomplete", "row has no prompt")
                    import_counts["incomplete"] += 1
                    continue
                norm = normalize_import_row(row, task, 0, origin)
                sid = norm["extra_info"]["sample_id"]
                if sid in seen_ids:
                    run.reject(src, "duplicate_id", f"id {sid} already pooled")
                    import_counts["duplicate"] += 1
                    continue
                seen_ids.add(sid)
                import_src.append(src)
                questions.append(norm["extra_info"]["question"])
                data = orjson.dumps(norm) + b"\n"
                sp.write(data)
                entries.append(Entry(sid, task, IMPORT_BUCKET, "unrated", norm["extra_info"]["n_tokens"],
                                     1, pos, len(data), origin, "import"))
                pos += len(data)
                import_counts["kept"] += 1
    return import_src


def _drop_duplicate_imports(run: StageRun, entries: list[Entry], questions: list[str], import_src: list[str],
                            n_synth: int, import_counts: Counter[str]) -> list[Entry]:
    """Ledger and drop the imports whose question near-duplicates a pooled sample or an earlier import."""
    # Near-duplicate questions (the dedup stage's matcher): an import that repeats a pooled sample or an
    # earlier import is dropped; duplicates inside the synthetic pool are the dedup stage's business.
    drop = {i for i in duplicate_questions(questions) if i >= n_synth}
    for i in sorted(drop):
        run.reject(import_src[i - n_synth], "import_duplicate",
                   f"question near-duplicates a pooled one: {questions[i][:80]!r}")
    import_counts["duplicate"] += len(drop)
    import_counts["kept"] -= len(drop)
    return [e for i, e in enumerate(entries) if i not in drop]


def _blind_scorer(tax: Taxonomy, profile: str, seed: int) -> Callable[[Sample], dict[str, Any] | None]:
    """The blind-baseline record of a sample under the export profile (None when it cannot be measured)."""
    def blind(s: Sample) -> dict[str, Any] | None:
        if s.task_type not in tax.tasks:
            return None
        b = measure(s, metric_key(tax.tasks[s.task_type].metric), profile, seed)
        return None if b is None else b.record()

    return blind


def _score_unscored(samples_path: Path, entries: list[Entry], blind: Callable[[Sample], dict[str, Any] | None]
                    ) -> None:
    """Read back and score the synthetic entries verify did not score under this profile (for the card's table)."""
    with open(samples_path, "rb") as h:
        for e in entries:
            if e.origin == "synthetic" and e.blind is None:
                h.seek(e.offset)
                e.blind = blind(from_dict(Sample, orjson.loads(h.read(e.length))))


def run_export(
    in_dir: Path,
    out_dir: Path,
    cfg: ExportConfig | None = None,
    seed: int = 0,
    command: str = "",
    config_text: str = "",
) -> ExportResult:
    """Choose the mix from `in_dir` (+ imports) and write train/val parquet + JSONL + the card into out_dir."""
    cfg = cfg or ExportConfig()
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    samples_path = find_samples_file(in_dir)
    tax = load_taxonomy(cfg.taxonomy, check_prompts=False)
    imports = [Path(p) for p in cfg.imports]
    for p in imports:
        if not p.is_file():
            raise GolongError(f"--import {p}: file not found", "pass parquet or JSONL files in the verl schema")
    inputs = [samples_path, tax.path, *imports]
    settings = {**asdict(cfg), "seed": seed}
    settings["imports"] = [str(p) for p in imports]
    out_dir.mkdir(parents=True, exist_ok=True)
    spool = out_dir / ".imports.spool.jsonl"

    with StageRun("export", out_dir, inputs=inputs, config=settings) as run:
        files: list[Path] = [samples_path]
        seen_ids: set[str] = set()
        questions: list[str] = []  # the pool's questions, for deduplicating imports against it
        entries = _index_pool(run, samples_path, tax, cfg.profile, seen_ids, questions)
        n_synth = len(entries)
        import_counts: Counter[str] = Counter()
        if imports:
            files.append(spool)
            import_src = _spool_imports(run, imports, tax, spool, seen_ids, questions, entries, import_counts)
            entries = _drop_duplicate_imports(run, entries, questions, import_src, n_synth, import_counts)
        train, val, short = choose_mix(entries, {t: s.share for t, s in tax.tasks.items()}, cfg.size, cfg.val_per_type,
                                       seed)
        # ---- pass 2: stream the chosen rows
        blind = _blind_scorer(tax, cfg.profile, seed)
        for split, chosen in (("train", train), ("val", val)):
            _write_split(run, out_dir, split, chosen, files, blind)
        # The card's table covers the whole verified pool: rows verify did not score under this profile (and
        # the mix left out) are read back and scored here.
        _score_unscored(samples_path, entries, blind)
        spool.unlink(missing_ok=True)
        result = ExportResult(out_dir, train, val, len(entries), short, dict(import_counts), run.n_rejected,
                              [e for e in entries if e.blind])
        result.import_counts["synthetic_pool"] = n_synth

        for name in write_card(out_dir, result, tax, in_dir, settings, command, config_text, cfg.plots,
                               own_rejections=dict(run.reasons)):
            run.add_file(name)
        run.counts.update({"pool": len(entries), "train_rows": len(train), "val_rows": len(val)})
    return result


def _write_split(run: Any, out_dir: Path, split: str, chosen: list[Entry], files: list[Path],
                 blind: Any = None) -> None:
    import pyarrow as pa  # lazy: pyarrow (0.1 s) only where parquet is read or written
    import pyarrow.parquet as pq  # lazy: pyarrow (0.1 s) only where parquet is read or written
    schema = parquet_schema()
    handles = [open(p, "rb") for p in files]
    try:
        with atomic_open(out_dir / f"{split}.parquet", "wb") as f, atomic_open(out_dir / f"{split}.jsonl", "wb") as jl:
            # No timestamps, fixed schema, fixed row-group size: the same rows give the same bytes.
            writer = pq.ParquetWriter(f, schema, compression="zstd", use_dictionary=["data_source", "ability"])
            batch: list[dict[str, Any]] = []
            for index, e in enumerate(progress(chosen, desc=f"export: write {split}", unit="rows", leave=False)):
                h = handles[e.file]
                h.seek(e.offset)
                obj = orjson.loads(h.read(e.length))
                if e.origin == "synthetic":
                    s = from_dict(Sample, obj)
                    if e.blind is None and blind is not None:
                        e.blind = blind(s)
                    row = sample_to_row(s, index, (s.verification or {}).get("pass_rate"))
                else:
                    row = obj
                    row["extra_info"]["index"] = index
                jl.write(orjson.dumps(row) + b"\n")
                crashpoints.hit("export")
                batch.append(row)
                if len(batch) >= BATCH_ROWS:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            writer.close()
    finally:
        for h in handles:
            h.close()
    run.add_file(f"{split}.parquet")
    run.add_file(f"{split}.jsonl")


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Path, out_dir: Path, cfg: ExportConfig, shard: str | None = None) -> StageResult:
    """Export is not sharded (pipeline/stages.py says why): `shard` must be None."""
    if shard is not None:
        raise GolongError("export is not sharded", "run it once on the merged verify output")
    result = run_export(inputs, out_dir, cfg, seed=cfg.seed, command=cfg.command, config_text=cfg.config_text)
    return StageResult(result.line, result.notes(), result)
