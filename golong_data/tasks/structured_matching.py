"""structured_matching (SubEM): match numbered quoted lines to the sections they come from, one pair per line.

Each quote occurs once in its document and in no distractor, so each has exactly one right heading. The gold
items are "<number>: <heading>" lines; SubEM gives the fraction of them found verbatim among the answer lines.
"""

from __future__ import annotations

import random

from golong_data.tasks.common import HEADING_RULE, ConstructorSpec, Focus, Plan, fmt_lines, pick_run, unique_quotes

NAME = "structured_matching"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items)


def quote_sections(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 2, 5)
    if run is None:
        return "too_few_sections"
    per = {i: unique_quotes(focus, i, rng, need=6) for i in run}
    have = [i for i in run if per[i]]
    if len(have) < 2:
        return "no_unique_quote"
    k = rng.randint(3, 6)
    picks: list[tuple[int, tuple[int, int, str]]] = []
    # At least two different sections, then any; never the same quote twice.
    for i in rng.sample(have, 2):
        picks.append((i, per[i].pop(rng.randrange(len(per[i])))))
    while len(picks) < k and any(per[i] for i in have):
        i = rng.choice([j for j in have if per[j]])
        picks.append((i, per[i].pop(rng.randrange(len(per[i])))))
    rng.shuffle(picks)
    lines = "\n".join(f'{n}. "{q[2]}"' for n, (_, q) in enumerate(picks, 1))
    gold = [f"{n}: {focus.pieces[i].heading}" for n, (i, _) in enumerate(picks, 1)]
    question = (
        f"For each numbered line below, name the section of the documents above it comes from.\n\n{lines}\n\n"
        f'{HEADING_RULE} Write one pair per line as "<number>: <heading>", e.g. "1: <heading>".'
    )
    quotes = [q[2] for _, q in picks]
    return Plan("quote_sections", question, [focus.pieces[i] for i in run], gold, "", fmt_lines(gold),
                [(focus.doc.id, q[0], q[1]) for _, q in picks], forbid=quotes, unique=quotes)


CONSTRUCTORS = [ConstructorSpec("quote_sections", ("book", "paper", "text"), quote_sections)]
