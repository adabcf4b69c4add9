"""Merging shard outputs: N `--shard i/N` runs of a stage -> the bytes one unsharded run writes.

    golong-data ingest CORPUS --out w/ingest.0 --shard 0/4     # ... 1/4, 2/4, 3/4: any machines, any order
    golong-data merge ingest w/ingest.0 w/ingest.1 w/ingest.2 w/ingest.3 --out w/ingest --corpus CORPUS

A shard writes a subsequence of the single run's output, in the single run's order. So the merge is a k-way
merge (heapq.merge, streaming: one record per shard in memory) by each record's position in that order:

- ingest: the position of the record's file in `find_files(corpus)` (documents name their file in
  source.path, rejections in their source), so merge needs the same corpus paths the shards were given.
  One cross-shard effect exists: a document whose text also came from a file of another shard is a
  `duplicate_document` in the single run; merge drops it and writes that rejection in its place.
- chunk: the position of the record's document in the upstream documents.jsonl every shard read (named in
  the shards' manifests): documents and chunks carry their doc id, rejections name it as source.
- verify: the position of the sample's line in the samples.jsonl every shard read (named in the manifests,
  checked by its sha256). A verify shard checks its own samples of each global chunk of input lines and writes
  both files in input order; a repeated id's `duplicate_id` lines take that id's later positions in turn.

`merge llm-cache` folds the LLM caches of several nodes into one (merge_llm_caches).

- synthesize: shards run disjoint *slots* (wanted samples) over the whole document library and write their
  raw attempts; golong_data.synth.select merges them by slot and makes the cross-slot decisions (duplicate
  questions, quota) that a whole run makes. Dedup goes through golong_data.dedup.shards.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.pipeline.stage import REJECTED, shard_manifests
from golong_data.records import iter_jsonl

MERGEABLE = ("ingest", "chunk", "verify", "synthesize", "llm-cache")
_SAME = "same text as "  # ingest's duplicate_document detail
# dumps() writes a record's fields in dataclass order, so a Document line starts with its id: reading the
# order of a 10 GB documents.jsonl then costs a regex per line instead of parsing every book's text.
_ID_PREFIX = re.compile(r'^\{"id":"((?:[^"\\]|\\.)*)"')


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
            m = _ID_PREFIX.match(line)
            if m and "\\" not in m.group(1):
                rid = m.group(1)
            else:
                import json

                rid = json.loads(line)["id"]
            pos.setdefault(rid, len(pos))
    return pos


def _keyed(path: Path, key: Callable[[dict[str, Any]], int]) -> Iterator[tuple[int, dict[str, Any]]]:
    for obj in iter_jsonl(path):
        yield key(obj), obj


def merge_sorted(paths: Sequence[Path], key: Callable[[dict[str, Any]], int]) -> Iterator[dict[str, Any]]:
    """The records of several JSONL files, each already in `key` order, in one `key` order (stable: records
    with equal keys keep their file's order; equal keys never span shards, as a key lives in one shard)."""
    streams = [_keyed(p, key) for p in paths if p.exists()]
    for _, obj in heapq.merge(*streams, key=lambda kv: kv[0]):
        yield obj


def _position(pos: dict[str, int], rid: str, what: str) -> int:
    try:
        return pos[rid]
    except KeyError:
        raise GolongError(f"{what} {rid!r} is not in the upstream documents.jsonl",
                          "merge shards of one run, reading one upstream file") from None


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
    from golong_data.ingest.stage import DOCUMENTS, find_files
    from golong_data.pipeline.stage import StageRun
    from golong_data.records import Rejection

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


def merge_chunk(shard_dirs: Sequence[Path], out: Path, order_from: Path | None = None) -> str:
    """Merge `chunk --shard i/N` outputs into out/chunks.jsonl + documents.jsonl + rejected.jsonl."""
    from golong_data.pipeline.stage import StageRun

    mans = shard_manifests(shard_dirs, "chunk")
    pos = upstream_order(mans, order_from)
    dirs = [Path(d) for d in shard_dirs]
    config = {**(mans[0].get("config") or {}), "shard": None, "merged_shards": len(dirs)}
    names = ("chunks.jsonl", "documents.jsonl", REJECTED)
    inputs = [d / n for d in dirs for n in names]
    keys: dict[str, Callable[[dict[str, Any]], int]] = {
        "chunks.jsonl": lambda c: _position(pos, c["doc_id"], "document"),
        "documents.jsonl": lambda d: _position(pos, d["id"], "document"),
    }
    with StageRun("chunk", out, inputs=inputs, config=config) as run:
        ws = {n: run.writer(n) for n in keys}
        for name, key in keys.items():
            for obj in merge_sorted([d / name for d in dirs], key):
                ws[name].write(obj)
        for r in merge_sorted([d / REJECTED for d in dirs], lambda r: _position(pos, r["source"], "rejected")):
            run.reject(r["source"], r["reason"], r.get("detail", ""))
        line = run.summary(f"merged {len(dirs)} shards, kept")
    return line


# ---------------------------------------------------------------- LLM caches of several nodes
_RESPONSE_COLS = ("key", "model", "request", "text", "finish_reason", "prompt_tokens", "completion_tokens", "cost",
                  "run_id", "stage", "task_type", "duration_ms", "created_at")
_OUTCOME_COLS = ("run_id", "stage", "task_type", "model", "item_key", "request_key", "ok", "reason", "detail",
                 "cached", "prompt_tokens", "completion_tokens", "created_at")


def _cache_file(p: Path) -> Path:
    from golong_data.llm.cache import CACHE_FILE

    return p / CACHE_FILE if p.is_dir() or not p.suffix else p


def merge_llm_caches(sources: Sequence[Path], dest: Path) -> str:
    """Copy the rows of several LLM caches (one per node: SQLite's WAL cannot be shared over NFS) into `dest`.

    Rows already in `dest` (same key/run/time) are skipped, so merging again adds nothing; new rows go in by
    creation time across all sources, so "the newest row for a key wins" (--refresh) still holds after the
    merge. Returns the one-line summary."""
    import sqlite3

    from golong_data.llm.cache import LLMCache

    dest_file = _cache_file(Path(dest))
    files = [_cache_file(Path(s)) for s in sources]
    for f in files:
        if not f.is_file():
            raise GolongError(f"{f} not found", "pass LLM cache files (llm_cache.sqlite) or the dirs holding them")
    added = {"responses": 0, "outcomes": 0}
    with LLMCache(dest_file) as cache:  # creates dest and runs the schema migrations
        db = cache.db
        for table, cols, same in (("responses", _RESPONSE_COLS, ("key", "run_id", "created_at")),
                                  ("outcomes", _OUTCOME_COLS, ("run_id", "item_key", "request_key", "created_at"))):
            c = ", ".join(cols)
            db.execute(f"CREATE TEMP TABLE staged AS SELECT {c} FROM main.{table} WHERE 0")
            for f in files:
                db.execute("ATTACH DATABASE ? AS src", (str(f),))
                try:
                    db.execute(f"INSERT INTO staged SELECT {c} FROM src.{table} ORDER BY id")
                except sqlite3.OperationalError as e:
                    raise GolongError(f"{f}: not an LLM cache ({e})") from None
                finally:
                    db.execute("DETACH DATABASE src")
            match = " AND ".join(f"m.{k} IS s.{k}" for k in same)
            with db:
                cur = db.execute(f"INSERT INTO main.{table} ({c}) SELECT DISTINCT {c} FROM staged s WHERE NOT EXISTS "
                                 f"(SELECT 1 FROM main.{table} m WHERE {match}) ORDER BY s.created_at")
            added[table] = cur.rowcount
            db.execute("DROP TABLE temp.staged")
    return (f"merge: {added['responses']} responses and {added['outcomes']} outcomes from {len(files)} caches "
            f"into {dest_file}")


def merge_shards(stage: str, shard_dirs: Sequence[Path], out: Path, corpus: Sequence[Path] = (),
                 order_from: Path | None = None) -> str:
    """`golong-data merge STAGE SHARD_DIR... --out OUT`: returns the one-line summary."""
    if stage == "ingest":
        return merge_ingest(shard_dirs, out, corpus)
    if stage == "chunk":
        return merge_chunk(shard_dirs, out, order_from)
    if stage == "verify":
        return merge_verify(shard_dirs, out, order_from)
    if stage == "llm-cache":
        return merge_llm_caches(shard_dirs, out)
    if stage == "synthesize":
        from golong_data.synth.select import merge_synthesize

        return merge_synthesize(shard_dirs, out)
    hints = {"dedup": "dedup chunk shards with `golong-data dedup-shards`"}
    hint = hints.get(stage, "only ingest, chunk, synthesize and verify shards merge into a single run's bytes")
    raise GolongError(f"cannot merge {stage!r} shards; expected one of: {', '.join(MERGEABLE)}", hint)


# ---------------------------------------------------------------- verify shards
_ID_PREFIX_B = re.compile(_ID_PREFIX.pattern.encode())  # a Sample line starts with its id too


def sample_order(mans: Sequence[dict[str, Any]], override: Path | None = None
                 ) -> tuple[dict[str, int], dict[str, list[int]]]:
    """The input order of the samples.jsonl the (verify) shards read: (id -> position of its first line,
    id -> positions of its later lines), positions counted over non-blank lines as verify reads them."""
    import hashlib
    import json

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
    from golong_data.pipeline.stage import StageRun

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
        streams = [_keyed(d / REJECTED, _rejection_key(first, later)) for d in dirs if (d / REJECTED).exists()]
        for _, r in heapq.merge(*streams, key=lambda kv: kv[0]):
            run.reject(r["source"], r["reason"], r.get("detail", ""))
        requests = sum(int((m.get("counts") or {}).get("llm_requests", 0)) for m in mans)
        if requests:
            run.counts.update({"llm_requests": requests})
        line = run.summary(f"merged {len(dirs)} shards, kept")
    return line
