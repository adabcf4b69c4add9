"""graded_ranking (NDCG): rank names by how often they occur in named sections, most first.

Only names with pairwise different counts are offered (ties skipped), so the gold order is unique.
"""

from __future__ import annotations

import random

from golong_data.tasks.common import (
    ConstructorSpec,
    Focus,
    Plan,
    fmt_lines,
    headings_list,
    pick_run,
    proper_terms,
    word_re,
)

NAME = "graded_ranking"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return fmt_lines(gold_items)


def name_frequency(focus: Focus, rng: random.Random) -> Plan | str:
    run = pick_run(focus, rng, 1, 4)
    if run is None:
        return "evidence_exceeds_bucket"
    terms = proper_terms([focus.body(i) for i in run], [focus.pieces[i].heading for i in run])
    by_count: dict[int, list[str]] = {}
    for t, c in terms.items():
        by_count.setdefault(sum(c), []).append(t)
    # One name per distinct count (ties skipped), counts >= 1.
    levels = sorted((n for n in by_count if n >= 1), reverse=True)
    if len(levels) < 4:
        return "no_suitable_term"
    k = rng.randint(4, min(6, len(levels)))
    chosen_levels = sorted(rng.sample(levels, k), reverse=True)
    gold = [rng.choice(sorted(by_count[n])) for n in chosen_levels]
    shown = gold[:]
    while shown == gold:
        rng.shuffle(shown)
    spans = []
    for t in gold:
        for i in run:
            m = word_re(t).search(focus.body(i))
            if m:
                a = focus.pieces[i].start + m.start()
                spans.append((focus.doc.id, a, a + len(t)))
                break
    where = "section" if len(run) == 1 else "sections"
    question = (
        f"Rank these words by how many times each occurs in the {where} {headings_list(focus, run)}, most "
        f"frequent first (whole word, case-sensitive, section text only): {', '.join(shown)}."
    )
    return Plan("name_frequency", question, [focus.pieces[i] for i in run], gold, "", fmt_lines(gold), spans,
                meta={"counts": dict(zip(gold, chosen_levels, strict=True))})


CONSTRUCTORS = [ConstructorSpec("name_frequency", ("book", "paper", "text"), name_frequency)]
