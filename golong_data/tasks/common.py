"""What every task module shares: the Focus a constructor reads, the Plan it returns, text helpers.

Constructors are pure: `construct(focus, rng) -> Plan | str` (a str is the reason nothing could be built,
which the stage writes to the ledger). They never read files or call a tokenizer; the stage gives them the
document cut into pieces with token costs, and turns the Plan into a context and a Sample.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from golong_data.context import Piece
from golong_data.records import Document


@dataclass(frozen=True)
class Focus:
    """One document, cut into the pieces this bucket uses, with what a constructor needs to budget."""

    doc: Document
    pieces: list[Piece]
    cost: list[int]  # tokens of each piece in a context (body + heading)
    ev_budget: int  # the most tokens the evidence may take in this bucket

    def body(self, i: int) -> str:
        p = self.pieces[i]
        return self.doc.text[p.start : p.end]


@dataclass
class Plan:
    constructor: str
    question: str
    evidence: list[Piece]
    gold_items: list[str]  # ground_truth.doc_ids: the gold list (list metrics) or the reference summary
    golden_label: str
    answer: str  # the gold answer written in the task's answer format
    spans: list[tuple[str, int, int]]  # (doc_id, start, end) in document coordinates
    forbid: list[str] = field(default_factory=list)  # no distractor may contain these
    unique: list[str] = field(default_factory=list)  # must occur exactly once in the final context
    meta: dict[str, Any] = field(default_factory=dict)
    whole_cut: tuple[int, int] | None = None  # evidence = the whole document with this region removed
    exclude_doc: bool = False  # no near distractors from the evidence document
    spread_ok: bool = True  # several evidence pieces may be scattered among distractors


Constructor = Callable[[Focus, random.Random], "Plan | str"]


@dataclass(frozen=True)
class ConstructorSpec:
    name: str
    kinds: tuple[str, ...]  # document kinds it works on
    fn: Constructor


# ---------------------------------------------------------------- answer formats (the taxonomy's table)
def fmt_lines(items: Sequence[str]) -> str:
    """LongBench-Pro style: the scorer reads the lines after the last "[Answer]"."""
    return "[Answer]\n" + "\n".join(items)


def fmt_mcq(letter: str) -> str:
    return f"The correct answer is ({letter})"


def fmt_boxed(value: str) -> str:
    return f"\\boxed{{{value}}}"


def fmt_rows(rows: list[list[Any]]) -> tuple[str, str]:
    """(answer, golden_label) for IoU: the official scorer json-loads golden_label and reads its "data"."""
    label = json.dumps({"data": rows}, ensure_ascii=False)
    return f"<answer>{label}</answer>", label


# ---------------------------------------------------------------- text helpers
_SENT = re.compile(r"[^.!?\n]*[.!?]")
_TERM = re.compile(r"(?<![\w'’-])[A-Z][a-zA-Z]{2,}(?![\w'’-])")


def word_re(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def count_word(term: str, text: str) -> int:
    """Whole-word, case-sensitive occurrences: the rule every counting question states."""
    return len(word_re(term).findall(text))


def _quotable(s: str, min_len: int, max_len: int, min_words: int) -> bool:
    # Mostly letters: no code lines, formulas or tables, which models cannot be expected to quote back.
    return min_len <= len(s) <= max_len and len(s.split()) >= min_words and sum(c.isalpha() for c in s) > 0.6 * len(s)


def quotes(
    body: str, base: int, min_len: int = 40, max_len: int = 200, min_words: int = 6
) -> list[tuple[int, int, str]]:
    """Sentences (or whole short lines) of one line each, as (doc_start, doc_end, text) with text == doc slice."""
    out: list[tuple[int, int, str]] = []
    for m in _SENT.finditer(body):
        s = m.group(0)
        lead = len(s) - len(s.lstrip())
        s = s.strip()
        if _quotable(s, min_len, max_len, min_words):
            a = base + m.start() + lead
            out.append((a, a + len(s), s))
    if not out:  # chat turns and PDF lines: fall back to whole lines
        pos = 0
        for line in body.split("\n"):
            s = line.strip()
            if _quotable(s, min_len, max_len, min_words):
                a = base + pos + line.index(s)
                out.append((a, a + len(s), s))
            pos += len(line) + 1
    return out


def unique_quotes(focus: Focus, i: int, **kw: Any) -> list[tuple[int, int, str]]:
    """Quotes from piece i that occur exactly once in the whole document (the distractor filter does the rest)."""
    p = focus.pieces[i]
    text = focus.doc.text
    return [q for q in quotes(focus.body(i), p.start, **kw) if text.count(q[2]) == 1]


def proper_terms(bodies: Sequence[str], headings: Sequence[str]) -> dict[str, list[int]]:
    """Capitalised words never written in lower case in these texts (names, places, package names), with their
    whole-word count per body; words in any heading are left out so a heading never answers a count."""
    joined = "\n".join(bodies)
    lower = set(re.findall(r"\b[a-z][a-zA-Z]*\b", joined))
    head = " ".join(headings)
    counts: dict[str, list[int]] = {}
    cands = Counter(_TERM.findall(joined))
    for t in sorted(cands):
        if t.lower() in lower or t in head or t.isupper():
            continue
        counts[t] = [count_word(t, b) for b in bodies]
    return counts


def pick_run(focus: Focus, rng: random.Random, kmin: int, kmax: int) -> list[int] | None:
    """k consecutive pieces (kmin <= k <= kmax) whose total cost fits the evidence budget."""
    n = len(focus.pieces)
    if n < kmin:
        return None
    for _ in range(12):
        k = rng.randint(kmin, min(kmax, n))
        s = rng.randrange(0, n - k + 1)
        run = list(range(s, s + k))
        while run and sum(focus.cost[i] for i in run) > focus.ev_budget:
            run.pop()
        if len(run) >= kmin:
            return run
    return None


def headings_list(focus: Focus, idx: Sequence[int]) -> str:
    return ", ".join(f'"{focus.pieces[i].heading}"' for i in idx)


HEADING_RULE = 'Give each section by its heading exactly as written between the "===" markers.'
