"""Blind strategies: fixed answering rules that never see the gold or the evidence (issue 19).

A sample teaches reading only if no cheap rule scores well on it. Each strategy here builds an answer from
what any reader sees -- the context's headings, speaker prefixes and numbers, the question's options, items
and labels -- and is scored with the sample's own reward under a profile. The *chance level* of a sample is
the mean score of a random answer of the right form (a random letter, a random order of the listed items, a
random subset of the headings, ...): exact where the form has few values (letters), else a seeded Monte-Carlo
mean. A *content* strategy (everything but the random-equivalent ones -- constant letters, question order and
label order, which the constructors randomise) that scores >= chance + max_blind on a sample is a shortcut
(golong_data.verify.checks.check_shortcut).

Pure: (sample, metric key, profile, seed) in, numbers out; golong_data.verify.stage ledgers, golong_data.export.card
reports.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from golong_data.rewards import get_profile, score_sample
from golong_data.tasks.common import fmt_boxed, fmt_lines, fmt_mcq

THINK_PREFIX = "<think>\n</think>\n"  # an empty reasoning block, then the answer: passes any think gate
LETTERS = "ABCD"
DRAWS = 32  # Monte-Carlo draws of the random answer per sample (seeded by the sample id)

_HEADING = re.compile(r"(?m)^=== (.+) ===$")
_OPTION = re.compile(r'(?m)^([A-D]|P\d+|\d+)\. "(.*)"$')
_PREFIX = re.compile(r"(?m)^([^\s:=][^:\n]{0,59}): ")  # "speaker: message" lines of chat transcripts
_INT = re.compile(r"(?<![\w.,])\d{1,6}(?![\w]|[.,]\d)")
_TOP_K = re.compile(r"\bthe (\d+) (?:words|items|names) that occur most often\b")
_WORDS = re.compile(r"\babout (\d+) words\b")


def split_prompt(s: Any) -> tuple[str, str] | None:
    """(context, question + format) of a sample's user message, split at the question's last occurrence."""
    q = str((s.meta or {}).get("question", ""))
    content = str(s.prompt[-1].get("content", "")) if s.prompt else ""
    i = content.rfind(q) if q else -1
    if i < 0:
        return None
    return content[:i].rstrip(), content[i:]


@dataclass(frozen=True)
class View:
    """What a blind reader can pick out of a prompt without understanding it."""

    context: str
    question: str
    headings: list[str]
    options: list[tuple[str, str]]  # (label, text) lines of the question: A-D, P1.., 1..
    items: list[str]  # a ranking question's word list, in the order given
    top_k: int | None  # how many items a ranking answer should give, when the question says
    words: int  # the length a summary should have, when the question says (else 150)


def view(s: Any) -> View | None:
    split = split_prompt(s)
    if split is None:
        return None
    ctx, q = split
    meta = s.meta or {}
    items = [str(x) for x in meta.get("items", [])]
    if not items and s.task_type == "graded_ranking":
        # before items were recorded: the list after the question's last ": ", up to its final "."
        tail = str(meta.get("question", "")).rsplit(": ", 1)[-1].rstrip(".")
        items = [x.strip() for x in tail.split(", ") if x.strip()]
    k = _TOP_K.search(q)
    w = _WORDS.search(q)
    return View(ctx, q, list(dict.fromkeys(_HEADING.findall(ctx))), _OPTION.findall(q), items,
                int(k.group(1)) if k else None, int(w.group(1)) if w else 150)


def _mostcommon(cands: list[str], text: str) -> str | None:
    counts = Counter({c: text.count(c) for c in cands})
    return max(cands, key=lambda c: (counts[c], -cands.index(c))) if cands else None


def _rows(rows: list[list[Any]]) -> str:
    return "<answer>" + json.dumps({"data": rows}, ensure_ascii=False) + "</answer>"


def _em_candidates(v: View) -> list[str]:
    return list(dict.fromkeys([*v.headings, *_PREFIX.findall(v.context)]))


def _numbers(v: View) -> list[str]:
    return [n for n, _ in v.options if n.isdigit()]


def strategies(v: View, metric: str) -> dict[str, str]:
    """name -> answer body (in the task's answer format) of every blind strategy that applies to this form."""
    out: dict[str, str] = {"empty": ""}
    longest = max(v.headings, key=len, default="")
    if metric == "accuracy":
        letters = [lab for lab, _ in v.options if lab in LETTERS]
        for x in LETTERS:
            out[f"letter:{x}"] = fmt_mcq(x)
        present = [lab for lab, text in v.options if lab in LETTERS and text and text in v.context]
        # Presence tells something only when it splits the options; all or none present: no answer.
        out["present"] = fmt_mcq(present[0]) if 0 < len(present) < len(letters) else ""
        if letters:
            out["longest"] = fmt_mcq(max(v.options, key=lambda o: len(o[1]))[0])
    elif metric == "em":
        cands = _em_candidates(v)
        out["all_headings"] = "\n".join(v.headings)
        out["longest"] = max(cands, key=len, default="")
        out["most_frequent"] = _mostcommon(cands, v.context) or ""
    elif metric == "math_verify":
        nums = _INT.findall(v.context)
        if nums:
            out["most_frequent"] = fmt_boxed(Counter(nums).most_common(1)[0][0])
            out["longest"] = fmt_boxed(max(nums, key=lambda n: (len(n), n)))
    elif metric == "f1":
        out["all_headings"] = fmt_lines(v.headings)
        out["longest"] = fmt_lines([longest])
    elif metric == "subem":
        nums = _numbers(v)
        out["all_headings"] = fmt_lines(v.headings)
        out["headings_x_numbers"] = fmt_lines([f"{n}: {h}" for n in nums for h in v.headings])
        out["longest"] = fmt_lines([f"{n}: {longest}" for n in nums])
    elif metric == "ndcg":
        out["question_order"] = fmt_lines(v.items)
        out["longest"] = fmt_lines(sorted(v.items, key=lambda x: -len(x)))
        out["most_frequent"] = fmt_lines(sorted(v.items, key=lambda x: -v.context.count(x)))
    elif metric == "pairwise":
        labels = [lab for lab, _ in v.options]
        out["label_order"] = fmt_lines(labels)
        out["label_pair"] = fmt_lines(labels[:2])  # the golongrl quirk: two lines in the right order score 1
        if labels:
            out["longest"] = fmt_lines([lab for lab, _ in sorted(v.options, key=lambda o: -len(o[1]))])
    elif metric == "iou":
        out["all_headings"] = _rows([[h, 1] for h in v.headings])
        out["headings_x_numbers"] = _rows([[h, n] for h in v.headings for n in range(1, 11)])
    elif metric == "rouge_l":
        paras = [p for p in v.context.split("\n\n") if p.strip() and not _HEADING.fullmatch(p.strip())]
        words = v.context.split()
        out["lead"] = fmt_lines([" ".join(words[: v.words])])
        out["longest"] = fmt_lines([" ".join(max(paras, key=len, default="").split()[: v.words])])
    return out


def random_answers(v: View, metric: str, rng: random.Random, n: int = DRAWS) -> list[str]:
    """Answers of the right form drawn at random: their mean score is the sample's chance level.

    Exact (every value once) for the multiple-choice letter; n seeded draws otherwise."""
    if metric == "accuracy":
        return [fmt_mcq(x) for x in LETTERS]
    out = []
    for _ in range(n):
        if metric == "em":
            cands = _em_candidates(v)
            out.append(rng.choice(cands) if cands else "")
        elif metric == "math_verify":
            out.append(fmt_boxed(str(rng.randint(0, 60))))  # the constructors' counts lie in 0..60
        elif metric == "f1":
            sub = [h for h in v.headings if rng.random() < 0.5] or v.headings[:1]
            out.append(fmt_lines(sub))
        elif metric == "subem":
            out.append(fmt_lines([f"{k}: {rng.choice(v.headings)}" for k in _numbers(v)] if v.headings else []))
        elif metric == "ndcg":
            out.append(fmt_lines(rng.sample(v.items, len(v.items))))
        elif metric == "pairwise":
            labels = [lab for lab, _ in v.options]
            out.append(fmt_lines(rng.sample(labels, len(labels))))
        elif metric == "iou":
            sub = [h for h in v.headings if rng.random() < 0.5] or v.headings[:1]
            out.append(_rows([[h, rng.randint(1, 10)] for h in sub]))
        elif metric == "rouge_l":
            words = v.context.split()
            a = rng.randrange(max(1, len(words) - v.words))
            out.append(fmt_lines([" ".join(words[a : a + v.words])]))
        else:
            out.append("")
    if metric == "rouge_l":
        out = out[:8]  # ROUGE-L is the slow metric: eight windows bound its cost
    return out


@dataclass(frozen=True)
class Blind:
    """One sample's blind scores under one profile."""

    profile: str
    chance: float
    scores: dict[str, float]  # strategy -> score
    gold: float

    def record(self) -> dict[str, Any]:
        return {"profile": self.profile, "chance": round(self.chance, 6),
                "scores": {k: round(v, 6) for k, v in sorted(self.scores.items())}, "gold": round(self.gold, 6)}


def measure(s: Any, metric: str, profile: Any, seed: int = 0) -> Blind | None:
    """Every blind strategy's score, the chance level and the gold's score for sample s (None: prompt unsplittable)."""
    v = view(s)
    if v is None:
        return None
    prof = get_profile(profile)

    seen: dict[str, float] = {}  # draws repeat (32 counts out of 61): each distinct answer is scored once

    def score(body: str) -> float:
        if body not in seen:
            seen[body] = float(score_sample(s, THINK_PREFIX + body, profile=prof)) if body.strip() else 0.0
        return seen[body]

    rng = random.Random(f"{seed}:{s.id}:chance")
    draws = random_answers(v, metric, rng)
    chance = math.fsum(score(a) for a in draws) / len(draws) if draws else 0.0
    return Blind(prof.name, chance,
                 {k: score(a) for k, a in strategies(v, metric).items()}, score(s.answer or ""))

