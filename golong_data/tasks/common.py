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

from golong_data.records import Document
from golong_data.synth.context import Piece, sentence_spans


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
    once_per_doc: bool = False  # its output does not depend on the random draw: one attempt per document


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
_WORD = re.compile(r"\w+")
_NOT_PROSE = re.compile(r"https?:|www\.|[\[\]{}|=<>\\_$#@]|\.\w+\(|R>")
_TERM_WORD = re.compile(r"[A-Z][a-zA-Z]{2,}")


def word_re(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def count_word(term: str, text: str) -> int:
    """Whole-word, case-sensitive occurrences: the rule every counting question states."""
    return len(word_re(term).findall(text))


def _quotable(s: str, min_len: int, max_len: int, min_words: int) -> bool:
    # Prose only: no code lines, URLs, formulas or table rows, which make poor quotes and poor questions.
    return (
        min_len <= len(s) <= max_len
        and len(s.split()) >= min_words
        and not _NOT_PROSE.search(s)
        and sum(c.isalpha() for c in s) > 0.7 * len(s)
    )


def quotes(
    body: str, base: int, min_len: int = 40, max_len: int = 200, min_words: int = 6, *, lines: bool = False,
    cuts: Sequence[int] = (),
) -> list[tuple[int, int, str]]:
    """Whole sentences on one line (context.sentence_spans: cut at sentence starts, never after "Mr."), as
    (doc_start, doc_end, text) with text == the document's slice. `lines`: each line is an utterance (chat
    turns); `cuts`: body offsets where a section starts (a turn after its "speaker: " prefix)."""
    out: list[tuple[int, int, str]] = []
    for a, b in sentence_spans(body, lines=lines, cuts=cuts):
        s = body[a:b]
        # a quote is shown on one line; outside chats a lower-case start continues a sentence interrupted by
        # a display formula or a code block ("... as follows:\n\n<code>\n\nwhich can be used ...")
        if "\n" not in s and (lines or not s[0].islower()) and _quotable(s, min_len, max_len, min_words):
            out.append((base + a, base + b, s))
    return out


def unique_quotes(
    focus: Focus, i: int, rng: random.Random | None = None, need: int | None = None, **kw: Any
) -> list[tuple[int, int, str]]:
    """Quotes from piece i that occur exactly once in the whole document (the distractor filter does the rest).

    With rng and need: the first `need` such quotes in a seeded random order (checking uniqueness scans the
    whole document, so only as many candidates are checked as are needed)."""
    p = focus.pieces[i]
    text = focus.doc.text
    cuts = [sec.start - p.start for sec in focus.doc.sections if p.start < sec.start < p.end]
    cands = quotes(focus.body(i), p.start, lines=focus.doc.kind == "dialogue", cuts=cuts, **kw)
    if rng is not None:
        rng.shuffle(cands)
    out = []
    for q in cands:
        if text.count(q[2]) == 1:
            out.append(q)
            if need is not None and len(out) >= need:
                break
    return out


def proper_terms(bodies: Sequence[str], headings: Sequence[str]) -> dict[str, list[int]]:
    """Capitalised words never written in lower case in these texts (names, places, package names), with their
    whole-word count per body; words in any heading are left out so a heading never answers a count.

    One pass per body: a whole-word occurrence of a word made of letters is exactly a maximal run of word
    characters equal to it, so counting the runs counts every candidate at once."""
    per = [Counter(_WORD.findall(b)) for b in bodies]
    total: Counter[str] = Counter()
    for c in per:
        total.update(c)
    lower = {w for w in total if w[:1].islower()}
    head = " ".join(headings)
    counts: dict[str, list[int]] = {}
    for t in sorted(total):
        if not _TERM_WORD.fullmatch(t) or t.lower() in lower or t in head or t.isupper():
            continue
        counts[t] = [c[t] for c in per]
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
