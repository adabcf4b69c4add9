"""Samples built by hand from a real fixture (the chitchat dialogues), one per task type, with gold written
independently of the code under test: each gold answer is what a perfect model would write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from golong_data.records import Sample, content_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROUTES = {
    "precise_retrieval": ("EM", "EM", "EM"),
    "comprehension": ("selection", "selection", "Accuracy"),
    "exhaustive_retrieval": ("longbench_pro", "T6.2 Targeted Subset Cluster Identification", "F1"),
    "numerical_reasoning": ("math_longcot_math_verify", "math_verify", "math_verify"),
    "structured_extraction": ("multitableqa_pretraining", "IoU", "IoU"),
    "structured_matching": ("longbench_pro", "T8.2 Single-Source Targeted Aggregation", "SubEM"),
    "graded_ranking": ("longbench_pro", "T1.1 Global Cohesive Retrieval", "NDCG"),
    "sequence_ordering": ("longbench_pro", "T2.1 Global Timeline Reconstruction", "Pairwise"),
    "summarization": ("longbench_pro", "T4.1 Global-Coverage Constrained Summary", "ROUGE-L"),
}
BUCKETS = ("2k", "4k", "8k")


def conversations() -> list[list[dict[str, str]]]:
    """The fixture's conversations as flat lists of {text, sender} messages."""
    data = json.loads((FIXTURES / "dialogues" / "chitchat_sample.json").read_text(encoding="utf-8"))
    convs = []
    for _, conv in sorted(data.items()):
        msgs = [m for turn in conv["messages"] for m in turn if m.get("text", "").strip()]
        if len(msgs) >= 6:
            convs.append(msgs)
    return convs


def _gold(task: str, msgs: list[dict[str, str]], i: int) -> tuple[str, dict[str, Any], str]:
    """(question, ground_truth, answer) for one task type over one conversation."""
    texts = [" ".join(m["text"].split()) for m in msgs]
    if task == "precise_retrieval":
        return f"Quote message number 3 of conversation {i} exactly.", {"golden_label": texts[2]}, texts[2]
    if task == "comprehension":
        return (f"Which message opens conversation {i}? (A) {texts[1]} (B) {texts[0]} (C) none (D) all",
                {"golden_label": "B"}, "The correct answer is (B)")
    if task == "numerical_reasoning":
        n = len(texts)
        return f"How many messages does conversation {i} have?", {"golden_label": str(n)}, f"\\boxed{{{n}}}"
    if task == "structured_extraction":
        rows = [[k + 1, texts[k][:30]] for k in range(2)]
        return (f"Tabulate the first two messages of conversation {i}.",
                {"golden_label": json.dumps({"data": rows})}, "<answer>" + json.dumps({"data": rows}) + "</answer>")
    if task == "summarization":
        ref = ". ".join(texts[:12]) + "."  # long enough that the think block barely dents ROUGE-L
        return f"Summarise conversation {i}.", {"doc_ids": [ref], "summary": "English"}, "[Answer]\n" + ref
    items = list(dict.fromkeys(texts[:4]))  # unique lines, document order
    question = {
        "exhaustive_retrieval": "List every message among the first four",
        "structured_matching": "List the first four messages",
        "graded_ranking": "Rank the first four messages by relevance",
        "sequence_ordering": "Put the first four messages in order",
    }[task] + f" of conversation {i}."
    return question, {"doc_ids": items}, "[Answer]\n" + "\n".join(items)


def make_samples(per_type: int = 4, tasks: list[str] | None = None, pass_rates: list[float | None] | None = None,
                 offset: int = 0) -> list[Sample]:
    """`per_type` samples of every task type, over distinct real conversations."""
    convs = conversations()
    out = []
    k = offset
    for task in tasks or list(ROUTES):
        ds, mode, metric = ROUTES[task]
        for j in range(per_type):
            msgs = convs[k % len(convs)]
            question, gt, answer = _gold(task, msgs, k)
            gt = {"doc_ids": gt.get("doc_ids", []), "golden_label": gt.get("golden_label", ""),
                  "summary": gt.get("summary", "")}
            context = "\n".join(f"[{m['sender'][:8]}] {m['text']}" for m in msgs)
            rate = pass_rates[j % len(pass_rates)] if pass_rates else None
            out.append(Sample(
                id=content_id("smp", task, str(k)),
                task_type=task,
                capability=[task.split("_")[0]],
                metric=metric,
                route={"data_source": ds, "reward_mode": mode},
                prompt=[{"role": "user", "content": f"{context}\n\n{question}"}],
                ground_truth=gt,
                n_tokens=len(context) // 4,
                bucket=BUCKETS[j % len(BUCKETS)],
                generator={"kind": "program", "name": f"test_{task}", "version": "1", "model": None,
                           "prompt_sha": None, "seed": 0},
                verification={"pass_rate": rate} if rate is not None else {},
                answer=answer,
                meta={"question": question},
            ))
            k += 1
    return out


def perfect(answer: str) -> str:
    return "<think>\nI read the context and checked it.\n</think>\n" + answer
