"""exhaustive_retrieval (F1): every section in which a given name or term occurs.

A run of consecutive sections is the evidence; the term is a capitalised word never written in lower case
there (a name, place or package), found in some -- at most a third -- of them. No distractor may contain it, so the
gold list - computed by a whole-word, case-sensitive count - is complete over the whole context.
"""

from __future__ import annotations

import random

from golong_data.tasks.common import (
    HEADING_RULE,
    ConstructorSpec,
    Focus,
    Plan,
    fmt_lines,
    pick_run,
    proper_terms,
    word_re,
)

NAME = "exhaustive_retrieval"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items)


def term_sections(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 6, 12)
    if run is None:
        return "too_few_sections"
    bodies = [focus.body(i) for i in run]
    terms = proper_terms(bodies, [focus.pieces[i].heading for i in run])
    # The gold is at most a third of the run's sections: with F1, "list every heading" earns 2r/(1+r) for a
    # gold share r of the context's headings, a random subset about r/(1/2+r) -- close only while r is small.
    ok = [t for t, c in terms.items() if 2 <= sum(1 for x in c if x) <= len(run) // 3]
    if not ok:
        return "no_suitable_term"
    term = rng.choice(ok)
    hits = [i for i, c in zip(run, terms[term], strict=True) if c]
    spans = []
    for i in hits:
        m = word_re(term).search(focus.body(i))
        assert m is not None
        a = focus.pieces[i].start + m.start()
        spans.append((focus.doc.id, a, a + len(term)))
    gold = [focus.pieces[i].heading for i in hits]
    question = (
        f'List every section of the documents above whose text contains the word "{term}" '
        f"(whole word, case-sensitive). {HEADING_RULE} List them in the order they appear."
    )
    return Plan("term_sections", question, [focus.pieces[i] for i in run], gold, "", fmt_lines(gold), spans,
                forbid=[term], meta={"term": term})


CONSTRUCTORS = [ConstructorSpec("term_sections", ("book", "paper", "text"), term_sections)]
