"""structured_extraction (IoU): rows of a table the model must build from the text.

- term_rows: [section heading, occurrences of a name] for every section of a run where the name occurs;
- turn_rows: [speaker, timestamp] of every chat message containing a word, when both are written in the text.
Rows are computed by program; the IoU scorer compares them as multisets of stringified cells.
"""

from __future__ import annotations

import random
import re

from golong_data.records import Document
from golong_data.synth.context import Piece
from golong_data.tasks.common import (
    HEADING_RULE,
    ConstructorSpec,
    Focus,
    Plan,
    count_word,
    fmt_rows,
    pick_run,
    proper_terms,
    word_re,
)

NAME = "structured_extraction"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return f"<answer>{golden_label}</answer>"


def term_rows(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 2, 6)
    if run is None:
        return "too_few_sections"
    terms = proper_terms([focus.body(i) for i in run], [focus.pieces[i].heading for i in run])
    # Every count >= 2: most names occur once per section, so "[heading, 1] for every heading" would otherwise
    # match most rows without reading (issue 19).
    ok = [t for t, c in terms.items() if sum(1 for x in c if x) >= 2 and all(x != 1 for x in c)]
    if not ok:
        return "no_suitable_term"
    term = rng.choice(ok)
    rows: list[list[object]] = []
    spans = []
    for i, c in zip(run, terms[term], strict=True):
        if c:
            rows.append([focus.pieces[i].heading, c])
            m = word_re(term).search(focus.body(i))
            assert m is not None
            a = focus.pieces[i].start + m.start()
            spans.append((focus.doc.id, a, a + len(term)))
    answer, label = fmt_rows(rows)
    question = (
        f'Build a table with one row for every section of the documents above whose text contains the word "{term}" '
        "(whole word, case-sensitive): [section heading, number of occurrences in that section's text]. "
        f"{HEADING_RULE} Write the number as an integer."
    )
    return Plan("term_rows", question, [focus.pieces[i] for i in run], [], label, answer, spans, forbid=[term],
                meta={"term": term})


def turn_rows(focus: Focus, rng: random.Random) -> Plan | str:
    doc = focus.doc
    if len(focus.pieces) != 1 or focus.cost[0] > focus.ev_budget:
        return "evidence_exceeds_bucket"
    p = focus.pieces[0]
    turns = [k for k, s in enumerate(doc.sections) if s.kind == "turn"]
    # A column is used only if, for every turn, its value is written next to that turn (else it is unanswerable).
    cols = [f for f in ("speaker", "timestamp") if turns and all(_readable(doc, k, f, p) for k in turns)]
    if not cols:
        return "speaker_or_time_not_in_text"
    words: dict[str, list[int]] = {}
    for k in turns:
        s = doc.sections[k]
        for w in set(word_re_words(doc.text[s.start : s.end])):
            words.setdefault(w, []).append(k)
    ok = sorted(w for w, ks in words.items() if 2 <= len(ks) <= 6 and len(w) >= 4)
    if not ok:
        return "no_suitable_term"
    w = rng.choice(ok)
    ks = [k for k in turns if count_word(w, doc.text[doc.sections[k].start : doc.sections[k].end])]
    rows: list[list[object]] = [[str(doc.sections[k].meta[f]) for f in cols] for k in ks]
    answer, label = fmt_rows(rows)
    spans = [(doc.id, doc.sections[k].start, doc.sections[k].end) for k in ks]
    question = (
        f'In the conversation "{p.heading}", find every message whose text contains the word "{w}" '
        f"(whole word, case-sensitive). Give one row per message: [{', '.join(COLUMN[f] for f in cols)}], "
        "exactly as written, in the order of the conversation."
    )
    return Plan("turn_rows", question, [p], [], label, answer, spans, forbid=[], meta={"term": w})


COLUMN = {"speaker": "sender", "timestamp": "timestamp"}


def _readable(doc: Document, k: int, f: str, p: Piece) -> bool:
    s = doc.sections[k]
    v = str(s.meta.get(f) or "")
    r0 = doc.sections[k - 1].end if k > 0 else p.start
    r1 = doc.sections[k + 1].start if k + 1 < len(doc.sections) else p.end
    return bool(v) and (v in doc.text[r0 : s.end] or v in doc.text[s.start : r1])


_LOWER_WORD = re.compile(r"\b[a-z]{4,}\b")


def word_re_words(text: str) -> list[str]:
    return _LOWER_WORD.findall(text)


CONSTRUCTORS = [
    ConstructorSpec("term_rows", ("book", "paper", "text"), term_rows),
    ConstructorSpec("turn_rows", ("dialogue",), turn_rows),
]
