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

import hashlib
import json
import math
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from golong_data import crashpoints
from golong_data.config import ExportConfig
from golong_data.errors import GolongError
from golong_data.progress import progress
from golong_data.records import Sample, atomic_open, from_dict, jsonl_lines

BATCH_ROWS = 64  # rows per parquet row group: 64 x 64K tokens ~ 16 MB of text held at once
BANDS = ("hard", "medium", "easy", "unrated")
IMPORT_BUCKET = "imported"


def difficulty_band(pass_rate: float | None) -> str:
    """Pass rate (mean reward of k rollouts) -> band. With k = 8: 1-2 hard, 3-5 medium, 6-8 easy."""
    if pass_rate is None:
        return "unrated"
    if pass_rate <= 0.25:
        return "hard"
    return "medium" if pass_rate < 0.75 else "easy"


def parquet_schema() -> Any:
    """The verl / GoLongRL row schema, fixed so reruns write the same bytes."""
    import pyarrow as pa

    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            (
                "reward_model",
                pa.struct(
                    [
                        ("style", pa.string()),
                        (
                            "ground_truth",
                            pa.struct(
                                [
                                    ("doc_ids", pa.list_(pa.string())),
                                    ("golden_label", pa.string()),
                                    ("summary", pa.string()),
                                ]
                            ),
                        ),
                    ]
                ),
            ),
            (
                "extra_info",
                pa.struct(
                    [
                        ("reward_mode", pa.string()),
                        ("question", pa.string()),
                        ("index", pa.int64()),
                        ("task_type", pa.string()),
                        ("sample_id", pa.string()),
                        ("bucket", pa.string()),
                        ("n_tokens", pa.int64()),
                        ("pass_rate", pa.float64()),
                        ("origin", pa.string()),
                    ]
                ),
            ),
        ]
    )


@dataclass
class Entry:
    """What pass 1 keeps of a sample: enough to choose the mix and find the line again."""

    id: str
    task_type: str
    bucket: str
    band: str
    n_tokens: int
    file: int  # index into the list of pooled files
    offset: int
    length: int
    origin: str  # "synthetic" or "import:<file name>"
    generator: str  # "kind/name@version model=... prompt=sha" (provenance)
    key: str = ""  # seeded sort key: the deterministic shuffle
    verifier: str = ""  # "gold, band(model=...)": which checks passed it, with which model (provenance)
    # The shortcut check's numbers ({profile, chance, scores, gold}) under the export profile: from the
    # verification block when verify used that profile, else measured while the row is written (pass 2).
    blind: dict[str, Any] | None = None


@dataclass
class Shortfall:
    pool: str  # "task/bucket/band", "task" or "task (val)"
    quota: int
    available: int
    note: str

    def line(self) -> str:
        return (
            f"{self.pool}: quota {self.quota}, pool has {self.available} -> short by "
            f"{self.quota - self.available} ({self.note})"
        )


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


def seeded_key(seed: int, sample_id: str) -> str:
    """A per-sample sort key: the same seed and id give the same order on any machine."""
    return hashlib.sha256(f"{seed}\x00{sample_id}".encode()).hexdigest()


def largest_remainder(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integer quotas proportional to weights, summing exactly to `total` (Hamilton's method)."""
    wsum = math.fsum(weights.values())
    if total <= 0 or wsum <= 0:
        return {k: 0 for k in weights}
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(math.floor(v)) for k, v in raw.items()}
    left = total - sum(out.values())
    # Ties broken by name so the split never depends on dict order.
    for k in sorted(raw, key=lambda k: (-(raw[k] - out[k]), k))[:left]:
        out[k] += 1
    return out


def water_fill(capacity: dict[str, int], total: int) -> dict[str, int]:
    """Split `total` as equally as possible over cells, none above its capacity.

    Cells that run out leave their remainder to the others (the QwenLong-L1.5 'equal draws per band',
    made to add up when some band is small). Deterministic: remainders go to cells in name order.
    """
    alloc = {k: 0 for k in capacity}
    remaining = min(total, sum(capacity.values()))
    open_cells = sorted(k for k, c in capacity.items() if c > 0)
    while remaining > 0 and open_cells:
        per, extra = divmod(remaining, len(open_cells))
        for i, k in enumerate(open_cells):
            give = min(per + (1 if i < extra else 0), capacity[k] - alloc[k])
            alloc[k] += give
            remaining -= give
        open_cells = [k for k in open_cells if alloc[k] < capacity[k]]
    return alloc


def choose_mix(
    entries: list[Entry], shares: dict[str, float], size: int, val_per_type: int, seed: int
) -> tuple[list[Entry], list[Entry], list[Shortfall]]:
    """Pick (train, val) from the pool by type share, then equal per bucket, then equal per band."""
    for e in entries:
        e.key = seeded_key(seed, e.id)
    by_type: dict[str, list[Entry]] = {}
    for e in entries:
        by_type.setdefault(e.task_type, []).append(e)
    for lst in by_type.values():
        lst.sort(key=lambda e: e.key)
    quotas = largest_remainder(size, shares)
    train: list[Entry] = []
    val: list[Entry] = []
    short: list[Shortfall] = []
    for task in shares:
        pool = by_type.get(task, [])
        # Validation first, at most a fifth of the type's pool so a small pool still trains.
        n_val = min(val_per_type, len(pool) // 5)
        if n_val < val_per_type:
            short.append(Shortfall(f"{task} (val)", val_per_type, n_val, "validation capped at a fifth of the pool"))
        val.extend(pool[:n_val])
        rest = pool[n_val:]
        q = quotas.get(task, 0)
        if len(rest) < q:
            short.append(Shortfall(task, q, len(rest), "not padded with other task types"))
        cells: dict[str, dict[str, list[Entry]]] = {}
        for e in rest:
            cells.setdefault(e.bucket, {}).setdefault(e.band, []).append(e)
        bucket_alloc = water_fill({b: sum(len(v) for v in bands.values()) for b, bands in cells.items()}, q)
        # When the type itself runs short every cell is used up; only a met quota can be unevenly spread.
        even_bucket = q // max(1, len(cells)) if len(rest) >= q else 0
        for b in sorted(cells):
            bands = cells[b]
            if bucket_alloc[b] < even_bucket:
                short.append(
                    Shortfall(f"{task}/{b}", even_bucket, bucket_alloc[b], "filled from the type's other buckets")
                )
            band_alloc = water_fill({k: len(v) for k, v in bands.items()}, bucket_alloc[b])
            rated = [k for k in bands if k != "unrated"]
            even_band = bucket_alloc[b] // max(1, len(bands)) if len(rest) >= q else 0
            for k in sorted(bands):
                if rated and band_alloc[k] < even_band:
                    short.append(
                        Shortfall(f"{task}/{b}/{k}", even_band, band_alloc[k], "filled from the bucket's other bands")
                    )
                train.extend(bands[k][: band_alloc[k]])
    unknown = sorted(set(by_type) - set(shares))
    for t in unknown:  # a type the taxonomy gives no share: reported, never mixed in silently
        short.append(Shortfall(t, 0, len(by_type[t]), "task type not in the taxonomy; left out"))
    train.sort(key=lambda e: e.key)
    val.sort(key=lambda e: (e.task_type, e.key))
    return train, val, short


# ------------------------------------------------------------------------------------------ rows (pure)


def sample_to_row(s: Sample, index: int, band_rate: float | None, origin: str = "synthetic") -> dict[str, Any]:
    """A Sample as a verl row: the keys the official GoLongRL reward router and `golong-data train` read."""
    gt = s.ground_truth or {}
    return {
        "data_source": s.route["data_source"],
        "prompt": [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in s.prompt],
        "ability": "/".join(s.capability) or s.task_type,
        "reward_model": {
            "style": "rule",
            "ground_truth": {
                "doc_ids": [str(d) for d in gt.get("doc_ids", []) or []],
                "golden_label": str(gt.get("golden_label", "")),
                "summary": str(gt.get("summary", "") or ""),
            },
        },
        "extra_info": {
            "reward_mode": s.route["reward_mode"],
            "question": str((s.meta or {}).get("question", "")),
            "index": index,
            "task_type": s.task_type,
            "sample_id": s.id,
            "bucket": s.bucket,
            "n_tokens": int(s.n_tokens),
            "pass_rate": band_rate,
            "origin": origin,
        },
    }


def normalize_import_row(row: dict[str, Any], task_type: str, index: int, origin: str) -> dict[str, Any]:
    """An official-schema row re-keyed onto our fixed schema (extra keys dropped, missing ones empty)."""
    gt = (row.get("reward_model") or {}).get("ground_truth") or {}
    if isinstance(gt, str):  # some releases store ground_truth as a JSON string
        try:
            gt = json.loads(gt)
        except json.JSONDecodeError:
            gt = {"golden_label": gt}
    if not isinstance(gt, dict):
        gt = {"golden_label": str(gt)}
    label = gt.get("golden_label", "")
    if isinstance(label, list):
        label = json.dumps(label, ensure_ascii=False)
    ei = row.get("extra_info") or {}
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    return {
        "data_source": str(row.get("data_source", "")),
        "prompt": [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in prompt or []],
        "ability": str(row.get("ability") or task_type),
        "reward_model": {
            "style": "rule",
            "ground_truth": {
                "doc_ids": [str(d) for d in gt.get("doc_ids", []) or []],
                "golden_label": str(label),
                "summary": str(gt.get("summary", "") or ""),
            },
        },
        "extra_info": {
            "reward_mode": str(ei.get("reward_mode", "")),
            "question": str(ei.get("question", "") or ""),
            "index": index,
            "task_type": task_type,
            "sample_id": import_id(row),
            "bucket": IMPORT_BUCKET,
            "n_tokens": int(ei.get("n_tokens") or approx_tokens(row)),
            "pass_rate": None,
            "origin": origin,
        },
    }


def approx_tokens(row: dict[str, Any]) -> int:
    """Imported rows carry no token count; ~4 characters per token is enough for the card's histogram."""
    prompt = row.get("prompt") or []
    text = prompt if isinstance(prompt, str) else "".join(str(m.get("content", "")) for m in prompt)
    return len(text) // 4


def import_id(row: dict[str, Any]) -> str:
    ei = row.get("extra_info") or {}
    if ei.get("sample_id"):
        return str(ei["sample_id"])
    return "imp-" + hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]


_WS = re.compile(r"\W+")


def question_key(q: str) -> str:
    """Exact-duplicate key of a question: case, punctuation and spacing ignored."""
    return _WS.sub(" ", q.lower()).strip()


def duplicate_questions(questions: list[str]) -> list[int]:
    """Indices of questions that repeat an earlier one: golong_data.dedup.stage's near-duplicate matcher when
    installed, else exact matches after question_key. Empty questions never match."""
    try:
        from golong_data.dedup.stage import near_duplicate_questions
    except ImportError:
        seen: set[str] = set()
        out = []
        for i, q in enumerate(questions):
            k = question_key(q)
            if k and k in seen:
                out.append(i)
            seen.add(k)
        return out
    idx = [i for i, q in enumerate(questions) if q.strip()]  # equal empty strings are not duplicates
    return [idx[j] for j in near_duplicate_questions([questions[i] for i in idx])]


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
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()
    else:
        from golong_data.records import iter_jsonl

        yield from iter_jsonl(path)


def _route_index(tax: Any) -> dict[tuple[str, str], str]:
    return {(t.route["data_source"], t.route["reward_mode"]): name for name, t in tax.tasks.items()}


def run_export(
    in_dir: Path,
    out_dir: Path,
    cfg: ExportConfig | None = None,
    seed: int = 0,
    command: str = "",
    config_text: str = "",
) -> ExportResult:
    """Choose the mix from `in_dir` (+ imports) and write train/val parquet + JSONL + the card into out_dir."""
    from golong_data.pipeline.stage import StageRun
    from golong_data.taxonomy import load_taxonomy

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
        entries: list[Entry] = []
        seen_ids: set[str] = set()
        questions: list[str] = []  # the pool's questions, for deduplicating imports against it
        # ---- pass 1: the index
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
                      verifier=_verifier_key(ver), blind=_blind_record(ver, cfg.profile))
            )
        n_synth = len(entries)
        import_counts: Counter[str] = Counter()
        import_src: list[str] = []
        if imports:
            routes = _route_index(tax)
            files.append(spool)
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
            # Near-duplicate questions (the dedup stage's matcher): an import that repeats a pooled sample or an
            # earlier import is dropped; duplicates inside the synthetic pool are the dedup stage's business.
            drop = {i for i in duplicate_questions(questions) if i >= n_synth}
            for i in sorted(drop):
                run.reject(import_src[i - n_synth], "import_duplicate",
                           f"question near-duplicates a pooled one: {questions[i][:80]!r}")
            import_counts["duplicate"] += len(drop)
            import_counts["kept"] -= len(drop)
            entries = [e for i, e in enumerate(entries) if i not in drop]
        train, val, short = choose_mix(entries, {t: s.share for t, s in tax.tasks.items()}, cfg.size, cfg.val_per_type,
                                       seed)
        # ---- pass 2: stream the chosen rows
        from golong_data.taxonomy import metric_key
        from golong_data.verify.shortcuts import measure

        def blind(s: Sample) -> dict[str, Any] | None:
            if s.task_type not in tax.tasks:
                return None
            b = measure(s, metric_key(tax.tasks[s.task_type].metric), cfg.profile, seed)
            return None if b is None else b.record()

        for split, chosen in (("train", train), ("val", val)):
            _write_split(run, out_dir, split, chosen, files, blind)
        # The card's table covers the whole verified pool: rows verify did not score under this profile (and
        # the mix left out) are read back and scored here.
        with open(samples_path, "rb") as h:
            for e in entries:
                if e.origin == "synthetic" and e.blind is None:
                    h.seek(e.offset)
                    e.blind = blind(from_dict(Sample, orjson.loads(h.read(e.length))))
        spool.unlink(missing_ok=True)
        result = ExportResult(out_dir, train, val, len(entries), short, dict(import_counts), run.n_rejected,
                              [e for e in entries if e.blind])
        result.import_counts["synthetic_pool"] = n_synth
        from golong_data.export.card import write_card

        for name in write_card(out_dir, result, tax, in_dir, settings, command, config_text, cfg.plots,
                               own_rejections=dict(run.reasons)):
            run.add_file(name)
        run.counts.update({"pool": len(entries), "train_rows": len(train), "val_rows": len(val)})
    return result


def _write_split(run: Any, out_dir: Path, split: str, chosen: list[Entry], files: list[Path],
                 blind: Any = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
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
