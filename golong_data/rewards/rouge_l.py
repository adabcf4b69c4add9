"""ROUGE-L (summary level) for summarization: the `rouge` 1.0.1 package's numbers, computed faster.

The official long_bench_pro.Summary lowercases and whitespace-collapses the WHOLE response (thinking and
`[Answer]` marker included) and each reference, calls `rouge.Rouge().get_scores([pred] * R, refs)`, and
takes the max "rouge-l" F over references; any exception inside (an empty side, a RecursionError) gives 0.

What rouge 1.0.1's `rouge_l_summary_level` computes (read from its source; exclusive=True):
  * sentences: text.split(".") keeping pieces with len > 0 (before whitespace is collapsed), each piece
    re-joined with single spaces; a piece of only spaces becomes the one-word sentence [""];
  * m, n = numbers of DISTINCT words in reference and hypothesis;
  * for every (reference sentence r, hypothesis sentence c) pair it reconstructs ONE longest common
    subsequence by backtracking the DP table from the end (match -> diagonal; else up if
    L[i-1][j] > L[i][j-1], else left) and adds its words to a single running SET shared by all pairs;
  * llcs = size of that set; R = llcs / m, P = llcs / n, F = 2 * (P * R / (P + R + 1e-8)).
The backtracking recurses once per step, so a pair whose path is longer than Python's recursion limit
(about 990 steps from a shallow stack, fewer from a deep one) raises RecursionError and the official code
scores 0. `golongrl` reproduces that at ROUGE_MAX_PATH steps; `strict` scores such responses.

Speed (same numbers): words become ints once; each pair's DP rows come from bit-parallel LCS
(Allison & Dix 1986 / Crochemore et al. 2001: one big-int add per reference word), and the backtrack reads
L[i][j] = j - popcount(V_i & (2^j - 1)) from those rows; a pair is skipped entirely when none of the
words it shares is still missing from the union (its reconstruction cannot change the set).

>>> # union {the, cat, on, mat} + {was} = 5 words; R = 5/5, P = 5/8 distinct hypothesis words
>>> round(rouge_l_f("the cat sat on the mat. it was happy", "the cat was on the mat"), 6)
0.769231
"""

from __future__ import annotations

import time
from typing import Any

from golong_data.rewards.common import Unscorable, after_think, answer_area, fix_space, gold_list
from golong_data.rewards.profiles import PROFILES, Profile

# rouge 1.0.1 recurses once per backtrack step; CPython's default limit is 1000 frames, about 9 are used by
# rouge itself and ~30 by a typical caller (verl's reward manager), so paths beyond ~960 steps overflow.
ROUGE_MAX_PATH = 960


class _Overflow(Exception):
    """rouge 1.0.1 would raise RecursionError for this input."""


class _Deadline(Exception):
    """The per-call time bound was exceeded."""


def split_sentences(text: str) -> list[list[str]]:
    """rouge 1.0.1 tokenisation: '.'-separated pieces (non-empty before collapsing), words split on ' '."""
    out = []
    for piece in text.split("."):
        if piece:
            words = piece.split()
            out.append(words if words else [""])
    return out


def _rows(ref: list[int], masks: dict[int, int], full: int) -> list[int]:
    """Bit-parallel LCS rows: rows[i] has a 0 bit at column j where L[i][j+1] > L[i][j]."""
    v = full
    rows = [v]
    for w in ref:
        u = v & masks.get(w, 0)
        v = ((v + u) | (v - u)) & full
        rows.append(v)
    return rows


def _recon_short(ref: list[int], hyp: list[int], rows: list[int]) -> set[int]:
    """_recon for ordinary sentences (small ints, short paths): the same walk without step accounting."""
    i, j = len(ref), len(hyp)
    words: set[int] = set()
    up = left = -1
    while i and j:
        w = ref[i - 1]
        if w == hyp[j - 1]:
            words.add(w)
            i -= 1
            j -= 1
            up = -1
            continue
        if up < 0:
            up = j - (rows[i - 1] & ((1 << j) - 1)).bit_count()
            left = (j - 1) - (rows[i] & ((1 << (j - 1)) - 1)).bit_count()
        if up > left:
            i -= 1
            up = -1
        else:
            j -= 1
            if j:
                up -= 1 - ((rows[i - 1] >> j) & 1)
                left -= 1 - ((rows[i] >> (j - 1)) & 1)
    return words


def _recon(ref: list[int], hyp: list[int], rows: list[int], limit: int | None, deadline: float) -> tuple[set[int], int]:
    """Backtrack exactly as rouge's `_recon` does; returns (words of that LCS, number of steps).

    With L[r][c] = c - popcount(rows[r] & (2^c - 1)), a step left only needs the bit of two rows at the
    new column (L[r][c] - L[r][c-1] = 1 - bit c-1 of rows[r]), so long left walks cost O(1) per step; the
    popcounts are redone only after a move up or diagonally (at most len(ref) times).
    """
    n = len(hyp)
    if limit is None and n + len(ref) <= 2048:
        return _recon_short(ref, hyp, rows), 0
    i, j = len(ref), n
    words: set[int] = set()
    steps = 0
    if n > 1024:  # bit tests on huge ints copy them: read bytes instead, row by row as the walk visits them
        cache: dict[int, bytes] = {}

        def bit(r: int, c: int) -> int:
            b = cache.get(r)
            if b is None:
                b = cache[r] = rows[r].to_bytes(n // 8 + 1, "little")
            return (b[c >> 3] >> (c & 7)) & 1
    else:

        def bit(r: int, c: int) -> int:
            return (rows[r] >> c) & 1

    up = left = -1  # L[i-1][j] and L[i][j-1]; -1: to be recomputed
    while i > 0 and j > 0:
        steps += 1
        if limit is not None and steps > limit:
            raise _Overflow
        if not steps & 0x3FF and time.perf_counter() > deadline:
            raise _Deadline
        if ref[i - 1] == hyp[j - 1]:
            words.add(ref[i - 1])
            i -= 1
            j -= 1
            up = -1
            continue
        if up < 0:
            up = j - (rows[i - 1] & ((1 << j) - 1)).bit_count()
            left = (j - 1) - (rows[i] & ((1 << (j - 1)) - 1)).bit_count()
        if up > left:
            i -= 1
            up = -1
        else:
            j -= 1  # now up = L[i-1][j+1] -> L[i-1][j]; left = L[i][j] -> L[i][j-1]
            if j > 0:
                up -= 1 - bit(i - 1, j)
                left -= 1 - bit(i, j - 1)
    return words, steps


class _Hypothesis:
    """The hypothesis tokenised once for all references: word ids, per-sentence sets, an inverted index
    (word -> sentences holding it) and, built lazily, each sentence's bit-parallel match masks."""

    def __init__(self, sentences: list[list[str]]) -> None:
        if not sentences:
            raise ValueError("Collections must contain at least 1 sentence.")
        self.vocab: dict[str, int] = {}
        self.ids = [[self.vocab.setdefault(w, len(self.vocab)) for w in s] for s in sentences]
        self.n_distinct = len(self.vocab)
        self.sets = [set(s) for s in self.ids]
        self.where: dict[int, list[int]] = {}
        for k, ws in enumerate(self.sets):
            for w in ws:
                self.where.setdefault(w, []).append(k)
        self.longest_first = sorted(range(len(self.ids)), key=lambda k: -len(self.ids[k]))
        self._masks: list[dict[int, int] | None] = [None] * len(self.ids)

    def masks(self, k: int, deadline: float = float("inf")) -> dict[int, int]:
        """word id -> bit mask of its positions in sentence k. Built per word from its position list, not by
        OR-ing one bit at a time into a growing int: that is quadratic (a 64 MiB one-word sentence took
        ~15 minutes; now well under a second)."""
        mk = self._masks[k]
        if mk is None and len(self.ids[k]) <= 4096:  # the usual sentence: one pass, the quadratic part is tiny
            mk = {}
            for pos, w in enumerate(self.ids[k]):
                mk[w] = mk.get(w, 0) | (1 << pos)
            self._masks[k] = mk
        if mk is None:
            positions: dict[int, list[int]] = {}
            for pos, w in enumerate(self.ids[k]):
                positions.setdefault(w, []).append(pos)
            mk = {}
            for n, (w, ps) in enumerate(positions.items()):
                if not n & 0x3FF and time.perf_counter() > deadline:
                    raise _Deadline
                if len(ps) < 64:
                    m = 0
                    for pos in ps:
                        m |= 1 << pos
                else:
                    b = bytearray(ps[-1] // 8 + 1)
                    for pos in ps:
                        b[pos >> 3] |= 1 << (pos & 7)
                    m = int.from_bytes(b, "little")
                mk[w] = m
            self._masks[k] = mk
        return mk

    def recon(self, r: list[int], k: int, max_path: int | None, deadline: float) -> set[int]:
        c = self.ids[k]
        return _recon(r, c, _rows(r, self.masks(k, deadline), (1 << len(c)) - 1), max_path, deadline)[0]


def _rouge_l_against(
    hyp: _Hypothesis, ref_sents: list[list[str]], max_path: int | None = None, deadline: float = float("inf")
) -> float:
    """Summary-level ROUGE-L F of a prepared hypothesis against one tokenised reference."""
    if not ref_sents:
        raise ValueError("Collections must contain at least 1 sentence.")
    # Reference words the hypothesis never uses get ids < 0: they count in m but can never match.
    unseen: dict[str, int] = {}
    ref = [[hyp.vocab[w] if w in hyp.vocab else unseen.setdefault(w, -1 - len(unseen)) for w in s]
           for s in ref_sents]
    m = len({w for s in ref for w in s})
    union: set[int] = set()
    for r in ref:
        if time.perf_counter() > deadline:
            raise _Deadline
        if max_path is not None:  # rouge would recurse past the limit on these pairs: walk them to find out
            for k in hyp.longest_first:
                if len(r) + len(hyp.ids[k]) <= max_path:
                    break
                union |= hyp.recon(r, k, max_path, deadline)
        missing = {w for w in r if w >= 0} - union
        if not missing:
            continue
        candidates = sorted({k for w in missing for k in hyp.where[w]})
        for k in candidates:
            # A pair can only change the union through a word it shares that the union still lacks.
            if missing.isdisjoint(hyp.sets[k]):
                continue
            new = hyp.recon(r, k, None, deadline) - union
            if new:
                union |= new
                missing -= new
                if not missing:
                    break
    llcs = len(union)
    r_lcs = llcs / m
    p_lcs = llcs / hyp.n_distinct
    return 2.0 * ((p_lcs * r_lcs) / (p_lcs + r_lcs + 1e-8))  # rouge's exact expression (and its 1e-8)


def rouge_l_sentences(
    hyp_sents: list[list[str]], ref_sents: list[list[str]], max_path: int | None = None, deadline: float = float("inf")
) -> float:
    """Summary-level ROUGE-L F of tokenised sentences (raises ValueError on an empty side, like rouge)."""
    return _rouge_l_against(_Hypothesis(hyp_sents), ref_sents, max_path, deadline)


def rouge_l_f(prediction: str, reference: str, max_path: int | None = None, deadline: float = float("inf")) -> float:
    """rouge 1.0.1 `Rouge().get_scores(prediction, reference)[0]["rouge-l"]["f"]` (texts used as given)."""
    return rouge_l_sentences(split_sentences(prediction), split_sentences(reference), max_path, deadline)


def rouge_l(
    references: list[str], response: str, profile: Profile = PROFILES["golongrl"], is_zh: bool = False
) -> float:
    """Max ROUGE-L F of the normalised response against each normalised reference; 0 on any failure.

    is_zh: the official code word-segments Chinese with jieba first (ground_truth["summary"] == "Chinese").
    """
    text = answer_area(after_think(response)) if profile.rouge_answer_only else response
    prediction = fix_space(text.lower())
    answers = [fix_space(a.lower()) for a in references]
    if not answers or not prediction:
        return 0.0
    if is_zh:
        try:
            import jieba  # a default dependency; imported here because only Chinese LongBench-Pro rows need it
        except ImportError:  # a stripped-down install: the router scores 0.0 and warns (an error if strict)
            raise Unscorable("a Chinese summary needs jieba for word segmentation: pip install jieba") from None
        answers = [" ".join(jieba.cut(a, cut_all=False)) for a in answers]
        prediction = " ".join(jieba.cut(prediction, cut_all=False))
    deadline = time.perf_counter() + profile.rouge_deadline_s
    max_path = ROUGE_MAX_PATH if profile.rouge_recursion_quirk else None
    try:
        hyp = _Hypothesis(split_sentences(prediction))
        # One get_scores call covers all references in the official code: one failure zeroes them all.
        return max(_rouge_l_against(hyp, split_sentences(a), max_path, deadline) for a in answers)
    except (ValueError, _Overflow, _Deadline):
        return 0.0


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    # long_bench_pro.compute_score receives ground_truth["summary"] as its `language` argument.
    gold = gold_list(ground_truth)
    if not gold or not response.strip():
        return 0.0
    return rouge_l(gold, response, profile, is_zh=ground_truth.get("summary") == "Chinese")
