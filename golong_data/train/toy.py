"""Short program-constructed samples of six task types, for smoke runs and the GPU check.

Each context is a small key/value table (a few hundred tokens at most); questions and answer formats are the
real task types' (their `format_answer` functions), so the rewards are the real reward routes. Not training
data: it exists so a tiny model can show reward rising within minutes.
"""

from __future__ import annotations

import random

from golong_data.records import Sample, content_id
from golong_data.tasks.common import fmt_boxed, fmt_lines, fmt_mcq

WORDS = ("amber azure birch cedar coral delta ember fjord grove harbor indigo jade kelp lotus maple nectar "
         "onyx pearl quartz raven sable tulip umber violet willow xenon yarrow zinc").split()
COLORS = ("red", "blue", "green", "gold")
TYPES = ("precise_retrieval", "comprehension", "numerical_reasoning", "sequence_ordering", "exhaustive_retrieval",
         "structured_matching")
ROUTES = {
    "precise_retrieval": ("EM", "EM"),
    "comprehension": ("selection", "selection"),
    "numerical_reasoning": ("math_longcot_math_verify", "math_verify"),
    "sequence_ordering": ("longbench_pro", "T2.1 Global Timeline Reconstruction"),
    "exhaustive_retrieval": ("longbench_pro", "T6.2 Targeted Subset Cluster Identification"),
    "structured_matching": ("longbench_pro", "T8.2 Single-Source Targeted Aggregation"),
}
THINK = "<think>\n\n</think>\n"  # a perfect completion is THINK + sample.answer


def _table(rng: random.Random, n: int) -> list[tuple[str, str, str, int]]:
    """n rows (key, value, color, day) with distinct keys and days."""
    keys = rng.sample(WORDS, n)
    days = rng.sample(range(1, 29), n)
    return [(k, rng.choice(WORDS), rng.choice(COLORS), d) for k, d in zip(keys, days, strict=True)]


def make_sample(task_type: str, rng: random.Random, n_rows: int = 6) -> Sample:
    rows = _table(rng, n_rows)
    context = "\n".join(f"{k}: value {v}, color {c}, day {d}" for k, v, c, d in rows)
    doc_ids: list[str] = []
    if task_type == "precise_retrieval":
        k, v, _, _ = rng.choice(rows)
        question, label, answer = f"What is the value of {k}? Answer with the value only.", v, v
    elif task_type == "comprehension":
        k, v, _, _ = rng.choice(rows)
        options = [k] + rng.sample([r[0] for r in rows if r[0] != k], 3)
        rng.shuffle(options)
        label = "ABCD"[options.index(k)]
        opts = "\n".join(f"({L}) {o}" for L, o in zip("ABCD", options, strict=True))
        question = f"Which key has the day {[r[3] for r in rows if r[0] == k][0]}?\n{opts}\n" \
                   "Answer as: The correct answer is (X)"
        answer = fmt_mcq(label)
    elif task_type == "numerical_reasoning":
        c = rng.choice(COLORS)
        label = str(sum(r[2] == c for r in rows))
        question, answer = f"How many keys have color {c}? Put the number in \\boxed{{}}.", fmt_boxed(label)
    elif task_type == "sequence_ordering":
        doc_ids = [r[0] for r in sorted(rows, key=lambda r: r[3])]
        question, label = "List all keys from the earliest day to the latest, one per line after [Answer].", ""
        answer = fmt_lines(doc_ids)
    elif task_type == "exhaustive_retrieval":
        c = rows[0][2]
        doc_ids = [r[0] for r in rows if r[2] == c]
        question, label = f"List every key with color {c}, one per line after [Answer].", ""
        answer = fmt_lines(doc_ids)
    elif task_type == "structured_matching":
        k = rng.choice(rows)
        doc_ids = [f"{k[0]}: {k[1]}"]
        question, label = f"Write the row for {k[0]} as 'key: value' after [Answer].", ""
        answer = fmt_lines(doc_ids)
    else:
        raise ValueError(f"unknown toy task type {task_type!r}; expected one of: {', '.join(TYPES)}")
    data_source, reward_mode = ROUTES[task_type]
    prompt = [{"role": "user", "content": f"{context}\n\n{question}"}]
    return Sample(
        id=content_id("toy", task_type, prompt[0]["content"]),
        task_type=task_type,
        capability=[],
        metric=reward_mode,
        route={"data_source": data_source, "reward_mode": reward_mode},
        prompt=prompt,
        ground_truth={"doc_ids": doc_ids, "golden_label": label, "summary": "English" if doc_ids else ""},
        generator={"kind": "program", "name": f"toy.{task_type}", "version": "1", "seed": 0},
        answer=answer,
    )


def make_samples(n: int, seed: int = 0, types: tuple[str, ...] = TYPES, n_rows: int = 6) -> list[Sample]:
    """n samples cycling through `types`, deterministic for a seed."""
    rng = random.Random(seed)
    return [make_sample(types[i % len(types)], rng, n_rows) for i in range(n)]
