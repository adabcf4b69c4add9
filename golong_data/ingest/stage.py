"""`golong-data ingest`: files in, one Document record per book / paper / conversation / text out.

    summary = run_ingest([Path("tests/fixtures")], Path("work/ingest"))
    print(summary.line)   # "ingest: ingested 128, rejected 0"

Each reader module turns a path into Document(s) or raises InputError(reason, detail); this module only
finds files, dispatches on content (magic bytes) and suffix, and writes outputs and the ledger.
"""

from __future__ import annotations

import multiprocessing
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from golong_data.config import IngestConfig
from golong_data.errors import InputError
from golong_data.ingest.dialogue import read_dialogue_json
from golong_data.ingest.quality import repeat_reason
from golong_data.ingest.text import read_text
from golong_data.pipeline.shard import in_shard, parse_shard
from golong_data.pipeline.stage import StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.progress import progress
from golong_data.records import Document

DOCUMENTS = "documents.jsonl"
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text", ".transcript")


@dataclass
class IngestSummary:
    line: str
    ingested: int
    rejected: int


def find_files(paths: Iterable[Path]) -> list[tuple[Path, str]]:
    """(file, shard key) for every input: directories recursively (hidden entries skipped), sorted.

    The shard key is the path relative to the argument it came from, so sharding does not depend on where
    the corpus is mounted.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = [
                (f, f.relative_to(p).as_posix())
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            ]
            found.sort(key=lambda fk: fk[1])
        elif p.is_file():
            found = [(p, p.name)]
        else:
            raise FileNotFoundError(f"{p}: no such file or directory")
        for f, key in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                out.append((f, key))
    return out


def _link_escapes(path: Path, key: str) -> str | None:
    """The target, when a file found under a folder is a link (or lies under one) pointing outside that folder.

    A corpus (an unpacked archive, say) holding `notes.txt -> /etc/passwd` must not put the host's files into
    training data. `key` is the path relative to the folder it was found in (see find_files).
    """
    root = path
    for _ in Path(key).parts:
        root = root.parent
    try:
        target = path.resolve()
        target.relative_to(root.resolve())
    except ValueError:
        return str(target)
    except OSError:  # a link loop: leave it to ingest_file, which ledgers it as unreadable
        return None
    return None


def reader_for(path: Path) -> Callable[[Path], Document | list[Document | InputError]] | None:
    """The reader for a file, from its first bytes (PDF, zip) and then its suffix; None when unsupported."""
    with open(path, "rb") as f:
        head = f.read(8)
    suffix = path.suffix.lower()
    if head.startswith(b"%PDF") or suffix == ".pdf":
        from golong_data.ingest.pdf import read_pdf  # lazy: pymupdf, only for PDF files

        return read_pdf
    if suffix == ".epub" or (head.startswith(b"PK\x03\x04") and _is_epub_zip(path)):
        from golong_data.ingest.epub import read_epub  # lazy: lxml (and ebooklib), only for EPUB files

        return read_epub
    if suffix in (".json", ".jsonl"):
        return read_dialogue_json
    if suffix in TEXT_SUFFIXES:
        return read_text
    return None


def _is_epub_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read("mimetype")[:64].strip() == b"application/epub+zip" if "mimetype" in zf.namelist() else False
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


# Files past these sizes are ledgered unread: the largest document worth a long-context sample is a few MB of
# text, and the JSON parser holds ~20 copies of its input at its peak. JSONL is streamed line by line instead,
# each line capped (see dialogue.MAX_LINE_BYTES), so a big JSONL corpus is fine.
MAX_FILE_BYTES = {"pdf": 512 << 20, "epub": 512 << 20, "json": 128 << 20, "text": 64 << 20}


def _size_class(reader: Callable[..., object], path: Path) -> str | None:
    name = getattr(reader, "__name__", "")
    if name == "read_pdf":
        return "pdf"
    if name == "read_epub":
        return "epub"
    if name == "read_dialogue_json":
        return None if path.suffix.lower() == ".jsonl" else "json"
    return "text"


def ingest_file(path: Path) -> list[Document | InputError]:
    """Every Document a file yields, and an InputError for each part of it (or the whole) that failed."""
    try:
        reader = reader_for(path)
        size = path.stat().st_size
    except OSError as e:  # unreadable, vanished, a device that refuses reads: this file's problem only
        return [InputError("unreadable", f"{type(e).__name__}: {e.strerror or e}")]
    if reader is not None and (kind := _size_class(reader, path)) and size > MAX_FILE_BYTES[kind]:
        return [InputError("too_large", f"{size / 2**20:.0f} MiB > {MAX_FILE_BYTES[kind] >> 20} MiB cap for {kind}")]
    if reader is None:
        return [InputError("unsupported_format", f"no reader for {path.suffix or 'files without a suffix'}")]
    try:
        result = reader(path)
    except InputError as e:
        return [e]
    except Exception as e:  # noqa: BLE001 - one bad file must never stop the run; the ledger says what broke
        return [InputError("ingest_error", f"{type(e).__name__}: {e}")]
    return result if isinstance(result, list) else [result]


def _ingest_for_pool(path: Path) -> list[Document | tuple[str, str]]:
    """ingest_file in a worker process; errors travel as (reason, detail) (exceptions pickle lossily)."""
    return [(r.reason, r.detail) if isinstance(r, InputError) else r for r in ingest_file(path)]


def _results(files: list[Path], workers: int) -> Iterator[tuple[Path, list[Document | InputError]]]:
    """(file, results) in input order; with workers > 1, files are read in parallel processes (ingest is
    embarrassingly parallel and CPU-bound in pymupdf/lxml), results still yielded in input order."""
    if workers <= 1 or len(files) < 2 * workers:
        for f in files:
            yield f, ingest_file(f)
        return

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        for f, res in zip(files, pool.map(_ingest_for_pool, files, chunksize=1), strict=True):
            yield f, [InputError(*r) if isinstance(r, tuple) else r for r in res]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_ingest(paths: list[Path], out: Path, shard: str | None = None, workers: int | None = None) -> IngestSummary:
    """Ingest files/directories into out/documents.jsonl (+ rejected.jsonl, manifest.json).

    Output is the same whatever `workers` is (results are written in input order).
    """
    shard_spec = parse_shard(shard)
    found = [(f, k) for f, k in find_files(paths) if in_shard(k, shard_spec)]
    escaping = [(f, t) for f, k in found if (t := _link_escapes(f, k))]
    files = [f for f, k in found if not _link_escapes(f, k)]
    config = {"shard": shard}
    n_workers = default_workers() if workers is None else workers
    # The manifest fingerprints exactly the files read (hidden directories such as a corpus's .cache/ are
    # not inputs, and a shard's manifest covers only its own files).
    with StageRun("ingest", Path(out), inputs=files, config=config) as run:
        docs = run.writer(DOCUMENTS)
        for f, target in escaping:
            run.reject(str(f), "symlink_outside_corpus", f"links to {target}, outside the folder given")
        first_seen: dict[str, str] = {}
        results = _results(files, n_workers)
        for f, items in progress(results, total=len(files), desc="ingest", unit="file"):
            for item in items:
                if isinstance(item, InputError):
                    run.reject(str(f), item.reason, item.detail)
                    continue
                src = str(f) + (f"#{item.source['conversation']}" if "conversation" in item.source else "")
                if item.id in first_seen:
                    run.reject(src, "duplicate_document", f"same text as {first_seen[item.id]}")
                    continue
                first_seen[item.id] = src
                if why := repeat_reason(item.quality):  # a reader bug or a degenerate file, not training text
                    run.reject(src, "repeated_paragraphs", why)
                    continue
                for dropped in item.quality.get("dropped_pages", []):
                    run.reject(f"{f}#page={dropped['page']}", "pdf_garbage_page", dropped["reason"])
                docs.write(item)
        line = run.summary("ingested")
    return IngestSummary(line=line, ingested=docs.count, rejected=run.n_rejected)


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Sequence[Path], out_dir: Path, cfg: IngestConfig, shard: str | None = None) -> StageResult:
    # A shard task reads with one process: the executor's tasks are the parallelism.
    workers = cfg.workers if cfg.workers is not None or shard is None else 1
    summary = run_ingest([Path(p) for p in inputs], out_dir, shard=shard, workers=workers)
    return StageResult(summary.line, detail=summary)

