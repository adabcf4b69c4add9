"""Near-duplicate detection: normalised words, word n-gram shingles, batch MinHash, greedy LSH clustering.

Signatures are bit-for-bit those of datasketch's `MinHash` (scheme "affine32", the 2.x default, seed 1):
each shingle is hashed with datasketch's `sha1_hash32`, pre-mixed with the MurmurHash3 finalizer and put
through the same affine permutations `a*h + b mod 2^32`; but instead of one numpy call per shingle
(`MinHash.update`) a whole batch of texts is permuted in one (S, num_perm) array and reduced per text with
`np.minimum.reduceat`. bench/bench_dedup.py checks the signatures are identical and times both.

Clustering keeps the longest text of each cluster: texts are visited longest first (ties by id, then input
position); each one is compared only with texts already kept that share an LSH band with it, and is dropped
as a near duplicate of the most similar one whose Jaccard similarity reaches the threshold. The bands are
chosen for recall (lsh_params: false negatives weighted 0.95 against 0.05, as datatrove favours recall with
14 x 8); they are indexed by sorting numpy arrays rather than in MinHashLSH's dict-of-sets storage (see
band_buckets). The similarity of a candidate is the signatures' estimate when it is clear of the threshold
by VERIFY_MARGIN; in the margin (where 128 permutations err by +-0.035 for one standard deviation) the
caller's `verify` gives the exact shingle Jaccard. The README's dedup section has the measured recall.
Greedy-against-kept, not union-find, so every drop is explained by one kept text at >= threshold (no
chains A~B~C that drop C for looking like A at 0.5).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from golong_data.config import DedupConfig

# CJK characters count as one word each (Chinese and Japanese have no spaces); elsewhere a word is a run of
# letters/digits. The same words feed exact hashes, shingles and decontamination n-grams.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")

# Defaults (declared once, in golong_data.config.DedupConfig), after common practice: 5-word shingles and 128
# permutations as in datatrove's MinhashConfig / the Gopher-style web dedup recipes; Jaccard 0.8 as in text-dedup
# and the SlimPajama near-duplicate pass (they use 13-grams on web text, whose boilerplate needs longer shingles).
DEFAULT_NUM_PERM = DedupConfig.num_perm
DEFAULT_NGRAM = DedupConfig.ngram
SEED = 1  # datasketch's default seed: the permutations are the ones MinHash(num_perm) would draw

_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def words(text: str) -> list[str]:
    """Normalised words: NFKC, case-folded, punctuation and whitespace dropped."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def exact_key(ws: Sequence[str], text: str) -> bytes:
    """16 bytes identifying the normalised text: equal for texts differing only in case/space/punctuation."""
    body = " ".join(ws) if ws else text.strip()
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def shingles(ws: Sequence[str], n: int) -> list[bytes]:
    """Word n-grams as UTF-8 bytes; a text shorter than n words is one shingle of all its words."""
    if not ws:
        return []
    if len(ws) <= n:
        return [" ".join(ws).encode("utf-8", "surrogatepass")]
    return [" ".join(ws[i : i + n]).encode("utf-8", "surrogatepass") for i in range(len(ws) - n + 1)]


def _fmix32(hv: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX32
    hv = hv ^ (hv >> s1)
    hv = hv * m1
    hv = hv ^ (hv >> s2)
    hv = hv * m2
    return hv ^ (hv >> s3)


class BatchMinHasher:
    """datasketch-identical MinHash signatures for many texts at once (see the module docstring)."""

    def __init__(self, num_perm: int = DEFAULT_NUM_PERM, ngram: int = DEFAULT_NGRAM, batch_shingles: int = 8192):
        from datasketch import MinHash  # lazy: datasketch pulls scipy (0.6 s)

        self.num_perm = num_perm
        self.ngram = ngram
        # (S, num_perm) uint32 work array: 4 MiB at the defaults (measured 2026-11-30 on 100K corpus chunks:
        # 10-20 % faster than 16 MiB, which no longer fits the cache)
        self.batch_shingles = batch_shingles
        self.permutations = MinHash(num_perm=num_perm, seed=SEED, scheme="affine32").permutations
        self.a = self.permutations[0].astype(np.uint32)[None, :]
        self.b = self.permutations[1].astype(np.uint32)[None, :]

    def shingle_hashes(self, ws: Sequence[str]) -> bytes:
        """sha1_hash32 of every shingle, as little-endian uint32 bytes (datasketch.hashfunc.sha1_hash32)."""
        sha1 = hashlib.sha1
        return b"".join([sha1(s).digest()[:4] for s in shingles(ws, self.ngram)])

    def signatures(self, word_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """(len(word_lists), num_perm) uint32; a text with no words gets the empty signature (all 2^32-1)."""
        out = np.full((len(word_lists), self.num_perm), np.uint32(0xFFFFFFFF), dtype=np.uint32)
        blobs: list[bytes] = []
        rows: list[int] = []
        size = 0
        for i, ws in enumerate(word_lists):
            blob = self.shingle_hashes(ws)
            if len(blob) // 4 > self.batch_shingles:  # a whole book: reduce it slice by slice
                for lo in range(0, len(blob), 4 * self.batch_shingles):
                    part = np.zeros((1, self.num_perm), dtype=np.uint32)
                    self._reduce([blob[lo : lo + 4 * self.batch_shingles]], [0], part)
                    out[i] = np.minimum(out[i], part[0])
                continue
            if not blob:
                continue
            blobs.append(blob)
            rows.append(i)
            size += len(blob) // 4
            if size >= self.batch_shingles:
                self._reduce(blobs, rows, out)
                blobs, rows, size = [], [], 0
        if blobs:
            self._reduce(blobs, rows, out)
        return out

    def _reduce(self, blobs: list[bytes], rows: list[int], out: np.ndarray) -> None:
        hv = _fmix32(np.frombuffer(b"".join(blobs), dtype="<u4").astype(np.uint32))
        phv = hv[:, None] * self.a  # uint32 arithmetic wraps: the "mod 2^32" of the affine scheme
        phv += self.b
        offsets = np.cumsum([0] + [len(b) // 4 for b in blobs[:-1]])
        out[rows] = np.minimum.reduceat(phv, offsets, axis=0)


@dataclass(frozen=True)
class Drop:
    """Item `index` is dropped as a duplicate of item `kept` (exact: similarity 1.0)."""

    index: int
    kept: int
    reason: str  # exact_duplicate | near_duplicate
    similarity: float


# Band choice: datasketch's optimiser with false negatives weighted over false positives. At 0.8 / 128 this
# is 16 x 8: a pair at J = 0.85 shares a band 99.4 % of the time (MinHashLSH's equal-weight 9 x 13: 69 %).
FP_WEIGHT, FN_WEIGHT = 0.05, 0.95
# Documents are few and long: they are banded for a threshold this much lower, so nearly every pair near the
# threshold becomes a candidate and is compared (21 x 6 at 0.8: 99.8 % of pairs at J = 0.8).
DOC_BAND_DROP = 0.1
# An estimate within this of the threshold is settled by the exact Jaccard (verify); outside it the estimate
# stands (an estimate >= threshold + 0.1 from a pair below 0.7 is a 5-sigma event at 128 permutations).
VERIFY_MARGIN = 0.1


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for this threshold, recall-weighted (see FP_WEIGHT, FN_WEIGHT)."""
    from datasketch.lsh import _optimal_param  # lazy: datasketch pulls scipy (0.6 s)

    return _optimal_param(threshold, num_perm, FP_WEIGHT, FN_WEIGHT)


def doc_lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) for documents: banded for a threshold DOC_BAND_DROP lower (see there)."""
    return lsh_params(max(threshold - DOC_BAND_DROP, 0.05), num_perm)


def jaccard(ws_a: Sequence[str], ws_b: Sequence[str], ngram: int) -> float:
    """Exact Jaccard similarity of two word lists' n-gram shingle sets (what the signatures estimate)."""
    a, b = set(shingles(ws_a, ngram)), set(shingles(ws_b, ngram))
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class ExactJaccard:
    """verify(i, j) for cluster(): exact shingle Jaccard of items i and j, their words from `words_of(i)`
    (the caller re-reads the text; only candidates within VERIFY_MARGIN of the threshold get here). The last
    few items' shingle sets are cached: one item is usually compared with one kept twin."""

    def __init__(self, words_of: Callable[[int], Sequence[str]], ngram: int) -> None:
        self.words_of = words_of
        self.ngram = ngram
        self.calls = 0
        self._cache: dict[int, set[bytes]] = {}

    def _set(self, i: int) -> set[bytes]:
        got = self._cache.get(i)
        if got is None:
            got = set(shingles(self.words_of(i), self.ngram))
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[i] = got
        return got

    def __call__(self, i: int, j: int) -> float:
        self.calls += 1
        a, b = self._set(i), self._set(j)
        return len(a & b) / len(a | b) if a or b else 1.0


def band_buckets(sigs: np.ndarray, has_sig: np.ndarray, bands: int, rows: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """LSH banding as datasketch does it (band k = permutations [k*rows, (k+1)*rows)), indexed by sorting.

    Returns (bucket, members): bucket[i, k] is the id of the shared bucket of item i in band k, or -1 when
    no other item has the same band (the common case); members[g] lists bucket g's items. A band is keyed
    by a 64-bit polynomial hash of its `rows` values; two different bands collide with odds 2^-64, and a
    candidate is confirmed on the full signature anyway. Cost: 16 bytes per item and band, against ~3 KB
    per item for MinHashLSH's dict-of-sets storage.
    """
    n = len(sigs)
    bucket = np.full((n, bands), -1, dtype=np.int64)
    members: list[np.ndarray] = []
    items = np.nonzero(has_sig)[0]
    if len(items) < 2:
        return bucket, members
    with np.errstate(over="ignore"):
        for k in range(bands):
            block = sigs[items, k * rows : (k + 1) * rows].astype(np.uint64)
            key = np.zeros(len(items), dtype=np.uint64)
            for j in range(rows):
                key = key * np.uint64(0x9E3779B97F4A7C15) + block[:, j] + np.uint64(1)
            srt = np.argsort(key, kind="stable")
            ks = key[srt]
            starts = np.nonzero(np.r_[True, ks[1:] != ks[:-1]])[0]
            ends = np.r_[starts[1:], len(ks)]
            for s0, e0 in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
                grp = items[srt[s0:e0]]
                bucket[grp, k] = len(members)
                members.append(grp)
    return bucket, members


def cluster(
    order: Sequence[int],
    keys: Sequence[bytes],
    sigs: np.ndarray,
    has_sig: Sequence[bool] | np.ndarray,
    threshold: float,
    bands: int | None = None,
    rows: int | None = None,
    verify: Callable[[int, int], float] | None = None,
) -> list[Drop]:
    """Greedy dedup over items visited in `order` (best first). Returns the drops, in visiting order.

    keys[i]: exact key; sigs[i]: MinHash signature; has_sig[i]: False for texts without words, which take
    part in exact dedup only. An item's candidates are the already-kept items sharing an LSH band with it
    (what querying a MinHashLSH holding the kept items returns); it is dropped for the most similar one
    (ties: the earlier in `order`) if their Jaccard similarity is >= threshold: the estimated one, or with
    `verify`, the exact verify(i, candidate) for candidates whose estimate is within VERIFY_MARGIN of it.
    """
    n = len(keys)
    has = np.asarray(has_sig, dtype=bool)
    if bands is None or rows is None:
        bands, rows = lsh_params(threshold, sigs.shape[1])
    bucket, members = band_buckets(sigs, has, bands, rows)
    state = np.zeros(n, dtype=np.int8)  # 0 not visited yet, 1 kept, 2 dropped
    rank = np.empty(n, dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(n)
    exact: dict[bytes, int] = {}
    drops: list[Drop] = []
    shares = (bucket >= 0).any(axis=1).tolist()  # most items share no band with anything: skip them cheaply
    for i in order:
        first = exact.setdefault(keys[i], i)
        if first != i:
            state[i] = 2
            drops.append(Drop(i, first, "exact_duplicate", 1.0))
            continue
        gs = bucket[i][bucket[i] >= 0] if shares[i] else ()
        if len(gs):
            cand = np.unique(np.concatenate([members[g] for g in gs]))
            cand = cand[state[cand] == 1]
            if len(cand):
                sim = (sigs[cand] == sigs[i]).mean(axis=1)
                best = int(np.lexsort((rank[cand], -sim))[0])  # highest similarity, then earliest kept
                if verify is not None and threshold - VERIFY_MARGIN <= sim[best] < threshold + VERIFY_MARGIN:
                    close = np.nonzero(sim >= threshold - VERIFY_MARGIN)[0]
                    sim = np.zeros(len(cand))
                    sim[close] = [verify(i, int(cand[c])) for c in close]
                    best = int(np.lexsort((rank[cand], -sim))[0])
                if sim[best] >= threshold:
                    state[i] = 2
                    drops.append(Drop(i, int(cand[best]), "near_duplicate", round(float(sim[best]), 4)))
                    continue
        state[i] = 1
    return drops
