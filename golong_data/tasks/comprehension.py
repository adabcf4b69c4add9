"""comprehension (Accuracy, MCQ): which of four real passages comes from a named section?

The right option is a sentence of the section shown in the context; the three wrong ones are real sentences
of *other* sections of the same document (near, plausible distractors), each occurring once in the document,
so none of them can also be in the named section. Those other sections are put in the context too (issue 19):
every option occurs there, so "pick the option that appears" identifies nothing -- the reader must find
which section each option sits in.
"""

from __future__ import annotations

import random

from golong_data.tasks.common import ConstructorSpec, Focus, Plan, fmt_mcq, unique_quotes

NAME = "comprehension"
LETTERS = "ABCD"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_mcq(golden_label)


def passage_origin(focus: Focus, rng: random.Random) -> Plan | str:
    n = len(focus.pieces)
    if n < 4:
        return "too_few_sections"
    fits = [i for i, c in enumerate(focus.cost) if c <= focus.ev_budget]
    if not fits:
        return "evidence_exceeds_bucket"
    t = rng.choice(fits)
    right = unique_quotes(focus, t, rng, need=1)
    if not right:
        return "no_unique_quote"
    others = [i for i in range(n) if i != t]
    rng.shuffle(others)
    wrong: list[tuple[int, int, str]] = []
    pieces = [t]
    spent = focus.cost[t]
    over = False
    for i in others:
        if spent + focus.cost[i] > focus.ev_budget:
            over = True
            continue
        qs = unique_quotes(focus, i, rng, need=1)
        if qs:
            wrong.append(qs[0])
            pieces.append(i)
            spent += focus.cost[i]
        if len(wrong) == 3:
            break
    if len(wrong) < 3:
        return "evidence_exceeds_bucket" if over else "no_unique_quote"
    good = right[0]
    options = [good, *wrong]
    rng.shuffle(options)
    letter = LETTERS[options.index(good)]
    p = focus.pieces[t]
    lines = "\n".join(f'{LETTERS[k]}. "{q[2]}"' for k, q in enumerate(options))
    question = f'Which of the following passages comes from the section "{p.heading}"?\n\n{lines}'
    # The option sections in document order: where they sit says nothing about which one is named.
    evidence = [focus.pieces[i] for i in sorted(pieces)]
    return Plan("passage_origin", question, evidence, [letter], letter, fmt_mcq(letter),
                [(p.doc_id, good[0], good[1])], forbid=[q[2] for q in options], unique=[q[2] for q in options],
                meta={"options": [q[2] for q in options]})


CONSTRUCTORS = [ConstructorSpec("passage_origin", ("book", "paper", "text"), passage_origin)]
