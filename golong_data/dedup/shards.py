"""Near-duplicate removal across shards: the dedup stage's result over N `chunk --shard i/N` outputs.

    golong-data shard dedup w/chunk --shards 4 --out w/dedup    # over w/chunk.shards/0..3 (from `shard chunk`)

The datatrove sequence (signatures -> buckets -> clusters -> filter), with the single-machine stage's exact
result: out/ holds the bytes `golong-data dedup` writes for the merged chunk output (tests compare them).

1. signatures, one task per shard, in parallel (`dedup.stage.shard_signatures`): for every document and chunk of the
   shard, its normalised words -> exact key, MinHash signature (dedup.minhash.BatchMinHasher, the very
   signatures of the single path), length; per chunk also the span and benchmark checks. Text is read here
   only; what leaves the task is ~num_perm x 4 bytes per record (an .npz and a small JSON per shard).
2. buckets + clusters, one process (`run_dedup_shards`): the shards' arrays are concatenated in the single
   run's order (each record's document position in the upstream documents.jsonl) and handed to
   dedup.minhash.cluster, which bands them (band_buckets) and keeps the longest text of each cluster. The
   greedy keep-the-best pass must see every candidate in one order -- that is what makes its clusters those of
   the single path -- so it is not split; it holds signatures only (512 B per chunk at num_perm=128:
   ~1 GB for 2M chunks) and runs at numpy speed (bench/bench_dedup.py).
3. filter, streaming: the shards' records in merged order, minus the drops, into out/.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from golong_data.config import DedupConfig
from golong_data.dedup.minhash import ExactJaccard, cluster, words
from golong_data.dedup.stage import (
    META_FILE,
    SIG_FILE,
    DocTexts,
    RecordTable,
    dedup_config,
    ledger_chunk_drops,
    ledger_document_drops,
    reject_orphan_chunk,
    rejection_detail,
    with_contamination,
)
from golong_data.errors import GolongError
from golong_data.pipeline.executor import Task, get_executor
from golong_data.pipeline.shard import merge_sorted, shard_manifests, upstream_order
from golong_data.pipeline.stage import StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.records import iter_jsonl, line_offsets

_D = DedupConfig  # the defaults, declared once in golong_data.config


def _signature_tasks(dirs: list[Path], sig_dirs: list[Path], threshold: float, num_perm: int, ngram: int,
                     against: Sequence[Path], contam_ngram: int) -> list[Any]:
    """Step 1 as executor tasks: one `shard_signatures` per shard directory."""
    return [Task(f"signatures {d}", "golong_data.dedup.stage:shard_signatures",
                 {"shard_dir": str(d), "out_dir": str(s), "threshold": threshold, "num_perm": num_perm,
                  "ngram": ngram, "against": [str(p) for p in against], "contam_ngram": contam_ngram})
            for d, s in zip(dirs, sig_dirs, strict=True)]


def _load_signatures(sig_dirs: list[Path]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each shard's META_FILE and SIG_FILE arrays, in shard order."""
    metas = [json.loads((s / META_FILE).read_text(encoding="utf-8")) for s in sig_dirs]
    arrays = []
    for s in sig_dirs:
        with np.load(s / SIG_FILE) as z:  # an NpzFile re-reads an array on every [name]: load each once
            arrays.append({name: z[name] for name in z.files})
    return metas, arrays


def _positions(pos: dict[str, int]) -> Callable[[str], int]:
    """A document id -> its position in the upstream documents.jsonl (the single run's order)."""

    def where(rid: str) -> int:
        if rid not in pos:
            raise GolongError(f"document {rid!r} is not in the upstream documents.jsonl", "pass --order-from")
        return pos[rid]

    return where


def _document_table(metas: list[dict[str, Any]], arrays: list[dict[str, Any]],
                    where: Callable[[str], int]) -> tuple[Any, list[str], list[int], list[int]]:
    """The shards' documents in upstream order: record table, source paths, shard and stacked row of each."""
    doc_rows = sorted(((where(d[0]), k, j) for k, m in enumerate(metas) for j, d in enumerate(m["docs"])))
    docs = RecordTable()
    sources: list[str] = []
    doc_shard: list[int] = []
    doc_base = np.cumsum([0] + [len(a["doc_sigs"]) for a in arrays])  # row offsets of each shard's block
    doc_idx: list[int] = []
    for _, k, j in doc_rows:
        rid, length, has, src = metas[k]["docs"][j]
        docs.ids.append(rid)
        docs.lengths.append(length)
        docs.has_sig.append(has)
        sources.append(src)
        doc_shard.append(k)
        doc_idx.append(int(doc_base[k]) + j)
    return docs, sources, doc_shard, doc_idx


@dataclass
class _ShardChunks:
    """The chunks left to cluster, in merged order, and what the signature tasks decided for the others."""

    table: Any  # dedup.stage.RecordTable
    chunk_doc: list[str] = field(default_factory=list)
    chunk_src: list[tuple[int, int, int]] = field(default_factory=list)  # (shard, start, end)
    chunk_idx: list[int] = field(default_factory=list)  # row in the shards' stacked chunk arrays
    keep_at: list[tuple[int, int]] = field(default_factory=list)  # (shard, line in its chunks.jsonl)
    contaminated: dict[str, list[list[Any]]] = field(default_factory=dict)  # doc id -> [[start, end, benchmark]]
    n_chunks: int = 0


def _merge_chunks(run: Any, metas: list[dict[str, Any]], arrays: list[dict[str, Any]], where: Callable[[str], int],
                  kept_doc_ids: set[str], dropped_doc_kept: dict[str, str]) -> _ShardChunks:
    """The shards' chunk rows in merged order: ledger the rejected ones, table the rest (as `_scan_chunks`)."""
    def chunk_stream(k: int) -> Any:
        for j, row in enumerate(metas[k]["chunks"]):
            yield where(row[1]), k, j

    out = _ShardChunks(RecordTable())
    chunk_base = np.cumsum([0] + [len(a["chunk_sigs"]) for a in arrays])
    for _, k, j in heapq.merge(*(chunk_stream(k) for k in range(len(metas)))):
        out.n_chunks += 1
        cid, did, status, info = metas[k]["chunks"][j]
        if did not in kept_doc_ids:  # the single path's check order: document, span, benchmark
            reject_orphan_chunk(run, cid, did, dropped_doc_kept)
            continue
        if status == "missing":
            raise GolongError(f"chunk {cid}'s document {did} is in another shard's documents.jsonl",
                              "dedup the outputs of `chunk --shard i/N`, which keep chunks beside their documents")
        if status == "contaminated":  # as the single path: ledger it, and mark the span on its document
            span = info.pop("span")
            out.contaminated.setdefault(did, []).append([*span, info["benchmark"]])
        if status != "ok":
            run.reject(cid, status, rejection_detail(**info))
            continue
        row, length, has, start, end = info
        out.table.ids.append(cid)
        out.table.lengths.append(length)
        out.table.has_sig.append(has)
        out.chunk_idx.append(int(chunk_base[k]) + row)
        out.chunk_doc.append(did)
        out.chunk_src.append((k, start, end))
        out.keep_at.append((k, j))
    return out


def _write_merged(run: Any, dirs: list[Path], where: Callable[[str], int], dropped_doc_ids: set[str],
                  contaminated: dict[str, list[list[Any]]], kept_at: set[tuple[int, int]]) -> tuple[Any, Any]:
    """Step 3: stream the shards' records in merged order (chunks tagged with their (shard, line)), minus drops."""
    docs_w, chunks_w = run.writer("documents.jsonl"), run.writer("chunks.jsonl")
    for d in merge_sorted([p / "documents.jsonl" for p in dirs], lambda d: where(d["id"])):
        if d["id"] not in dropped_doc_ids:
            docs_w.write(with_contamination(d, contaminated.get(d["id"])))
    for obj in heapq.merge(*(_tag(p / "chunks.jsonl", k) for k, p in enumerate(dirs)),
                           key=lambda t: where(t[2]["doc_id"])):
        if (obj[0], obj[1]) in kept_at:
            chunks_w.write(obj[2])
    return docs_w, chunks_w


def run_dedup_shards(shard_dirs: Sequence[Path], out_dir: Path, threshold: float = _D.threshold,
                     num_perm: int = _D.num_perm, ngram: int = _D.ngram, against: Sequence[Path] = (),
                     contam_ngram: int = _D.contam_ngram, order_from: Path | None = None, executor: Any = None,
                     work_dir: Path | None = None, signatures: Sequence[Path] | None = None) -> str:
    """Steps 1-3 (see the module docstring); `executor` (pipeline.executor) runs step 1, default in-process.
    `signatures`: step 1's output directories, one per shard dir, already made (the sharded runner's tasks)."""
    DedupConfig(threshold, num_perm, ngram, contam_ngram)  # range checks
    dirs = [Path(d) for d in shard_dirs]
    pos = upstream_order(shard_manifests(dirs, "chunk"), order_from)
    work = Path(work_dir) if work_dir else Path(out_dir).with_name(Path(out_dir).name + ".signatures")
    if signatures is None:
        sig_dirs = [work / f"shard-{i}" for i in range(len(dirs))]
        tasks = _signature_tasks(dirs, sig_dirs, threshold, num_perm, ngram, against, contam_ngram)
        (executor or get_executor("local", workers=1)).run(tasks)
    else:
        sig_dirs = [Path(s) for s in signatures]

    # ---- gather in the single run's order: documents by upstream position; a shard's chunks follow its
    # documents' order, so chunk order is a merge of the shards' chunk lists by their document's position.
    metas, arrays = _load_signatures(sig_dirs)
    where = _positions(pos)
    docs, sources, doc_shard, doc_idx = _document_table(metas, arrays, where)
    config = {**dedup_config(threshold, num_perm, ngram, against, contam_ngram), "shards": len(dirs)}
    texts = _ShardTexts(dirs)  # candidates near the threshold are verified on their text, as in `dedup`
    doc_sigs, doc_key_list = _gather(arrays, "doc", doc_idx, num_perm)
    doc_verify = ExactJaccard(lambda i: words(texts.get(doc_shard[i], docs.ids[i])), ngram)
    doc_drops = {dr.index: dr for dr in cluster(docs.order(), doc_key_list, doc_sigs, docs.has_sig, threshold,
                                                   config["doc_lsh_bands"], config["doc_lsh_rows"], doc_verify)}

    inputs = [d / n for d in dirs for n in ("documents.jsonl", "chunks.jsonl")] + [Path(p) for p in against]
    with StageRun("dedup", out_dir, inputs=inputs, config=config) as run:
        kept_doc_ids, dropped_doc_kept = ledger_document_drops(run, docs.ids, sources, doc_drops)
        merged = _merge_chunks(run, metas, arrays, where, kept_doc_ids, dropped_doc_kept)
        chunks, chunk_doc, chunk_src = merged.table, merged.chunk_doc, merged.chunk_src
        sigs, chunk_key_list = _gather(arrays, "chunk", merged.chunk_idx, num_perm)

        def chunk_words(i: int) -> list[str]:
            k, start, end = chunk_src[i]
            return words(texts.get(k, chunk_doc[i])[start:end])

        try:
            chunk_drops = cluster(chunks.order(), chunk_key_list, sigs, chunks.has_sig, threshold,
                                  config["lsh_bands"], config["lsh_rows"], ExactJaccard(chunk_words, ngram))
        finally:
            texts.close()
        del sigs
        dropped = ledger_chunk_drops(run, chunks.ids, chunk_doc, chunk_drops)
        kept_at = set(merged.keep_at) - {merged.keep_at[i] for i in dropped}

        # ---- filter: stream the shards' records in merged order, each tagged with its (shard, line)
        docs_w, chunks_w = _write_merged(run, dirs, where, {docs.ids[i] for i in doc_drops}, merged.contaminated,
                                         kept_at)
        run.counts.update({"documents_in": len(docs.ids), "chunks_in": merged.n_chunks,
                           "benchmark_ngrams": metas[0]["benchmark_ngrams"] if metas else 0})
    return run.summary(what=f"kept {docs_w.count} of {len(docs.ids)} documents, {chunks_w.count} of "
                            f"{merged.n_chunks} chunks (from {len(dirs)} shards)")


def _gather(arrays: list[dict[str, Any]], kind: str, idx: list[int], num_perm: int) -> tuple[Any, list[bytes]]:
    """Signatures and exact keys of rows `idx` of the shards' stacked arrays, in that order (numpy, no loop)."""
    at = np.asarray(idx, dtype=np.int64)
    sigs = np.concatenate([a[f"{kind}_sigs"].reshape(-1, num_perm) for a in arrays])[at]
    # "S16" drops trailing NUL bytes of a key; pad them back to the 16 bytes exact_key made
    keys = [bytes(x).ljust(16, b"\0") for x in np.concatenate([a[f"{kind}_keys"] for a in arrays])[at]]
    return sigs, keys


class _ShardTexts:
    """Document text by (shard, id), opened on first use (most runs verify no candidate at all)."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs
        self._open: dict[int, Any] = {}

    def get(self, k: int, doc_id: str) -> str:
        if k not in self._open:
            path = self.dirs[k] / "documents.jsonl"
            offsets: dict[str, int] = {}
            for off, d in line_offsets(path):
                offsets.setdefault(d["id"], off)
            self._open[k] = DocTexts(path, offsets)
        return self._open[k].get(doc_id)

    def close(self) -> None:
        for t in self._open.values():
            t.close()


def _tag(path: Path, k: int) -> Any:
    for j, obj in enumerate(iter_jsonl(path)):
        yield k, j, obj


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def merge(shard_dirs: Sequence[Path], out_dir: Path, cfg: DedupConfig, inputs: Sequence[Path] = ()) -> StageResult:
    """`shard_dirs`: the shards' signature directories; `inputs`: the chunk shard directories they were made from,
    in the same order. Clusters over all of them and writes what the unsharded stage writes."""
    if len(inputs) != len(shard_dirs):
        raise GolongError(f"dedup merge: {len(shard_dirs)} signature dirs but {len(inputs)} chunk shard dirs",
                          "give the chunk shard directories the signatures were made from, in the same order")
    return StageResult(run_dedup_shards(inputs, out_dir, cfg.threshold, cfg.num_perm, cfg.ngram,
                                        [Path(p) for p in cfg.against], cfg.contam_ngram, signatures=shard_dirs))


