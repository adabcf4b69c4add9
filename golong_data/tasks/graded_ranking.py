"""graded_ranking (NDCG): rank the sections of a run by how often a name occurs in each, most first.

The items are section headings, listed in a seeded random order (the listing says nothing about the rank),
and more sections are listed than contain the name: the gold is only the sections where it occurs, by count,
so NDCG@k (k = gold length) over a random order of n > k listed sections has a low chance level -- a random
order of 4 gold-only items scores 0.87 with the metric's linear gains, the metric's informative range widens
as n grows past k (issue 19). The name occurs in no distractor (forbid), so its count over the whole context
equals its count over the listed sections: counting across the context without looking at the sections gives
no order, and only names whose positive counts differ from section to section are used (the gold is unique).
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

NAME = "graded_ranking"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items)


def section_ranking(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 4, 10)
    if run is None:
        return "too_few_sections"
    heads = [focus.pieces[i].heading for i in run]
    if len(set(heads)) < len(heads):
        return "duplicate_headings"
    terms = proper_terms([focus.body(i) for i in run], heads)
    ok = []
    for t, c in terms.items():
        pos = [x for x in c if x]
        # 2+ sections hold it with pairwise different counts, and at least two listed sections do not
        if 2 <= len(pos) <= len(run) - 2 and len(set(pos)) == len(pos):
            ok.append(t)
    if not ok:
        return "no_suitable_term"
    term = rng.choice(ok)
    counts = dict(zip(run, terms[term], strict=True))
    hits = sorted((i for i in run if counts[i]), key=lambda i: -counts[i])
    gold = [focus.pieces[i].heading for i in hits]
    shown = heads[:]
    rng.shuffle(shown)
    spans = []
    for i in hits:
        m = word_re(term).search(focus.body(i))
        assert m is not None
        a = focus.pieces[i].start + m.start()
        spans.append((focus.doc.id, a, a + len(term)))
    listing = "\n".join(f"- {h}" for h in shown)
    question = (
        f'Rank the sections below by how many times the word "{term}" occurs in each section\'s text (whole word, '
        "case-sensitive), most first. List only the sections where it occurs at least once.\n\n"
        f"{listing}\n\n{HEADING_RULE}"
    )
    return Plan("section_ranking", question, [focus.pieces[i] for i in run], gold, "", fmt_lines(gold), spans,
                forbid=[term],
                meta={"term": term, "items": shown, "counts": {focus.pieces[i].heading: counts[i] for i in hits}})


CONSTRUCTORS = [ConstructorSpec("section_ranking", ("book", "paper", "text"), section_ranking)]
