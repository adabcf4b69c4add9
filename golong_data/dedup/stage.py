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

from golong_data.config import DedupConfig
from golong_data.errors import ConfigError, GolongError
from golong_data.progress import progress
from golong_data.records import line_offsets

DEFAULT_QUESTION_THRESHOLD = 90.0  # rapidfuzz token_set_ratio, 0-100


# ------------------------------------------------------------------ question near-duplicates
def question_duplicates(
    questions: Sequence[str], threshold: float = DEFAULT_QUESTION_THRESHOLD
) -> list[tuple[int, int, float]]:
    """(dropped index, kept index, score) for each question scoring >= `threshold` against an earlier kept one.

    Score: rapidfuzz `token_set_ratio` after `default_process` (lower-case, punctuation to spaces): word order
    and repeats do not matter, and a question whose words are all in a kept one scores 100.

    Not all n^2 pairs are scored (cdist over 23K questions takes ~20 min on 2 cores). token_set_ratio is the
    best of three Indel ratios; the two that compare the shared words S with one side A reach t only when
    |S| >= t/(200-t) |A| (0.82 |A| at t=90, lengths in characters). Prefix filtering (as in set-similarity
    joins): order each question's words rarest first; a prefix holding more than 1 - 0.82 of its characters
    must then share a word with the other side. So candidates are earlier questions that contain one of this
    question's prefix words, or whose prefix contains one of its words; candidates are scored exactly. Missed:
    pairs that reach t only through the third ratio with few shared words, i.e. spelling variants of most
    words ("colour of Emmas hat" / "color of Emma hat"), which paraphrasing LLMs rarely produce.
    """
    from collections import Counter, defaultdict

    from rapidfuzz import fuzz, utils

    if not 0 < threshold <= 100:
        raise ConfigError(f"question threshold must be in (0, 100] (a token_set_ratio), got {threshold}")
    procs = [utils.default_process(q) for q in questions]
    first: dict[str, int] = {}
    for i, p in enumerate(procs):
        first.setdefault(p, i)
    unique = sorted(first.values())  # one index per distinct processed question, in input order
    texts = [procs[i] for i in unique]
    toks = [sorted(set(t.split())) for t in texts]
    df = Counter(w for ts in toks for w in ts)
    alpha = threshold / (200 - threshold)
    postings: dict[str, list[int]] = defaultdict(list)  # word -> kept questions containing it
    prefix_postings: dict[str, list[int]] = defaultdict(list)  # word -> kept questions with it in their prefix
    kept_by: dict[int, tuple[int, float]] = {}  # unique position -> (kept unique position, score)
    for r, ts in enumerate(toks):
        if not ts:
            continue  # an empty question matches nothing (token_set_ratio gives 0)
        weight = sum(len(w) + 1 for w in ts)
        prefix, acc = [], 0
        for w in sorted(ts, key=lambda w: (df[w], w)):
            prefix.append(w)
            acc += len(w) + 1
            if acc > (1 - alpha) * weight:
                break
        cands = {c for w in prefix for c in postings.get(w, ())}
        cands.update(c for w in ts for c in prefix_postings.get(w, ()))
        best: tuple[float, int] | None = None
        for c in sorted(cands):
            score = fuzz.token_set_ratio(texts[r], texts[c], processor=None, score_cutoff=threshold)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, c)
        if best is not None:
            kept_by[r] = (best[1], round(best[0], 2))
            continue
        for w in ts:
            postings[w].append(r)
        for w in prefix:
            prefix_postings[w].append(r)
    pos = {i: r for r, i in enumerate(unique)}
    out: list[tuple[int, int, float]] = []
    for i, p in enumerate(procs):
        r = pos[first[p]]
        if first[p] != i:  # equal after processing: a duplicate of whatever its first copy became
            out.append((i, unique[kept_by[r][0]] if r in kept_by else first[p], 100.0))
        elif r in kept_by:
            out.append((i, unique[kept_by[r][0]], kept_by[r][1]))
    return out


def near_duplicate_questions(questions: list[str], threshold: float = DEFAULT_QUESTION_THRESHOLD) -> list[int]:
    """Indices of questions to drop: each is a near duplicate (token_set_ratio >= threshold) of an earlier
    kept question; the first of each group is kept. Sorted ascending."""
    return [i for i, _, _ in question_duplicates(questions, threshold)]


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
        import numpy as np

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


def run_dedup(
    in_dir: Path,
    out_dir: Path,
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    against: Sequence[Path] = (),
    contam_ngram: int = 13,
) -> str:
    """The dedup stage (see the module docstring); returns the one-line summary."""
    from golong_data.dedup.decontam import BenchmarkIndex
    from golong_data.dedup.minhash import BatchMinHasher, ExactJaccard, cluster, doc_lsh_params, exact_key, lsh_params
    from golong_data.dedup.minhash import words as words_of
    from golong_data.pipeline.stage import StageRun

    DedupConfig(threshold, num_perm, ngram, contam_ngram)  # range checks
    docs_path, chunks_path = input_files(in_dir)
    against = [Path(p) for p in against]
    bands, rows = lsh_params(threshold, num_perm)
    doc_bands, doc_rows = doc_lsh_params(threshold, num_perm)
    config = {
        "threshold": threshold, "num_perm": num_perm, "ngram": ngram, "lsh_bands": bands, "lsh_rows": rows,
        "doc_lsh_bands": doc_bands, "doc_lsh_rows": doc_rows,
        "against": [p.name for p in against], "contam_ngram": contam_ngram,
    }
    hasher = BatchMinHasher(num_perm=num_perm, ngram=ngram)
    bench = BenchmarkIndex.from_files(against, contam_ngram)

    with StageRun("dedup", out_dir, inputs=[docs_path, chunks_path, *against], config=config) as run:
        # (1) documents
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
        doc_sigs = docs.signatures(hasher)
        texts = DocTexts(docs_path, offsets)
        doc_verify = ExactJaccard(lambda i: words_of(texts.get(docs.ids[i])), ngram)
        doc_drops = {dr.index: dr for dr in cluster(docs.order(), docs.keys, doc_sigs, docs.has_sig, threshold,
                                                       doc_bands, doc_rows, doc_verify)}
        del doc_sigs
        kept_doc_ids = {docs.ids[i] for i in range(len(docs.ids)) if i not in doc_drops}
        for i in sorted(doc_drops):
            dr = doc_drops[i]
            run.reject(docs.ids[i], dr.reason, rejection_detail(kept=docs.ids[dr.kept], similarity=dr.similarity,
                                                       path=sources[i], kept_path=sources[dr.kept]))
        dropped_doc_kept = {docs.ids[i]: docs.ids[dr.kept] for i, dr in doc_drops.items()
                            if docs.ids[i] not in kept_doc_ids}

        # (2) chunks: dropped documents, bad spans, contamination; then (3) signatures for the rest
        chunks = RecordTable()
        positions: list[int] = []  # line number in chunks.jsonl of each clustered chunk
        chunk_doc: list[str] = []
        spans: list[tuple[int, int]] = []
        contaminated: dict[str, list[list[Any]]] = {}  # doc id -> [[start, end, benchmark], ...]
        n_chunks = 0
        try:
            for pos, (_, c) in enumerate(progress(line_offsets(chunks_path), desc="dedup: chunks", unit="chunk",
                                              leave=False)):
                n_chunks += 1
                cid, did = c.get("id", f"line {pos + 1}"), c.get("doc_id", "")
                if did not in kept_doc_ids:
                    if did in dropped_doc_kept:
                        run.reject(cid, "duplicate_document", rejection_detail(doc_id=did, kept=dropped_doc_kept[did]))
                    else:
                        run.reject(cid, "unknown_document", rejection_detail(doc_id=did))
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
                    contaminated.setdefault(did, []).append([s, e, hit.benchmark])
                    continue
                chunks.add(cid, e - s, ws, exact_key(ws, piece), hasher)
                positions.append(pos)
                chunk_doc.append(did)
                spans.append((s, e))
            sigs = chunks.signatures(hasher)
            verify = ExactJaccard(lambda i: words_of(texts.get(chunk_doc[i])[spans[i][0] : spans[i][1]]), ngram)
            chunk_drops = cluster(chunks.order(), chunks.keys, sigs, chunks.has_sig, threshold, bands, rows, verify)
            del sigs
        finally:
            texts.close()
        dropped = ledger_chunk_drops(run, chunks.ids, chunk_doc, chunk_drops)
        kept_lines = set(positions) - {positions[i] for i in dropped}

        # (4) write what is kept, in input order
        docs_w, chunks_w = run.writer("documents.jsonl"), run.writer("chunks.jsonl")
        for i, (_, d) in enumerate(line_offsets(docs_path)):
            if i not in doc_drops:
                docs_w.write(with_contamination(d, contaminated.get(d.get("id"))))
        for pos, (_, c) in enumerate(line_offsets(chunks_path)):
            if pos in kept_lines:
                chunks_w.write(c)
        run.counts.update({"documents_in": len(docs.ids), "chunks_in": n_chunks, "benchmark_ngrams": bench.n_ngrams})
    return run.summary(what=f"kept {docs_w.count} of {len(docs.ids)} documents, {chunks_w.count} of {n_chunks} chunks")


def ledger_chunk_drops(run: Any, ids: list[str], chunk_doc: list[str], drops: list[Any]) -> set[int]:
    """One rejection per dropped chunk, in chunk order, naming its kept twin and both documents; returns the
    dropped chunks' indices (dedup and dedup-shards write the same lines)."""
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


def _question_of(sample: dict[str, Any]) -> str:
    """The sample's question: meta.question when synthesis recorded it, else its last user message."""
    q = (sample.get("meta") or {}).get("question")
    if isinstance(q, str) and q.strip():
        return q
    for msg in reversed(sample.get("prompt") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return str(msg.get("content", ""))
    return ""


def run_question_dedup(in_dir: Path, out_dir: Path, threshold: float = DEFAULT_QUESTION_THRESHOLD) -> str:
    """`dedup --questions`: DIR/samples.jsonl -> OUT/samples.jsonl without near-duplicate questions."""
    from golong_data.pipeline.stage import StageRun

    DedupConfig(question_threshold=threshold)  # range check
    in_dir = Path(in_dir)
    path = in_dir / "samples.jsonl"
    if not path.is_file():
        raise GolongError(f"{path} not found", "point --in at the output directory of `golong-data synthesize`")
    # Samples carry their whole long context: stream them twice, holding only ids and questions.
    ids, questions = [], []
    for i, (_, obj) in enumerate(line_offsets(path)):
        ids.append(str(obj.get("id", f"line {i + 1}")))
        questions.append(_question_of(obj))
    dropped = {i: (k, score) for i, k, score in question_duplicates(questions, threshold)}
    with StageRun("dedup", out_dir, inputs=[path], config={"questions": True, "question_threshold": threshold}) as run:
        w = run.writer("samples.jsonl")
        for i, (_, obj) in enumerate(line_offsets(path)):
            if i in dropped:
                k, score = dropped[i]
                run.reject(ids[i], "near_duplicate_question", rejection_detail(kept=ids[k], score=score,
                                                                      question=questions[i][:200]))
            else:
                w.write(obj)
    return run.summary(what=f"kept {w.count} of {len(ids)} samples")
