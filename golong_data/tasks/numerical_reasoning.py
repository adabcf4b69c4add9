"""numerical_reasoning (math_verify): counts and arithmetic over the text.

- term_count: how often a name occurs in one to three named sections (whole word, case-sensitive);
- term_difference: how many more times one name occurs than another in those sections.
The numbers are counted by program over exactly the sections the question names, so distractors cannot
change them. The answer value is drawn first (uniformly over the values the sections offer), then a question
with that value: drawing the term first would make small counts -- the commonest numbers in any text -- the
usual answer, which "answer the most frequent number" would exploit (issue 19).
"""

from __future__ import annotations

import random

from golong_data.tasks.common import (
    ConstructorSpec,
    Focus,
    Plan,
    fmt_boxed,
    headings_list,
    pick_run,
    proper_terms,
    word_re,
)

NAME = "numerical_reasoning"
RULE = "Count whole-word, case-sensitive occurrences in the section text only (not in headings)."


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_boxed(golden_label)


def _setup(focus: Focus, rng: random.Random) -> tuple[list[int], dict[str, int]] | str:
    run = pick_run(focus, rng, 1, 3)
    if run is None:
        return "evidence_exceeds_bucket"
    terms = proper_terms([focus.body(i) for i in run], [focus.pieces[i].heading for i in run])
    totals = {t: sum(c) for t, c in terms.items()}
    return run, {t: n for t, n in totals.items() if 2 <= n <= 60}


def _spans(focus: Focus, run: list[int], term: str) -> list[tuple[str, int, int]]:
    out = []
    for i in run:
        for m in word_re(term).finditer(focus.body(i)):
            a = focus.pieces[i].start + m.start()
            out.append((focus.doc.id, a, a + len(term)))
    return out


def term_count(focus: Focus, rng: random.Random) -> Plan | str:
    got = _setup(focus, rng)
    if isinstance(got, str):
        return got
    run, totals = got
    if not totals:
        return "no_suitable_term"
    by_value: dict[int, list[str]] = {}
    for t, v in totals.items():
        by_value.setdefault(v, []).append(t)
    n = rng.choice(sorted(by_value))
    term = rng.choice(sorted(by_value[n]))
    where = "section" if len(run) == 1 else "sections"
    question = f'How many times does the word "{term}" occur in the {where} {headings_list(focus, run)}? {RULE}'
    return Plan("term_count", question, [focus.pieces[i] for i in run], [], str(n), fmt_boxed(str(n)),
                _spans(focus, run, term), meta={"term": term, "value": n})


def term_difference(focus: Focus, rng: random.Random) -> Plan | str:
    got = _setup(focus, rng)
    if isinstance(got, str):
        return got
    run, totals = got
    names = sorted(totals)
    pairs = [(a, b) for a in names for b in names if totals[a] > totals[b]]
    if not pairs:
        return "no_suitable_term"
    by_value: dict[int, list[tuple[str, str]]] = {}
    for a, b in pairs:
        by_value.setdefault(totals[a] - totals[b], []).append((a, b))
    n = rng.choice(sorted(by_value))
    a, b = rng.choice(by_value[n])
    where = "section" if len(run) == 1 else "sections"
    question = (
        f'In the {where} {headings_list(focus, run)}, how many more times does the word "{a}" occur than the '
        f'word "{b}"? {RULE}'
    )
    return Plan("term_difference", question, [focus.pieces[i] for i in run], [], str(n), fmt_boxed(str(n)),
                _spans(focus, run, a) + _spans(focus, run, b), meta={"terms": [a, b], "value": n})


CONSTRUCTORS = [
    ConstructorSpec("term_count", ("book", "paper", "text"), term_count),
    ConstructorSpec("term_difference", ("book", "paper", "text"), term_difference),
]
