"""Token-exact chunking: documents -> spans of at most N tokens that slice back to the text exactly.

Cut points, coarsest first (a finer one is used only inside a piece that does not fit):
sections (chapter / page / turn) > paragraphs > sentences (. ! ? … and Chinese 。！？) > lines > clauses
(, ; : and ，；：、) > words (whitespace) > characters (only a single "word" longer than N tokens, e.g. a run
of Chinese text without punctuation, is cut inside; each cut is the longest prefix that fits).

At each level, consecutive pieces that fit are packed greedily into one chunk; a piece that does not fit is
chunked on its own, so no chunk straddles the boundary of an over-long section or paragraph. Each piece is
tokenised once and counts are summed while packing; BPE counts are not exactly additive across a join, so
every finished chunk is re-counted exactly and shortened (one piece at a time) if the join made it longer.
Chunk edges are trimmed of whitespace. `n_tokens` is the exact count of `doc.text[start:end]`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from golong_data.config import MIN_MAX_TOKENS, ChunkConfig
from golong_data.errors import ConfigError, GolongError
from golong_data.pipeline.shard import in_shard, merge_sorted, parse_shard, position, shard_manifests, upstream_order
from golong_data.pipeline.stage import REJECTED, StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.progress import progress
from golong_data.records import Chunk, Document, content_id, from_dict, iter_jsonl
from golong_data.tokens import Tokenizer, get_tokenizer

# A piece ends right after its separator, so the pieces of a span tile it exactly.
LEVELS: list[tuple[str, re.Pattern[str]]] = [
    ("paragraph", re.compile(r"\n[^\S\n]*\n\s*")),
    # Latin sentence ends need the following space (so "3.14" and "e.g.x" stay whole); CJK ends do not.
    ("sentence", re.compile(r"[.!?…][\"'”’)\]]*\s+|[。！？][\"'”’」』）)]*\s*")),
    # After sentences: PDF and plain-text lines are hard-wrapped, so a line end is often mid-sentence.
    ("line", re.compile(r"\n\s*")),
    ("clause", re.compile(r"[,;:][\"'”’)\]]*\s+|[，；：、]\s*")),
    ("word", re.compile(r"\s+")),
]
# A code point is at most 4 UTF-8 bytes, so at most 4 byte-level BPE tokens: below this a single character
# might not fit and the "never exceed N" promise could not be kept.



@dataclass(frozen=True)
class Span:
    start: int
    end: int
    n_tokens: int


class _Chunker:
    def __init__(self, text: str, tok: Tokenizer, max_tokens: int) -> None:
        self.text = text
        self.tok = tok
        self.n = max_tokens

    def count(self, s: int, e: int) -> int:
        return self.tok.count(self.text[s:e])

    def trim(self, s: int, e: int) -> tuple[int, int]:
        t = self.text
        while s < e and t[s].isspace():
            s += 1
        while e > s and t[e - 1].isspace():
            e -= 1
        return s, e

    def span(self, s: int, e: int) -> Span | None:
        s, e = self.trim(s, e)
        return Span(s, e, self.count(s, e)) if s < e else None

    def chunk_sections(self, pieces: list[tuple[int, int]]) -> list[Span]:
        """Sections are measured by their paragraphs (each counted once, reused if the section must be cut)."""
        para = LEVELS[0][1]
        out: list[Span] = []
        group: list[tuple[int, int, int]] = []
        total = 0
        for s, e in pieces:
            paras = self.cut(s, e, para)
            counts = [self.count(a, b) for a, b in paras]
            n = sum(counts)  # joins rarely add tokens; flush() re-counts exactly anyway
            if n > self.n:
                out.extend(self.flush(group))
                group, total = [], 0
                out.extend(self.chunk_pieces(paras, 0, counts))
                continue
            if group and total + n > self.n:
                out.extend(self.flush(group))
                group, total = [], 0
            group.append((s, e, n))
            total += n
        out.extend(self.flush(group))
        return out

    def chunk_pieces(self, pieces: list[tuple[int, int]], level: int, counts: list[int] | None = None) -> list[Span]:
        """Pack consecutive fitting pieces; chunk an over-long piece on its own at the next level."""
        out: list[Span] = []
        group: list[tuple[int, int, int]] = []
        total = 0
        for k, (s, e) in enumerate(pieces):
            n = counts[k] if counts is not None else self.count(s, e)
            if n > self.n:
                out.extend(self.flush(group))
                group, total = [], 0
                out.extend(self.chunk_span(s, e, level + 1))
                continue
            if group and total + n > self.n:
                out.extend(self.flush(group))
                group, total = [], 0
            group.append((s, e, n))
            total += n
        out.extend(self.flush(group))
        return out

    def flush(self, group: list[tuple[int, int, int]]) -> list[Span]:
        """The group as one chunk, verified exactly; if the joins pushed it over N, give back pieces."""
        out: list[Span] = []
        while group:
            k = len(group)
            while True:
                sp = self.span(group[0][0], group[k - 1][1])
                if sp is None or sp.n_tokens <= self.n or k == 1:
                    break
                k -= 1
            if sp is not None:
                out.append(sp)
            group = group[k:]
        return out

    def chunk_span(self, s: int, e: int, level: int) -> list[Span]:
        """Chunks of text[s:e], known not to fit in one, cut at `level` or finer."""
        while level < len(LEVELS):
            pieces = self.cut(s, e, LEVELS[level][1])
            if len(pieces) > 1:
                return self.chunk_pieces(pieces, level)
            level += 1
        return self.chunk_chars(s, e)

    def cut(self, s: int, e: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
        pieces, prev = [], s
        for m in pattern.finditer(self.text, s, e):
            if m.end() > prev and m.end() < e:
                pieces.append((prev, m.end()))
                prev = m.end()
        pieces.append((prev, e))
        return pieces

    def chunk_chars(self, s: int, e: int) -> list[Span]:
        """Last resort for a single unbreakable run: longest prefixes that fit (binary search)."""
        out: list[Span] = []
        while s < e:
            hi = min(e, s + 8 * self.n)  # a token is rarely > 8 characters; widen the window if it is
            n_hi = self.count(s, hi)
            while n_hi <= self.n and hi < e:
                hi = min(e, s + 2 * (hi - s))
                n_hi = self.count(s, hi)
            if n_hi > self.n:
                lo, top = s + 1, hi - 1
                while lo < top:  # the largest end with count(s, end) <= n
                    mid = (lo + top + 1) // 2
                    if self.count(s, mid) <= self.n:
                        lo = mid
                    else:
                        top = mid - 1
                hi = lo
            sp = self.span(s, hi)
            if sp is not None:
                out.append(sp)
            s = hi
        return out


def section_pieces(doc: Document) -> list[tuple[int, int]]:
    """The text tiled by its sections (sorted, overlaps clipped) and the gaps between them."""
    pieces: list[tuple[int, int]] = []
    pos = 0
    for sec in sorted(doc.sections, key=lambda x: (x.start, x.end)):
        s, e = max(sec.start, pos), min(sec.end, len(doc.text))
        if e <= s:
            continue
        if s > pos:
            pieces.append((pos, s))
        pieces.append((s, e))
        pos = e
    if pos < len(doc.text):
        pieces.append((pos, len(doc.text)))
    return pieces


def chunk_document(doc: Document, tok: Tokenizer, max_tokens: int) -> list[Chunk]:
    """Chunks of at most `max_tokens` tokens covering the document's non-blank text, in order."""
    if max_tokens < MIN_MAX_TOKENS:
        raise ConfigError(f"--max-tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    ck = _Chunker(doc.text, tok, max_tokens)
    spans = ck.chunk_sections(section_pieces(doc))
    order = sorted(range(len(doc.sections)), key=lambda i: (doc.sections[i].start, -doc.sections[i].end))
    starts = [doc.sections[i].start for i in order]
    chunks = []
    for sp in spans:
        chunks.append(
            Chunk(
                id=content_id("chunk", doc.id, f"{sp.start}:{sp.end}"),
                doc_id=doc.id,
                start=sp.start,
                end=sp.end,
                n_tokens=sp.n_tokens,
                section=_containing_section(doc, order, starts, sp),
            )
        )
    return chunks


def _containing_section(doc: Document, order: list[int], starts: list[int], sp: Span) -> int | None:
    """The innermost section holding the whole chunk (sections sorted by start; nesting allowed)."""
    j = bisect.bisect_right(starts, sp.start) - 1
    for k in range(j, max(-1, j - 64), -1):  # nesting deeper than 64 is not a real document
        sec = doc.sections[order[k]]
        if sec.start <= sp.start and sp.end <= sec.end:
            return order[k]
    return None


def _documents_file(in_dir: Path) -> Path:
    if not Path(in_dir).is_dir():
        raise GolongError(
            f"input directory {in_dir} not found", "point --in at the output directory of `golong-data ingest`"
        )
    path = Path(in_dir) / "documents.jsonl"
    if not path.is_file():
        raise GolongError(f"{path} not found", "run `golong-data ingest --out DIR` first and point --in at DIR")
    return path


def iter_documents(path: Path) -> Iterator[tuple[dict[str, Any], Document]]:
    """(raw record, Document) pairs, the raw dict kept so copying documents through loses no field."""
    for raw in iter_jsonl(path):
        yield raw, from_dict(Document, raw)


def run_chunk(
    in_dir: Path, out_dir: Path, max_tokens: int, tokenizer: str | None = None, shard: str | None = None
) -> str:
    """The chunk stage: DIR/documents.jsonl -> OUT/chunks.jsonl + OUT/documents.jsonl; returns the summary."""
    if max_tokens < MIN_MAX_TOKENS:
        raise ConfigError(f"--max-tokens must be at least {MIN_MAX_TOKENS}, got {max_tokens}")
    docs_path = _documents_file(in_dir)
    part = parse_shard(shard)
    tok = get_tokenizer(tokenizer)
    config = {"max_tokens": max_tokens, "tokenizer": tok.name, "shard": shard}
    with StageRun("chunk", out_dir, inputs=[docs_path], config=config) as run:
        chunks_w, docs_w = run.writer("chunks.jsonl"), run.writer("documents.jsonl")
        n_tok = 0
        for raw, doc in progress(iter_documents(docs_path), desc="chunk", unit="doc", leave=False):
            if not in_shard(doc.id, part):
                continue
            chunks = chunk_document(doc, tok, max_tokens)
            if not chunks:
                run.reject(doc.id, "empty_text", "the document has no non-blank text to chunk")
                continue
            docs_w.write(raw)
            for c in chunks:
                chunks_w.write(c)
                n_tok += c.n_tokens
        run.counts["chunk_tokens"] = n_tok
    return run.summary(what=f"{docs_w.count} documents -> {chunks_w.count} chunks ({n_tok:,} tokens)")


def merge_chunk(shard_dirs: Sequence[Path], out: Path, order_from: Path | None = None) -> str:
    """Merge `chunk --shard i/N` outputs into out/chunks.jsonl + documents.jsonl + rejected.jsonl."""
    mans = shard_manifests(shard_dirs, "chunk")
    pos = upstream_order(mans, order_from)
    dirs = [Path(d) for d in shard_dirs]
    config = {**(mans[0].get("config") or {}), "shard": None, "merged_shards": len(dirs)}
    names = ("chunks.jsonl", "documents.jsonl", REJECTED)
    inputs = [d / n for d in dirs for n in names]
    keys: dict[str, Callable[[dict[str, Any]], int]] = {
        "chunks.jsonl": lambda c: position(pos, c["doc_id"], "document"),
        "documents.jsonl": lambda d: position(pos, d["id"], "document"),
    }
    with StageRun("chunk", out, inputs=inputs, config=config) as run:
        ws = {n: run.writer(n) for n in keys}
        for name, key in keys.items():
            for obj in merge_sorted([d / name for d in dirs], key):
                ws[name].write(obj)
        for r in merge_sorted([d / REJECTED for d in dirs], lambda r: position(pos, r["source"], "rejected")):
            run.reject(r["source"], r["reason"], r.get("detail", ""))
        line = run.summary(f"merged {len(dirs)} shards, kept")
    return line


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Path, out_dir: Path, cfg: ChunkConfig, shard: str | None = None) -> StageResult:
    return StageResult(run_chunk(inputs, out_dir, cfg.max_tokens, tokenizer=cfg.tokenizer, shard=shard))


def merge(shard_dirs: Sequence[Path], out_dir: Path, cfg: ChunkConfig, inputs: Sequence[Path] = ()) -> StageResult:
    """`inputs`: optionally the documents.jsonl (or its dir) the shards read; default: named in their manifests."""
    return StageResult(merge_chunk(shard_dirs, out_dir, inputs[0] if inputs else None))
