"""precise_retrieval (EM): one exact string at a located place.

- quote_heading: which section contains this sentence? The sentence occurs once in the document and no
  distractor contains it, so exactly one heading is right.
- turn_timestamp / turn_speaker: when / by whom was this chat message sent? Built only when the timestamp
  or speaker is written in the text next to that turn, so the answer can be read, not guessed.
"""

from __future__ import annotations

import random
import re

from golong_data.tasks.common import ConstructorSpec, Focus, Plan, unique_quotes

NAME = "precise_retrieval"


def format_answer(gold_items: list[str], golden_label: str) -> str:
    return golden_label


def quote_heading(focus: Focus, rng: random.Random) -> Plan | str:
    fits = [i for i, c in enumerate(focus.cost) if c <= focus.ev_budget]
    if not fits:
        return "evidence_exceeds_bucket"
    i = rng.choice(fits)
    qs = unique_quotes(focus, i, rng, need=1)
    if not qs:
        return "no_unique_quote"
    a, b, q = qs[0]
    p = focus.pieces[i]
    question = (
        f'Which section of the documents above contains the following sentence?\n\nSentence: "{q}"\n\n'
        'Answer with the heading of that section exactly as written between the "===" markers.'
    )
    return Plan("quote_heading", question, [p], [p.heading], p.heading, p.heading, [(p.doc_id, a, b)],
                forbid=[q], unique=[q], meta={"quote": q})


def _turn_plan(focus: Focus, rng: random.Random, field_name: str) -> Plan | str:
    doc = focus.doc
    turns = [s for s in doc.sections if s.kind == "turn" and s.meta.get(field_name)]
    if not turns:
        return f"no_{field_name}_in_meta"
    if len(focus.pieces) != 1 or focus.cost[0] > focus.ev_budget:
        return "evidence_exceeds_bucket"
    if field_name == "speaker" and len({str(s.meta["speaker"]) for s in turns}) < 2:
        return "single_speaker"  # one sender: the question would answer itself
    if not any(str(s.meta[field_name]) in doc.text for s in turns):
        # e.g. chat transcripts rendered as "speaker: text" carry timestamps only in metadata
        return f"{field_name}_not_in_text"
    p = focus.pieces[0]
    order = list(range(len(doc.sections)))
    rng.shuffle(order)
    for k in order:
        s = doc.sections[k]
        if s.kind != "turn" or not s.meta.get(field_name):
            continue
        value = str(s.meta[field_name])
        # The label belongs to this turn if it sits between the previous turn's end and this turn's end
        # (a "speaker: message" prefix), or else between this turn's start and the next turn's start.
        r0 = doc.sections[k - 1].end if k > 0 else p.start
        r1 = doc.sections[k + 1].start if k + 1 < len(doc.sections) else p.end
        region, r0 = (doc.text[r0 : s.end], r0) if value in doc.text[r0 : s.end] else (doc.text[s.start : r1], s.start)
        if region.count(value) != 1:
            continue
        # Quote the longest stretch of the message that shows neither its speaker nor its timestamp.
        text = doc.text[s.start : s.end]
        for v in (str(s.meta.get("speaker", "")), str(s.meta.get("timestamp", ""))):
            if v:
                text = text.replace(v, "\x00")
        frags = sorted((f.strip() for f in re.split("[\x00\n]", text)), key=len, reverse=True)
        q = frags[0] if frags else ""
        if len(q) < 20 or "\n" in q or doc.text.count(q) != 1:
            continue
        a = doc.text.index(q)
        what = "when was the following message sent" if field_name == "timestamp" else "who sent the following message"
        how = "the timestamp" if field_name == "timestamp" else "the sender's name or id"
        question = (
            f'In the conversation "{p.heading}", {what}?\n\nMessage: "{q}"\n\n'
            f"Answer with {how} exactly as written in the conversation."
        )
        v0 = r0 + region.index(value)
        return Plan(f"turn_{field_name}", question, [p], [value], value, value,
                    [(doc.id, a, a + len(q)), (doc.id, v0, v0 + len(value))], forbid=[q], unique=[q],
                    meta={"quote": q})
    return "no_usable_turn"


def turn_timestamp(focus: Focus, rng: random.Random) -> Plan | str:
    return _turn_plan(focus, rng, "timestamp")


def turn_speaker(focus: Focus, rng: random.Random) -> Plan | str:
    return _turn_plan(focus, rng, "speaker")


CONSTRUCTORS = [
    ConstructorSpec("quote_heading", ("book", "paper", "text"), quote_heading),
    ConstructorSpec("turn_timestamp", ("dialogue",), turn_timestamp),
    ConstructorSpec("turn_speaker", ("dialogue",), turn_speaker),
]
