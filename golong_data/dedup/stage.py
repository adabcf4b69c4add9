"""The dedup stage: exact and MinHash near-duplicate removal of documents then chunks, benchmark
decontamination, and question near-duplicates for synthesized samples.

    golong-data dedup --in CHUNKED --out DEDUPED [--threshold 0.8 --num-perm 128 --ngram 5]
                      [--against bench.jsonl ... --contam-ngram 13]
    golong-data dedup --questions --in SAMPLES --out DEDUPED [--question-threshold 90]

Order: (1) documents: exact, then near duplicates (a dropped document's chunks are dropped with it);
(2) chunks of the kept documents that share an n-gram with a benchmark file; (3) the remaining chunks,
across all documents: exact, then near duplicates. Every drop is one line in rejected.jsonl whose detail
is JSON naming the kept record and the estimated Jaccard similarity (or the benchmark file and n-gram).

Memory: documents and chunks are streamed twice (decide, then write). What stays in memory per record is
its signature (num_perm x 4 bytes), a 16-byte exact key, its id, length and position, and its entries in
the LSH index; bench/bench_dedup.py measures the total per chunk. One document's text is held at a time
(chunks are sliced from it through a byte-offset index of documents.jsonl).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from golong_data.config import DedupConfig
from golong_data.dedup.decontam import BenchmarkIndex
from golong_data.dedup.minhash import BatchMinHasher, ExactJaccard, cluster, doc_lsh_params, exact_key, lsh_params
from golong_data.dedup.minhash import words as words_of
from golong_data.errors import GolongError
from golong_data.pipeline.stage import StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.progress import progress
from golong_data.records import atomic_open, line_offsets

_D = DedupConfig  # the defaults, declared once in golong_data.config


# ------------------------------------------------------------------ the dedup stage
@dataclass
class RecordTable:
    """What is kept in memory per record while deciding (see the module docstring)."""

    ids: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    has_sig: list[bool] = field(default_factory=list)
    sig_parts: list[Any] = field(default_factory=list)
    pending: list[list[str]] = field(default_factory=list)
    pending_words: int = 0

    def add(self, rid: str, length: int, ws: list[str], key: bytes, hasher: Any) -> None:
        self.ids.append(rid)
        self.lengths.append(length)
        self.keys.append(key)
        self.has_sig.append(bool(ws))
        self.pending.append(ws)
        self.pending_words += len(ws)
        if self.pending_words >= hasher.batch_shingles:
            self.flush(hasher)

    def flush(self, hasher: Any) -> None:
        if self.pending:
            self.sig_parts.append(hasher.signatures(self.pending))
            self.pending, self.pending_words = [], 0

    def signatures(self, hasher: Any) -> Any:
        self.flush(hasher)
        if not self.sig_parts:
            return np.empty((0, hasher.num_perm), dtype=np.uint32)
        sigs = np.concatenate(self.sig_parts)
        self.sig_parts = []
        return sigs

    def order(self) -> list[int]:
        """Best first: the longest, ties by id, then by input position."""
        return sorted(range(len(self.ids)), key=lambda i: (-self.lengths[i], self.ids[i], i))


class DocTexts:
    """Document text by id through byte offsets into documents.jsonl; the last few are cached."""

    def __init__(self, path: Path, offsets: dict[str, int]) -> None:
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._offsets = offsets
        self._cache: dict[str, str] = {}

    def get(self, doc_id: str) -> str:
        text = self._cache.get(doc_id)
        if text is None:
            self._f.seek(self._offsets[doc_id])
            text = json.loads(self._f.readline())["text"]
            if len(self._cache) >= 4:  # chunks arrive grouped by document: a tiny cache is enough
                self._cache.pop(next(iter(self._cache)))
            self._cache[doc_id] = text
        return text

    def close(self) -> None:
        self._f.close()


def rejection_detail(**kw: Any) -> str:
    return json.dumps(kw, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def input_files(in_dir: Path) -> tuple[Path, Path]:
    in_dir = Path(in_dir)
    if not in_dir.is_dir():
        raise GolongError(
            f"input directory {in_dir} not found", "point --in at the output directory of `golong-data chunk`"
        )
    docs, chunks = in_dir / "documents.jsonl", in_dir / "chunks.jsonl"
    for p in (docs, chunks):
        if not p.is_file():
            raise GolongError(f"{p} not found", "run `golong-data chunk --out DIR` first and point --in at DIR")
    return docs, chunks


def dedup_config(threshold: float, num_perm: int, ngram: int, against: Sequence[Path],
                 contam_ngram: int) -> dict[str, Any]:
    """The stage's manifest config, with the LSH banding its threshold gives (dedup, unsharded and sharded)."""
    bands, rows = lsh_params(threshold, num_perm)
    doc_bands, doc_rows = doc_lsh_params(threshold, num_perm)
    return {
        "threshold": threshold, "num_perm": num_perm, "ngram": ngram, "lsh_bands": bands, "lsh_rows": rows,
        "doc_lsh_bands": doc_bands, "doc_lsh_rows": doc_rows,
        "against": [Path(p).name for p in against], "contam_ngram": contam_ngram,
    }


def _scan_documents(docs_path: Path, hasher: Any) -> tuple[RecordTable, dict[str, int], list[str]]:
    """Pass over documents.jsonl: the record table, each id's byte offset, each document's source path."""
    docs = RecordTable()
    offsets: dict[str, int] = {}
    sources: list[str] = []
    for off, d in progress(line_offsets(docs_path), desc="dedup: documents", unit="doc", leave=False):
        if not isinstance(d.get("id"), str) or not isinstance(d.get("text"), str):
            raise GolongError(f"{docs_path}: a record at byte {off} has no string id/text",
                              "documents.jsonl must hold Document records (golong-data ingest writes them)")
        text = d["text"]
        ws = words_of(text)
        docs.add(d["id"], len(text), ws, exact_key(ws, text), hasher)
        offsets.setdefault(d["id"], off)
        sources.append(str((d.get("source") or {}).get("path", "")))
    return docs, offsets, sources


def ledger_document_drops(run: Any, ids: list[str], sources: list[str],
                          drops: dict[int, Any]) -> tuple[set[str], dict[str, str]]:
    """One rejection per dropped document, in input order; returns the kept ids and, per dropped id, the id kept
    in its place (the unsharded and sharded dedup write the same lines)."""
    kept_doc_ids = {ids[i] for i in range(len(ids)) if i not in drops}
    for i in sorted(drops):
        dr = drops[i]
        run.reject(ids[i], dr.reason, rejection_detail(kept=ids[dr.kept], similarity=dr.similarity,
                                                       path=sources[i], kept_path=sources[dr.kept]))
    dropped_doc_kept = {ids[i]: ids[dr.kept] for i, dr in drops.items() if ids[i] not in kept_doc_ids}
    return kept_doc_ids, dropped_doc_kept


def reject_orphan_chunk(run: Any, cid: str, did: str, dropped_doc_kept: dict[str, str]) -> None:
    """Ledger a chunk whose document is not kept: a duplicate document's, or one no document has."""
    if did in dropped_doc_kept:
        run.reject(cid, "duplicate_document", rejection_detail(doc_id=did, kept=dropped_doc_kept[did]))
    else:
        run.reject(cid, "unknown_document", rejection_detail(doc_id=did))


@dataclass
class _ChunkScan:
    """The chunks left to cluster after the first pass over chunks.jsonl, and what that pass decided."""

    table: RecordTable = field(default_factory=RecordTable)
    positions: list[int] = field(default_factory=list)  # line number in chunks.jsonl of each clustered chunk
    chunk_doc: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    contaminated: dict[str, list[list[Any]]] = field(default_factory=dict)  # doc id -> [[start, end, benchmark]]
    n_chunks: int = 0


def _scan_chunks(run: Any, chunks_path: Path, texts: DocTexts, bench: Any, hasher: Any, kept_doc_ids: set[str],
                 dropped_doc_kept: dict[str, str]) -> _ChunkScan:
    """Pass over chunks.jsonl: ledger chunks of dropped documents, bad spans and benchmark quotes; table the rest."""
    scan = _ChunkScan()
    for pos, (_, c) in enumerate(progress(line_offsets(chunks_path), desc="dedup: chunks", unit="chunk",
                                          leave=False)):
        scan.n_chunks += 1
        cid, did = c.get("id", f"line {pos + 1}"), c.get("doc_id", "")
        if did not in kept_doc_ids:
            reject_orphan_chunk(run, cid, did, dropped_doc_kept)
            continue
        text = texts.get(did)
        s, e = c.get("start"), c.get("end")
        if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text)):
            run.reject(cid, "bad_span", rejection_detail(doc_id=did, start=s, end=e, doc_chars=len(text)))
            continue
        piece = text[s:e]
        ws = words_of(piece)
        hit = bench.match(piece, ws)
        if hit is not None:
            run.reject(cid, "contaminated", rejection_detail(benchmark=hit.benchmark, ngram=hit.ngram))
            scan.contaminated.setdefault(did, []).append([s, e, hit.benchmark])
            continue
        scan.table.add(cid, e - s, ws, exact_key(ws, piece), hasher)
        scan.positions.append(pos)
        scan.chunk_doc.append(did)
        scan.spans.append((s, e))
    return scan


def _write_kept(run: Any, docs_path: Path, chunks_path: Path, doc_drops: dict[int, Any],
                contaminated: dict[str, list[list[Any]]], kept_lines: set[int]) -> tuple[Any, Any]:
    """Step (4): the kept documents (with their contamination marks) and chunks, in input order."""
    docs_w, chunks_w = run.writer("documents.jsonl"), run.writer("chunks.jsonl")
    for i, (_, d) in enumerate(line_offsets(docs_path)):
        if i not in doc_drops:
            docs_w.write(with_contamination(d, contaminated.get(d.get("id"))))
    for pos, (_, c) in enumerate(line_offsets(chunks_path)):
        if pos in kept_lines:
            chunks_w.write(c)
    return docs_w, chunks_w


def run_dedup(
    in_dir: Path,
    out_dir: Path,
    threshold: float = _D.threshold,
    num_perm: int = _D.num_perm,
    ngram: int = _D.ngram,
    against: Sequence[Path] = (),
    contam_ngram: int = _D.contam_ngram,
) -> str:
    """The dedup stage (see the module docstring); returns the one-line summary."""
    DedupConfig(threshold, num_perm, ngram, contam_ngram)  # range checks
    docs_path, chunks_path = input_files(in_dir)
    against = [Path(p) for p in against]
    config = dedup_config(threshold, num_perm, ngram, against, contam_ngram)
    hasher = BatchMinHasher(num_perm=num_perm, ngram=ngram)
    bench = BenchmarkIndex.from_files(against, contam_ngram)

    with StageRun("dedup", out_dir, inputs=[docs_path, chunks_path, *against], config=config) as run:
        # (1) documents
        docs, offsets, sources = _scan_documents(docs_path, hasher)
        doc_sigs = docs.signatures(hasher)
        texts = DocTexts(docs_path, offsets)
        doc_verify = ExactJaccard(lambda i: words_of(texts.get(docs.ids[i])), ngram)
        doc_drops = {dr.index: dr for dr in cluster(docs.order(), docs.keys, doc_sigs, docs.has_sig, threshold,
                                                       config["doc_lsh_bands"], config["doc_lsh_rows"], doc_verify)}
        del doc_sigs
        kept_doc_ids, dropped_doc_kept = ledger_document_drops(run, docs.ids, sources, doc_drops)

        # (2) chunks: dropped documents, bad spans, contamination; then (3) signatures for the rest
        try:
            scan = _scan_chunks(run, chunks_path, texts, bench, hasher, kept_doc_ids, dropped_doc_kept)
            chunks, chunk_doc, spans = scan.table, scan.chunk_doc, scan.spans
            sigs = chunks.signatures(hasher)
            verify = ExactJaccard(lambda i: words_of(texts.get(chunk_doc[i])[spans[i][0] : spans[i][1]]), ngram)
            chunk_drops = cluster(chunks.order(), chunks.keys, sigs, chunks.has_sig, threshold,
                                  config["lsh_bands"], config["lsh_rows"], verify)
            del sigs
        finally:
            texts.close()
        dropped = ledger_chunk_drops(run, chunks.ids, chunk_doc, chunk_drops)
        kept_lines = set(scan.positions) - {scan.positions[i] for i in dropped}

        # (4) write what is kept, in input order
        docs_w, chunks_w = _write_kept(run, docs_path, chunks_path, doc_drops, scan.contaminated, kept_lines)
        run.counts.update({"documents_in": len(docs.ids), "chunks_in": scan.n_chunks,
                           "benchmark_ngrams": bench.n_ngrams})
    return run.summary(what=f"kept {docs_w.count} of {len(docs.ids)} documents, {chunks_w.count} of "
                            f"{scan.n_chunks} chunks")


def ledger_chunk_drops(run: Any, ids: list[str], chunk_doc: list[str], drops: list[Any]) -> set[int]:
    """One rejection per dropped chunk, in chunk order, naming its kept twin and both documents; returns the
    dropped chunks' indices (the unsharded and sharded dedup write the same lines)."""
    for dr in sorted(drops, key=lambda x: x.index):
        detail = rejection_detail(kept=ids[dr.kept], similarity=dr.similarity, doc_id=chunk_doc[dr.index],
                                  kept_doc_id=chunk_doc[dr.kept])
        run.reject(ids[dr.index], dr.reason, detail)
    return {dr.index for dr in drops}


def with_contamination(doc: dict[str, Any], spans: list[list[Any]] | None) -> dict[str, Any]:
    """The kept document record, carrying `quality.contaminated` = [[start, end, benchmark], ...] when some of its
    chunks were dropped for quoting a benchmark. Later stages read whole documents (synthesis builds contexts from
    them), so the mark is what keeps the dropped text from coming back as context."""
    if not spans:
        return doc
    return {**doc, "quality": {**(doc.get("quality") or {}), "contaminated": spans}}





# ---------------------------------------------------------------- one shard's signatures (dedup/shards.py merges them)
SIG_FILE = "dedup_signatures.npz"


META_FILE = "dedup_signatures.json"


def shard_signatures(shard_dir: str, out_dir: str, threshold: float = _D.threshold, num_perm: int = _D.num_perm,
                     ngram: int = _D.ngram, against: Sequence[str] = (), contam_ngram: int = _D.contam_ngram) -> str:
    """Step 1 for one shard directory (documents.jsonl + chunks.jsonl of `chunk --shard`): writes SIG_FILE and
    META_FILE into out_dir (atomically; a retried task overwrites them). Plain str arguments: it runs in
    worker processes and Ray tasks."""
    docs_path, chunks_path = input_files(Path(shard_dir))
    hasher = BatchMinHasher(num_perm=num_perm, ngram=ngram)
    bench = BenchmarkIndex.from_files([Path(p) for p in against], contam_ngram)
    meta: dict[str, Any] = {"docs": [], "chunks": []}
    doc_words: list[list[str]] = []
    doc_keys: list[bytes] = []
    offsets: dict[str, int] = {}
    for off, d in line_offsets(docs_path):
        ws = words_of(d["text"])
        doc_words.append(ws)
        doc_keys.append(exact_key(ws, d["text"]))
        offsets.setdefault(d["id"], off)
        meta["docs"].append([d["id"], len(d["text"]), bool(ws), str((d.get("source") or {}).get("path", ""))])
    doc_sigs = hasher.signatures(doc_words)
    del doc_words
    chunk_words: list[list[str]] = []
    chunk_keys: list[bytes] = []
    texts = DocTexts(docs_path, offsets)
    try:
        for _, c in line_offsets(chunks_path):
            cid, did, s, e = c.get("id"), c.get("doc_id", ""), c.get("start"), c.get("end")
            if did not in offsets:
                meta["chunks"].append([cid, did, "missing", None])
                continue
            text = texts.get(did)
            if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text)):
                meta["chunks"].append([cid, did, "bad_span", {"doc_id": did, "start": s, "end": e,
                                                              "doc_chars": len(text)}])
                continue
            piece = text[s:e]
            ws = words_of(piece)
            hit = bench.match(piece, ws)
            if hit is not None:
                meta["chunks"].append([cid, did, "contaminated", {"benchmark": hit.benchmark, "ngram": hit.ngram,
                                                                  "span": [s, e]}])
                continue
            meta["chunks"].append([cid, did, "ok", [len(chunk_words), e - s, bool(ws), s, e]])
            chunk_words.append(ws)
            chunk_keys.append(exact_key(ws, piece))
    finally:
        texts.close()
    chunk_sigs = hasher.signatures(chunk_words)
    meta["benchmark_ngrams"] = bench.n_ngrams
    out = Path(out_dir)
    with atomic_open(out / SIG_FILE, "wb") as f:
        np.savez(f, doc_sigs=doc_sigs, doc_keys=np.array(doc_keys, dtype="S16").reshape(-1),
                 chunk_sigs=chunk_sigs, chunk_keys=np.array(chunk_keys, dtype="S16").reshape(-1))
    with atomic_open(out / META_FILE) as f:
        json.dump(meta, f, ensure_ascii=False, separators=(",", ":"))
    return str(out)


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Path, out_dir: Path, cfg: DedupConfig, shard: str | None = None) -> StageResult:
    """Unsharded: the dedup stage over the chunk output `inputs`. A shard task ("upstream" sharding): `inputs` is
    the chunk stage's shard i and out_dir receives its MinHash signatures; `merge` clusters them all."""
    against = [Path(p) for p in cfg.against]
    if shard is None:
        return StageResult(run_dedup(inputs, out_dir, cfg.threshold, cfg.num_perm, cfg.ngram, against,
                                     cfg.contam_ngram))
    shard_signatures(str(inputs), str(out_dir), cfg.threshold, cfg.num_perm, cfg.ngram, [str(p) for p in against],
                     cfg.contam_ngram)
    return StageResult(f"dedup shard {shard}: signatures of {inputs}")

