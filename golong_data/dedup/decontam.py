"""Benchmark decontamination: drop training text that shares a word n-gram with an evaluation set.

n = 13 by default, the window GPT-3 (Brown et al. 2020, appendix C) and the LLaMA/Llama-2 contamination
studies use: long enough that a shared 13-gram is a quotation, not a common phrase.

Benchmark files are JSONL (one object per line) or parquet; every string anywhere in a record (nested
lists and dicts included: LongBench's `context`/`input`/`answers`, RULER's `input`, Qasper's paragraphs...)
is a text field. Words are the normalised words of near-duplicate detection (dedup.minhash.words). Each
n-gram is hashed to 64 bits (blake2b per distinct word, then a polynomial rolling combination in numpy) and
each benchmark file keeps one sorted uint64 array: 8 bytes per benchmark n-gram, looked up with
searchsorted. A 64-bit collision between a chunk and a benchmark n-gram has odds ~ n_chunk_ngrams *
n_bench_ngrams / 2^64, negligible; the ledger quotes the chunk's matching n-gram so a reader can check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from golong_data.dedup.minhash import words
from golong_data.errors import GolongError

DEFAULT_CONTAM_NGRAM = 13
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio): a bijective step per word


class _WordHasher:
    """Stable 64-bit word hashes (Python's hash() is salted per process), cached per distinct word."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def __call__(self, ws: Sequence[str]) -> np.ndarray:
        c = self._cache
        out = np.empty(len(ws), dtype=np.uint64)
        for i, w in enumerate(ws):
            h = c.get(w)
            if h is None:
                digest = hashlib.blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                if len(c) < 2_000_000:  # bound the cache; beyond it words are just re-hashed
                    c[w] = h
            out[i] = h
        return out


def ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of n consecutive words: sum_k h[i+k] * M^(n-1-k) mod 2^64 (order-sensitive)."""
    m = len(word_hashes) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    acc = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            acc = acc * _MULT + word_hashes[k : k + m]
    return acc


def iter_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from iter_strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from iter_strings(v)


def iter_benchmark_texts(path: Path) -> Iterator[str]:
    """Every string of every record of a JSONL / JSON / parquet benchmark file."""
    path = Path(path)
    if not path.is_file():
        raise GolongError(f"benchmark file {path} not found", "pass local JSONL or parquet copies to --against")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # lazy: pyarrow only for parquet benchmark files

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=256):
            for row in batch.to_pylist():
                yield from iter_strings(row)
        return
    with open(path, encoding="utf-8") as f:
        if suffix == ".json":
            try:
                yield from iter_strings(json.load(f))
            except json.JSONDecodeError as e:
                raise GolongError(f"{path}: not valid JSON ({e.msg})", "pass a JSON, JSONL or parquet file") from e
            return
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield from iter_strings(json.loads(line))
            except json.JSONDecodeError as e:
                raise GolongError(
                    f"{path}:{lineno}: not valid JSON ({e.msg})", "benchmark files must be JSONL or parquet"
                ) from e


@dataclass(frozen=True)
class Contamination:
    benchmark: str  # the benchmark file's name
    ngram: str  # the chunk's words that matched


class BenchmarkIndex:
    """Sorted n-gram hashes per benchmark file; `match(text)` finds the first shared n-gram."""

    def __init__(self, n: int = DEFAULT_CONTAM_NGRAM) -> None:
        if n < 1:
            raise GolongError(f"--contam-ngram must be >= 1, got {n}")
        self.n = n
        self._hash = _WordHasher()
        self.tables: list[tuple[str, np.ndarray]] = []

    @classmethod
    def from_files(cls, paths: Sequence[Path], n: int = DEFAULT_CONTAM_NGRAM) -> BenchmarkIndex:
        idx = cls(n)
        for p in paths:
            idx.add(Path(p).name, iter_benchmark_texts(Path(p)))
        return idx

    def add(self, name: str, texts: Iterator[str]) -> None:
        parts = [ngram_hashes(self._hash(words(t)), self.n) for t in texts]
        arr = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)
        self.tables.append((name, arr))

    @property
    def n_ngrams(self) -> int:
        return sum(len(a) for _, a in self.tables)

    def match(self, text: str, ws: Sequence[str] | None = None) -> Contamination | None:
        if not self.tables:
            return None
        ws = words(text) if ws is None else ws
        grams = ngram_hashes(self._hash(ws), self.n)
        if not len(grams):
            return None
        for name, table in self.tables:
            if not len(table):
                continue
            pos = np.searchsorted(table, grams)
            hit = np.nonzero(table[np.minimum(pos, len(table) - 1)] == grams)[0]
            if len(hit):
                i = int(hit[0])
                return Contamination(name, " ".join(ws[i : i + self.n]))
        return None
