"""summarization (ROUGE-L): summarise a paper whose abstract was removed; the author's abstract is the reference.

The whole paper minus its abstract is the evidence (kept as one piece under the paper's title). The reference
is human-written, not generated: ROUGE-L against it rewards covering what the authors chose to say.
"""

from __future__ import annotations

import random
import re

from golong_data.tasks.common import ConstructorSpec, Focus, Plan, fmt_lines

NAME = "summarization"
# "Abstract" on its own line (or opening one), as LaTeX/JSS/PeerJ PDFs print it.
_ABSTRACT = re.compile(r"(?im)^[ \t]*abstract\b[ \t]*[.:—-]?\s*")
# The abstract ends at a keywords line or the first section heading ("1 Introduction", "1. Introduction").
_END = re.compile(
    r"(?im)^[ \t]*(keywords?|key words)\b|^[ \t]*(\d\.?|I\.)?[ \t]*introduction[ \t]*$|^[ \t]*contents[ \t]*$"
)
_PARA_END = re.compile(r"\n[ \t]*\n")


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items[:1])


def find_abstract(text: str) -> tuple[int, int, str] | None:
    """(cut_start, cut_end, abstract) where text[cut_start:cut_end] is the heading + abstract, or None.

    The abstract runs from its heading to a keywords line or the first section heading; without either,
    to the end of its first paragraph.
    """
    m = _ABSTRACT.search(text, 0, min(len(text), 8000))
    if not m:
        return None
    e = _END.search(text, m.end(), m.end() + 3500)
    if e is None:
        e = _PARA_END.search(text, m.end())
    end = e.start() if e else -1
    if end <= m.end():
        return None
    body = " ".join(text[m.end() : end].split())
    if not 300 <= len(body) <= 3000:
        return None
    return m.start(), end, body


def abstract_removed(focus: Focus, rng: random.Random) -> Plan | str:
    found = find_abstract(focus.doc.text)
    if found is None:
        return "no_abstract"
    c0, c1, ref = found
    total = sum(focus.cost)
    if total > focus.ev_budget:
        return "evidence_exceeds_bucket"
    words = len(ref.split())
    title = focus.doc.title or focus.doc.id
    question = (
        f'The abstract of the paper "{title}" has been removed from the documents above. Write an abstract for '
        f"it: one paragraph of about {words} words that covers the paper as a whole (its aim, methods and main "
        "points)."
    )
    # Keep the abstract's opening out of every distractor too (vignettes reuse their own abstracts elsewhere).
    raw = focus.doc.text[c0:c1].strip().split("\n")
    head = max(raw, key=len)[:60]
    start, end = focus.pieces[0].start, focus.pieces[-1].end
    spans = [(focus.doc.id, a, b) for a, b in ((start, c0), (c1, end)) if b > a]
    return Plan("abstract_removed", question, [], [ref], "", fmt_lines([ref]), spans, forbid=[head],
                whole_cut=(c0, c1), exclude_doc=True, meta={"reference_words": words, "abstract_span": [c0, c1]})


CONSTRUCTORS = [ConstructorSpec("abstract_removed", ("paper",), abstract_removed, once_per_doc=True)]
