"""sequence_ordering (Pairwise): put shuffled passages back in document order.

Passages are labelled P1..Pk in the (shuffled) order shown; the gold is the labels in the order the passages
occur in the document. Each passage occurs once in its document and in no distractor.
"""

from __future__ import annotations

import random

from golong_data.tasks.common import ConstructorSpec, Focus, Plan, fmt_lines, pick_run, unique_quotes

NAME = "sequence_ordering"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items)


def passage_order(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 1, 4)
    if run is None:
        return "evidence_exceeds_bucket"
    short = focus.doc.kind == "dialogue"
    kw = {"min_len": 20, "min_words": 4} if short else {}
    pool = [q for i in run for q in unique_quotes(focus, i, rng, need=7, **kw)]
    k = min(len(pool), rng.randint(4, 7))
    if k < 4:
        return "no_unique_quote"
    chosen = sorted(rng.sample(pool, k))  # document order
    shown = chosen[:]
    rng.shuffle(shown)  # a plain shuffle: redrawing until it differs from the gold would itself tell something
    label = {q: f"P{n}" for n, q in enumerate(shown, 1)}
    gold = [label[q] for q in chosen]
    lines = "\n".join(f'{label[q]}. "{q[2]}"' for q in shown)
    question = (
        "The passages below come from the documents above. Put them in the order in which they occur there, "
        f"earliest first, writing only their labels (P1, P2, ...).\n\n{lines}"
    )
    texts = [q[2] for q in chosen]
    return Plan("passage_order", question, [focus.pieces[i] for i in run], gold, "", fmt_lines(gold),
                [(focus.doc.id, q[0], q[1]) for q in chosen], forbid=texts, unique=texts, spread_ok=False)


CONSTRUCTORS = [ConstructorSpec("passage_order", ("book", "paper", "text", "dialogue"), passage_order)]
