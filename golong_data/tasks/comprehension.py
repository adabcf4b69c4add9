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
    # Four sections with a quotable sentence each, drawn together within the evidence budget; the named one is
    # picked among them afterwards, so the right option and the wrong ones are exchangeable (choosing the named
    # section first would leave the others to the budget's leftovers -- shorter sections, shorter sentences --
    # and "pick the longest option" would beat chance).
    order = list(range(n))
    rng.shuffle(order)
    chosen: list[tuple[int, tuple[int, int, str]]] = []
    spent = 0
    over = False
    for i in order:
        if spent + focus.cost[i] > focus.ev_budget:
            over = True
            continue
        if any(focus.pieces[j].heading == focus.pieces[i].heading for j, _ in chosen):
            continue  # the question names a section by its heading: it must name one
        qs = unique_quotes(focus, i, rng, need=1)
        if qs:
            chosen.append((i, qs[0]))
            spent += focus.cost[i]
        if len(chosen) == 4:
            break
    if len(chosen) < 4:
        return "evidence_exceeds_bucket" if over else "no_unique_quote"
    t, good = chosen[rng.randrange(4)]
    pieces = [i for i, _ in chosen]
    wrong = [q for i, q in chosen if i != t]
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
