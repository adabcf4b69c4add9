"""Which of synthesize's attempts become samples: one rule for a whole run and for its shards' merge (synth/merge.py).

Synthesize works in *slots*: slot s of (task, bucket) is one wanted sample, tried up to attempts_per_sample
times (programs), or one LLM attempt (LLM constructors make 2 x quota of them). A slot's outcome depends only
on the documents and the seed -- never on other slots -- so `--shard i/N` runs the slots whose key
(`slot_key`) falls in its shard, and any machine gets the same bytes for a slot. What does depend on other
slots is decided here, over all slots in order, after the attempts:

- programs: a sample whose (focus document, question) an earlier slot already produced becomes a
  `duplicate_question` ledger line; a document-level failure (DOC_LEVEL_REASONS, or a constructor whose
  output does not depend on the draw) is ledgered once, at its first slot;
- LLM constructors: a question that is a near duplicate of an earlier kept one becomes
  `near_duplicate_question`; beyond the quota, `quota_full`.

A whole run applies `select` to its attempts directly. A shard writes its raw attempts (in slot order) and
`merge_synthesize` k-way merges the shards by slot and applies the same `select`: so the merge equals the
whole run byte for byte. Rejection details start with "task/bucket#slot": that is how the merge orders them.

The slot vocabulary both constructor kinds share (derive_seed, Built, interleave_kinds) lives here too, below
synthesize and tasks/llm, so neither has to import the other.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from golong_data.dedup.questions import near_duplicate_questions
from golong_data.records import Document, Sample

KEEP, DROP = "keep", "drop"
# Failures that depend on the document alone, not on the attempt's random choices: retrying that document
# with that constructor can only fail the same way, so it is ledgered once.
DOC_LEVEL_REASONS = {
    "no_abstract", "too_few_sections", "timestamp_not_in_text", "speaker_not_in_text", "no_timestamp_in_meta",
    "no_speaker_in_meta", "speaker_or_time_not_in_text", "single_speaker",
}
_WHERE = re.compile(r"^(?P<group>\S+?)#(?P<slot>\d+)(?: |$)")


# ---------------------------------------------------------------- slots: seeds and attempt results
def derive_seed(*parts: object) -> int:
    """A 64-bit seed from the parts: stable across Python runs (unlike hash()) and machines."""
    h = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()
    return int(h[:16], 16)


@dataclass
class Built:
    sample: Sample | None
    reason: str = ""
    detail: str = ""


def interleave_kinds(docs: list[Document], rng: random.Random) -> list[Document]:
    """Shuffle within each kind, then take kinds in turn: a corpus of 7,000 chats and 6 books still gives
    books every other attempt, so each type draws on every kind of document it can use."""
    by_kind: dict[str, list[Document]] = {}
    for d in docs:
        by_kind.setdefault(d.kind, []).append(d)
    queues = []
    for k in sorted(by_kind):
        q = by_kind[k][:]
        rng.shuffle(q)
        queues.append(q)
    out: list[Document] = []
    for i in range(max(len(q) for q in queues) if queues else 0):
        # Small kinds come round again (up to 4 times their size): another attempt draws other sections.
        out.extend(q[i % len(q)] for q in queues if i < 4 * len(q))
    return out


def slot_key(task: str, bucket: str, slot: int) -> str:
    """The id a slot is sharded by (golong_data.pipeline.shard.in_shard)."""
    return f"{task}/{bucket}/{slot}"


def where(task: str, bucket: str, slot: int, what: str) -> str:
    """The start of a rejection's detail: "task/bucket#slot what"."""
    return f"{task}/{bucket}#{slot} {what}"


@dataclass(frozen=True)
class Outcome:
    """One attempt as the selection sees it: a sample (reason "") or a ledger line."""

    slot: int
    source: str  # the focus document
    reason: str = ""
    detail: str = ""
    question: str = ""  # samples only
    constructor: str = ""  # samples only


def select(outcomes: Sequence[Outcome], llm: bool, quota: int, per_doc_ctors: Collection[str] = ()
           ) -> list[str | tuple[str, str]]:
    """For each outcome (in slot order): KEEP, DROP (a repeated document-level line), or (reason, detail) for
    a sample that becomes a ledger line. `per_doc_ctors`: constructors whose output does not depend on the draw."""
    out: list[str | tuple[str, str]] = []
    if llm:
        idx = [i for i, o in enumerate(outcomes) if not o.reason]
        near = {idx[k] for k in near_duplicate_questions([outcomes[i].question for i in idx])}
        made = 0
        for i, o in enumerate(outcomes):
            if o.reason:
                out.append(KEEP)
            elif i in near:
                out.append(("near_duplicate_question", f"{o.detail}: {o.question[:100]}"))
            elif made >= quota:
                out.append(("quota_full", o.detail))
            else:
                made += 1
                out.append(KEEP)
        return out
    seen_lines: set[tuple[str, str, str]] = set()
    seen_questions: set[tuple[str, str]] = set()
    for o in outcomes:
        if o.reason:
            m = _WHERE.match(o.detail)
            what = o.detail[m.end():] if m else o.detail
            if o.reason in DOC_LEVEL_REASONS or what in per_doc_ctors:
                key = (o.source, o.reason, what)
                out.append(DROP if key in seen_lines else KEEP)
                seen_lines.add(key)
            else:
                out.append(KEEP)
        elif (o.source, o.question) in seen_questions:
            # Templated questions are near-identical by design, so only exact repeats (same document, same
            # question) are dropped; the fuzzy question filter is for LLM-written questions.
            out.append(("duplicate_question", o.detail))
        else:
            seen_questions.add((o.source, o.question))
            out.append(KEEP)
    return out


def sample_outcome(s: dict[str, Any], detail: str) -> Outcome:
    meta = s.get("meta") or {}
    return Outcome(int(meta["slot"]), str(meta.get("focus_doc", "")), "", detail, str(meta.get("question", "")),
                   str(meta.get("constructor", "")))


def sample_detail(task: str, bucket: str, slot: int, generator_name: str) -> str:
    """What a sample's ledger line says if the selection turns it away: "task/bucket#slot constructor"."""
    return where(task, bucket, slot, generator_name.split(".", 1)[-1] if "." in generator_name else generator_name)


