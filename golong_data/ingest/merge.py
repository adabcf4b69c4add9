"""Merging ingest shards: the position of a record's file in `find_files(corpus)` orders the merge (documents name
their file in source.path, rejections in their source), so merge needs the corpus paths the shards were given.
One cross-shard effect exists: a document whose text also came from a file of another shard is a
`duplicate_document` in the single run; the merge drops it and writes that rejection in its place."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golong_data.config import IngestConfig
from golong_data.errors import GolongError
from golong_data.ingest.stage import DOCUMENTS, find_files
from golong_data.pipeline.shard import merge_sorted, shard_manifests
from golong_data.pipeline.stage import REJECTED, StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.records import Rejection, iter_jsonl

_SAME = "same text as "  # ingest's duplicate_document detail


def _file_index(index: dict[str, int], source: str) -> int:
    """The position of the file a rejection or document names: its path, or path#page=.. / path#conversation."""
    i = index.get(source)
    cut = len(source)
    while i is None:
        cut = source.rfind("#", 0, cut)
        if cut < 0:
            raise GolongError(f"{source!r} is not a file of the given corpus",
                              "pass the same corpus paths (--corpus) the shards were given")
        i = index.get(source[:cut])
    return i


# ---------------------------------------------------------------- the merge stage
def merge_ingest(shard_dirs: Sequence[Path], out: Path, corpus: Sequence[Path]) -> str:
    """Merge `ingest --shard i/N` outputs into out/documents.jsonl + rejected.jsonl (see the module docstring)."""
    if not corpus:
        raise GolongError("merging ingest shards needs the corpus paths", "pass --corpus PATH (as given to ingest)")
    mans = shard_manifests(shard_dirs, "ingest")
    index = {str(f): i for i, (f, _) in enumerate(find_files([Path(p) for p in corpus]))}
    dirs = [Path(d) for d in shard_dirs]
    config = {**(mans[0].get("config") or {}), "shard": None, "merged_shards": len(dirs)}
    inputs = [d / n for d in dirs for n in (DOCUMENTS, REJECTED)]

    def src_of(d: dict[str, Any]) -> str:  # ingest's first_seen name for a document
        s = d.get("source") or {}
        return str(s.get("path", "")) + (f"#{s['conversation']}" if "conversation" in s else "")

    with StageRun("ingest", out, inputs=inputs, config=config) as run:
        w = run.writer(DOCUMENTS)
        first_seen: dict[str, str] = {}
        id_of: dict[str, str] = {}  # document name -> id, to re-point a shard's own duplicate lines
        # file index -> [(dup Rejection, sources of that document's dropped-page rejections)]
        dups: dict[int, list[tuple[Rejection, set[str]]]] = {}
        for d in merge_sorted([p / DOCUMENTS for p in dirs], lambda d: _file_index(index, src_of(d))):
            src = src_of(d)
            id_of[src] = d["id"]
            if d["id"] in first_seen:
                # The single run saw this text in an earlier file (of another shard) and wrote this instead
                # of the document -- and not its dropped-page lines, which come after the duplicate check.
                pages = {f"{d['source']['path']}#page={p['page']}" for p in (d.get("quality") or {}).get(
                    "dropped_pages", [])}
                dups.setdefault(_file_index(index, src), []).append(
                    (Rejection("ingest", src, "duplicate_document", f"same text as {first_seen[d['id']]}"), pages))
                continue
            first_seen[d["id"]] = src
            w.write(d)
        rejections: list[tuple[int, int, dict[str, Any]]] = []
        for d in dirs:
            for n, r in enumerate(iter_jsonl(d / REJECTED)):
                first = str(r.get("detail", "")).removeprefix(_SAME)
                if r.get("reason") == "duplicate_document" and first in id_of:
                    # The shard named the first copy *it* saw; an earlier file of another shard may hold one.
                    r["detail"] = _SAME + first_seen[id_of[first]]
                rejections.append((_file_index(index, str(r.get("source", ""))), n, r))
        rejections.sort(key=lambda t: t[0])  # stable: a file's lines keep their shard's order
        by_file: dict[int, list[dict[str, Any]]] = {}
        for i, _, r in rejections:
            by_file.setdefault(i, []).append(r)
        for i, extra in dups.items():
            lines = by_file.setdefault(i, [])
            for rej, pages in extra:
                at = next((k for k, r in enumerate(lines) if r.get("source") in pages), len(lines))
                lines[:] = [r for r in lines if r.get("source") not in pages]
                # A file's items are processed in order: the dup takes its page lines' place, else the end.
                lines.insert(min(at, len(lines)), {"stage": rej.stage, "source": rej.source, "reason": rej.reason,
                                                   "detail": rej.detail})
        for i in sorted(by_file):
            for r in by_file[i]:
                run.reject(r["source"], r["reason"], r.get("detail", ""))
        line = run.summary(f"merged {len(dirs)} shards, kept")
    return line


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def merge(shard_dirs: Sequence[Path], out_dir: Path, cfg: IngestConfig, inputs: Sequence[Path] = ()) -> StageResult:
    """`inputs`: the corpus paths the shards were given (their file order is the output order)."""
    return StageResult(merge_ingest(shard_dirs, out_dir, inputs))
