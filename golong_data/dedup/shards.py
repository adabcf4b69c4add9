"""Near-duplicate removal across shards: the dedup stage's result over N `chunk --shard i/N` outputs.

    golong-data dedup-shards w/chunk.0 w/chunk.1 w/chunk.2 w/chunk.3 --out w/dedup [--executor local --workers 2]

The datatrove sequence (signatures -> buckets -> clusters -> filter), with the single-machine stage's exact
result: out/ holds the bytes `golong-data dedup` writes for the merged chunk output (tests compare them).

1. signatures, one task per shard, in parallel (`shard_signatures`): for every document and chunk of the
   shard, its normalised words -> exact key, MinHash signature (dedup_minhash.BatchMinHasher, the very
   signatures of the single path), length; per chunk also the span and benchmark checks. Text is read here
   only; what leaves the task is ~num_perm x 4 bytes per record (an .npz and a small JSON per shard).
2. buckets + clusters, one process (`run_dedup_shards`): the shards' arrays are concatenated in the single
   run's order (each record's document position in the upstream documents.jsonl) and handed to
   dedup_minhash.cluster, which bands them (band_buckets) and keeps the longest text of each cluster. The
   greedy keep-the-best pass must see every candidate in one order -- that is what makes its clusters those of
   the single path -- so it is not split; it holds signatures only (512 B per chunk at num_perm=128:
   ~1 GB for 2M chunks) and runs at numpy speed (bench/bench_dedup.py).
3. filter, streaming: the shards' records in merged order, minus the drops, into out/.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError

SIG_FILE = "dedup_signatures.npz"
META_FILE = "dedup_signatures.json"


def shard_signatures(shard_dir: str, out_dir: str, threshold: float = 0.8, num_perm: int = 128, ngram: int = 5,
                     against: Sequence[str] = (), contam_ngram: int = 13) -> str:
    """Step 1 for one shard directory (documents.jsonl + chunks.jsonl of `chunk --shard`): writes SIG_FILE and
    META_FILE into out_dir (atomically; a retried task overwrites them). Plain str arguments: it runs in
    worker processes and Ray tasks."""
    import numpy as np

    from golong_data.dedup.decontam import BenchmarkIndex
    from golong_data.dedup.minhash import BatchMinHasher, exact_key, words
    from golong_data.dedup.stage import DocTexts, input_files
    from golong_data.records import atomic_open, line_offsets

    docs_path, chunks_path = input_files(Path(shard_dir))
    hasher = BatchMinHasher(num_perm=num_perm, ngram=ngram)
    bench = BenchmarkIndex.from_files([Path(p) for p in against], contam_ngram)
    meta: dict[str, Any] = {"docs": [], "chunks": []}
    doc_words: list[list[str]] = []
    doc_keys: list[bytes] = []
    offsets: dict[str, int] = {}
    for off, d in line_offsets(docs_path):
        ws = words(d["text"])
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
            ws = words(piece)
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


def run_dedup_shards(shard_dirs: Sequence[Path], out_dir: Path, threshold: float = 0.8, num_perm: int = 128,
                     ngram: int = 5, against: Sequence[Path] = (), contam_ngram: int = 13,
                     order_from: Path | None = None, executor: Any = None, work_dir: Path | None = None,
                     signatures: Sequence[Path] | None = None) -> str:
    """Steps 1-3 (see the module docstring); `executor` (pipeline.executor) runs step 1, default in-process.
    `signatures`: step 1's output directories, one per shard dir, already made (the sharded runner's tasks)."""
    import numpy as np

    from golong_data.config import DedupConfig
    from golong_data.dedup.minhash import ExactJaccard, cluster, doc_lsh_params, lsh_params, words
    from golong_data.dedup.stage import RecordTable, ledger_chunk_drops, rejection_detail, with_contamination
    from golong_data.pipeline.executor import Task, get_executor
    from golong_data.pipeline.shard import merge_sorted, shard_manifests, upstream_order
    from golong_data.pipeline.stage import StageRun

    DedupConfig(threshold, num_perm, ngram, contam_ngram)  # range checks
    dirs = [Path(d) for d in shard_dirs]
    pos = upstream_order(shard_manifests(dirs, "chunk"), order_from)
    work = Path(work_dir) if work_dir else Path(out_dir).with_name(Path(out_dir).name + ".signatures")
    sig_dirs = [Path(s) for s in signatures or [work / f"shard-{i}" for i in range(len(dirs))]]
    tasks = [Task(f"signatures {d}", "golong_data.dedup.shards:shard_signatures",
                  {"shard_dir": str(d), "out_dir": str(s), "threshold": threshold, "num_perm": num_perm,
                   "ngram": ngram, "against": [str(p) for p in against], "contam_ngram": contam_ngram})
             for d, s in zip(dirs, sig_dirs, strict=True)]
    if signatures is None:
        (executor or get_executor("local", workers=1)).run(tasks)

    # ---- gather in the single run's order: documents by upstream position; a shard's chunks follow its
    # documents' order, so chunk order is a merge of the shards' chunk lists by their document's position.
    metas = [json.loads((s / META_FILE).read_text(encoding="utf-8")) for s in sig_dirs]
    arrays = []
    for s in sig_dirs:
        with np.load(s / SIG_FILE) as z:  # an NpzFile re-reads an array on every [name]: load each once
            arrays.append({name: z[name] for name in z.files})

    def where(rid: str) -> int:
        if rid not in pos:
            raise GolongError(f"document {rid!r} is not in the upstream documents.jsonl", "pass --order-from")
        return pos[rid]

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
    bands, rows = lsh_params(threshold, num_perm)
    doc_bands, doc_rows = doc_lsh_params(threshold, num_perm)
    texts = _ShardTexts(dirs)  # candidates near the threshold are verified on their text, as in `dedup`
    doc_sigs, doc_key_list = _gather(arrays, "doc", doc_idx, num_perm)
    doc_verify = ExactJaccard(lambda i: words(texts.get(doc_shard[i], docs.ids[i])), ngram)
    doc_drops = {dr.index: dr for dr in cluster(docs.order(), doc_key_list, doc_sigs, docs.has_sig, threshold,
                                                   doc_bands, doc_rows, doc_verify)}
    kept_doc_ids = {docs.ids[i] for i in range(len(docs.ids)) if i not in doc_drops}
    dropped_doc_kept = {docs.ids[i]: docs.ids[dr.kept] for i, dr in doc_drops.items()
                        if docs.ids[i] not in kept_doc_ids}

    def chunk_stream(k: int) -> Any:
        for j, row in enumerate(metas[k]["chunks"]):
            yield where(row[1]), k, j

    import heapq

    config = {"threshold": threshold, "num_perm": num_perm, "ngram": ngram, "lsh_bands": bands, "lsh_rows": rows,
              "doc_lsh_bands": doc_bands, "doc_lsh_rows": doc_rows,
              "against": [Path(p).name for p in against], "contam_ngram": contam_ngram, "shards": len(dirs)}
    inputs = [d / n for d in dirs for n in ("documents.jsonl", "chunks.jsonl")] + [Path(p) for p in against]
    with StageRun("dedup", out_dir, inputs=inputs, config=config) as run:
        for i in sorted(doc_drops):
            dr = doc_drops[i]
            run.reject(docs.ids[i], dr.reason, rejection_detail(kept=docs.ids[dr.kept], similarity=dr.similarity,
                                                       path=sources[i], kept_path=sources[dr.kept]))
        chunks = RecordTable()
        chunk_doc: list[str] = []
        chunk_src: list[tuple[int, int, int]] = []  # (shard, start, end)
        chunk_base = np.cumsum([0] + [len(a["chunk_sigs"]) for a in arrays])
        chunk_idx: list[int] = []
        keep_at: list[tuple[int, int]] = []  # (shard, line in the shard's chunks.jsonl) of each clustered chunk
        n_chunks = 0
        contaminated: dict[str, list[list[Any]]] = {}  # doc id -> [[start, end, benchmark], ...]
        for _, k, j in heapq.merge(*(chunk_stream(k) for k in range(len(dirs)))):
            n_chunks += 1
            cid, did, status, info = metas[k]["chunks"][j]
            if did not in kept_doc_ids:  # the single path's check order: document, span, benchmark
                if did in dropped_doc_kept:
                    run.reject(cid, "duplicate_document", rejection_detail(doc_id=did, kept=dropped_doc_kept[did]))
                else:
                    run.reject(cid, "unknown_document", rejection_detail(doc_id=did))
                continue
            if status == "missing":
                raise GolongError(f"chunk {cid}'s document {did} is in another shard's documents.jsonl",
                                  "dedup the outputs of `chunk --shard i/N`, which keep chunks beside their documents")
            if status == "contaminated":  # as the single path: ledger it, and mark the span on its document
                span = info.pop("span")
                contaminated.setdefault(did, []).append([*span, info["benchmark"]])
            if status != "ok":
                run.reject(cid, status, rejection_detail(**info))
                continue
            row, length, has, start, end = info
            chunks.ids.append(cid)
            chunks.lengths.append(length)
            chunks.has_sig.append(has)
            chunk_idx.append(int(chunk_base[k]) + row)
            chunk_doc.append(did)
            chunk_src.append((k, start, end))
            keep_at.append((k, j))
        sigs, chunk_key_list = _gather(arrays, "chunk", chunk_idx, num_perm)

        def chunk_words(i: int) -> list[str]:
            k, start, end = chunk_src[i]
            return words(texts.get(k, chunk_doc[i])[start:end])

        try:
            chunk_drops = cluster(chunks.order(), chunk_key_list, sigs, chunks.has_sig, threshold, bands, rows,
                                  ExactJaccard(chunk_words, ngram))
        finally:
            texts.close()
        del sigs
        dropped = ledger_chunk_drops(run, chunks.ids, chunk_doc, chunk_drops)
        kept_at = set(keep_at) - {keep_at[i] for i in dropped}

        # ---- filter: stream the shards' records in merged order, each tagged with its (shard, line)
        docs_w, chunks_w = run.writer("documents.jsonl"), run.writer("chunks.jsonl")
        dropped_doc_ids = {docs.ids[i] for i in doc_drops}
        for d in merge_sorted([p / "documents.jsonl" for p in dirs], lambda d: where(d["id"])):
            if d["id"] not in dropped_doc_ids:
                docs_w.write(with_contamination(d, contaminated.get(d["id"])))
        for obj in heapq.merge(*(_tag(p / "chunks.jsonl", k) for k, p in enumerate(dirs)),
                               key=lambda t: where(t[2]["doc_id"])):
            if (obj[0], obj[1]) in kept_at:
                chunks_w.write(obj[2])
        run.counts.update({"documents_in": len(docs.ids), "chunks_in": n_chunks,
                           "benchmark_ngrams": metas[0]["benchmark_ngrams"] if metas else 0})
    return run.summary(what=f"kept {docs_w.count} of {len(docs.ids)} documents, {chunks_w.count} of {n_chunks} chunks"
                    f" (from {len(dirs)} shards)")


def _gather(arrays: list[dict[str, Any]], kind: str, idx: list[int], num_perm: int) -> tuple[Any, list[bytes]]:
    """Signatures and exact keys of rows `idx` of the shards' stacked arrays, in that order (numpy, no loop)."""
    import numpy as np

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
        from golong_data.dedup.stage import DocTexts
        from golong_data.records import line_offsets

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
    from golong_data.records import iter_jsonl

    for j, obj in enumerate(iter_jsonl(path)):
        yield k, j, obj
