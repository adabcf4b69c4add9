"""Reward throughput: responses/s of each metric next to a reference on the same responses, and the ratio.

    python bench/bench_rewards.py [N]      (default N = 10,000 responses per list/scalar metric)

Responses are built from real book text ($GOLONG_HOME/corpus/books/*.txt, else the fixture EPUBs):
a <think> block of book text (list metrics: 300-3,000 words; summary: 1,500-12,000 words, i.e. about
2-16K tokens) then the answer in the task's format, with a realistic mix of right, partial, shuffled and
wrong answers. References:
  * ROUGE-L: the `rouge` 1.0.1 package exactly as the official long_bench_pro.Summary calls it;
  * F1 / SubEM / Pairwise / EM / Accuracy / IoU: plain-Python functions written the way the official
    reward files are (normalise, build lists/sets, compare), below;
  * NDCG: pytrec_eval (trec_eval ndcg_cut, the official dependency) when installed, else not compared;
  * math_verify: math-verify called directly as the official math_dapo does (same library: ratio ~1).
Every reference runs behind the official think gate, as default_compute_score does. Long summaries are
slow on both sides, so ROUGE-L runs ours on 1,000 of them and rouge 1.0.1 on the first 6; math_verify
runs on 300 (sympy-bound on both sides); the table prints each n. Scores are checked identical
(|diff| <= 1e-9) wherever the reference ran.
"""

from __future__ import annotations

import json
import random
import re
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data import paths  # noqa: E402
from golong_data.rewards import compute_score  # noqa: E402

SEED = 20260526
ROUGE_OURS_N = 1000  # long summaries: ours on a subsample of this size
ROUGE_REF_N = 6  # rouge 1.0.1 takes seconds per 2-16K-token response
MATH_N = 300


def book_words() -> list[str]:
    books = paths.home() / "corpus" / "books"
    txt = sorted(books.glob("*.txt")) if books.is_dir() else []
    if txt:
        return " ".join(p.read_text(encoding="utf-8", errors="replace") for p in txt).split(" ")
    import ebooklib
    from ebooklib import epub
    from lxml import html

    parts = []
    for p in sorted((ROOT / "tests" / "fixtures" / "books").glob("*.epub")):
        for item in epub.read_epub(str(p)).get_items_of_type(ebooklib.ITEM_DOCUMENT):
            parts.append(html.fromstring(item.get_content()).text_content())
    return " ".join(parts).split(" ")


# ---------------------------------------------------------------- references (official semantics, plain Python)
def _area(text: str) -> str:
    if "[Answer]" in text:
        text = text[text.rfind("[Answer]") + 8 :]
    elif "[答案]" in text:
        text = text[text.rfind("[答案]") + 4 :]
    return text.strip()


def _ans(a: list[str]) -> list[str]:
    return [" ".join(x.lower().strip().split()) for x in a]


def _pred(p: str) -> list[str]:
    return [" ".join(x.strip().split()) for x in _area(p).lower().split("\n")]


def ref_f1(gold: list[str], resp: str) -> float:
    a, p = set(_ans(gold)), set(_pred(resp))
    c = a & p
    if not c or not p or not a:
        return 0.0
    pr, rc = len(c) / len(p), len(c) / len(a)
    return 2 * pr * rc / (pr + rc)


def ref_subem(gold: list[str], resp: str) -> float:
    a, p = _ans(gold), _pred(resp)
    if not a or not p:
        return 0.0
    return sum(1.0 for x in a if x in p) / len(a)


def ref_pairwise(gold: list[str], resp: str) -> float:
    a, p = _ans(gold), _pred(resp)
    if len(a) <= 1 or len(p) <= 1:
        return 0.0
    idx = {x: i for i, x in enumerate(p)}
    ok = sum(1 for x, y in combinations(a, 2) if x in idx and y in idx and idx[x] < idx[y])
    s = ok / (len(p) * (len(p) - 1) // 2)
    return s if s <= 1 else 0.0


def ref_ndcg(gold: list[str], resp: str) -> float:
    import pytrec_eval

    a, p = _ans(gold), _pred(resp)
    if not a or not p:
        return 0.0
    k = len(a)
    ev = pytrec_eval.RelevanceEvaluator({"q": {x: k - i for i, x in enumerate(a)}}, {f"ndcg_cut.{k}"})
    return ev.evaluate({"q": {x: len(p) - i for i, x in enumerate(p)}})["q"][f"ndcg_cut_{k}"]


def ref_em(label: str, resp: str) -> float:
    return 1.0 if label.strip() == resp.split("</think>")[-1].strip() else 0.0


def _mcq(text: str) -> str | None:
    text = text.replace("*", "")
    m = re.search(r"The correct answer is \(([A-D])\)", text) or re.search(r"The correct answer is ([A-D])", text)
    return m.group(1) if m else None


def ref_mcq(label: str, resp: str) -> float:
    got = _mcq(resp.split("</think>")[-1])
    return 0.0 if got is None else float(got == label or got == _mcq(label))


def ref_iou(label: str, resp: str) -> float:
    gold = json.loads(label)
    body = resp.partition("<answer>")[2].partition("</answer>")[0].strip() if "<answer>" in resp else resp.strip()
    try:
        pred = json.loads(body).get("data", [])
    except (json.JSONDecodeError, AttributeError, TypeError):
        pred = []
    if not isinstance(pred, list):
        return 0.0

    def key(r: Any) -> Any:
        return tuple(str(v) for v in r) if isinstance(r, list) else str(r)

    g = gold.get("data", [])
    m = sum((Counter(key(r) for r in pred) & Counter(key(r) for r in g)).values())
    t = len(pred) + len(g) - m
    return m / t if t else 0.0


def ref_summary(refs: list[str], resp: str) -> float:
    from rouge import Rouge

    answers = [" ".join(a.lower().split()) for a in refs]
    pred = " ".join(resp.lower().split())
    try:
        scores = Rouge().get_scores([pred] * len(answers), answers, avg=False)
    except Exception:
        return 0.0
    return max(s["rouge-l"]["f"] for s in scores)


def ref_math(label: str, resp: str) -> float:
    from math_verify import parse, verify

    parsed = parse(resp[-500:], parsing_timeout=5)
    if len(parsed) < 2:
        return 0.0
    if parsed[1] in [label]:
        return 1.0
    try:
        return float(bool(verify(parse("\\boxed{" + label + "}", parsing_timeout=5), parsed, timeout_seconds=5)))
    except Exception:
        return 0.0


# ---------------------------------------------------------------- workloads
def make_cases(words: list[str], n: int, rng: random.Random) -> dict[str, list[tuple[Any, str]]]:
    W = len(words)

    def span(lo: int, hi: int) -> str:
        a = rng.randrange(W - hi - 1)
        return " ".join(words[a : a + rng.randrange(lo, hi)])

    def think(lo: int = 300, hi: int = 3000) -> str:
        return "<think>\n" + span(lo, hi) + "\n</think>\n"

    names = sorted({w.strip(".,;:!?\"'()") for w in words if w[:1].isupper() and len(w) > 3})
    cases: dict[str, list[tuple[Any, str]]] = {k: [] for k in ("f1", "subem", "ndcg", "pairwise", "em", "mcq", "iou")}
    for _ in range(n):
        gold = rng.sample(names, rng.randint(3, 12))
        kind = rng.random()
        if kind < 0.3:
            pred = list(gold)
        elif kind < 0.6:
            pred = rng.sample(gold, len(gold))
        elif kind < 0.85:
            pred = rng.sample(gold, max(1, len(gold) // 2)) + rng.sample(names, 3)
        else:
            pred = rng.sample(names, len(gold))
        resp = think() + "[Answer]\n" + "\n".join(pred)
        for k in ("f1", "subem", "ndcg", "pairwise"):
            cases[k].append((gold, resp))
        label = span(2, 6)
        cases["em"].append((label, think() + (label if kind < 0.5 else span(2, 6))))
        letter = rng.choice("ABCD")
        said = rng.choice("ABCD") if kind > 0.5 else letter
        cases["mcq"].append((letter, think() + f"The correct answer is ({said})."))
        rows = [[rng.choice(names), rng.randint(1, 99)] for _ in range(rng.randint(2, 8))]
        prow = rows if kind < 0.4 else rows[: len(rows) // 2] + [[rng.choice(names), "7"]]
        answer = "<answer>" + json.dumps({"data": prow}) + "</answer>"
        cases["iou"].append((json.dumps({"data": rows}), think() + answer))
    return cases


def summary_cases(words: list[str], n: int, rng: random.Random) -> list[tuple[list[str], str]]:
    W = len(words)
    out = []
    for _ in range(n):
        b = rng.randrange(W - 20000)
        refs = [" ".join(words[b + d : b + d + rng.randrange(150, 300)]) for d in (0, rng.randrange(20, 200))]
        a = rng.randrange(W - 13000)
        body = " ".join(words[a : a + rng.randrange(1500, 12000)])  # ~2-16K tokens of reasoning
        answer = " ".join(words[b + rng.randrange(0, 60) : b + rng.randrange(150, 260)])
        out.append((refs, "<think>\n" + body + "\n</think>\n[Answer]\n" + answer))
    return out


ROUTES = {
    "f1": ("longbench_pro", "T6.2 Targeted Subset Cluster Identification"),
    "subem": ("longbench_pro", "T8.2 Single-Source Targeted Aggregation"),
    "ndcg": ("longbench_pro", "T1.1 Global Cohesive Retrieval"),
    "pairwise": ("longbench_pro", "T2.1 Global Timeline Reconstruction"),
    "rouge_l": ("longbench_pro", "T4.1 Global-Coverage Constrained Summary"),
    "em": ("EM", "EM"),
    "mcq": ("selection", "selection"),
    "iou": ("multitableqa_pretraining", "IoU"),
    "math_verify": ("math_longcot_math_verify", "math_verify"),
}
def gated(fn):  # type: ignore[no-untyped-def]
    """The official default_compute_score gate in front of a reference metric, as the official path runs."""

    def wrapped(gold: Any, resp: str) -> float:
        if "</think>" not in resp or resp.count("<think>") > 1 or resp.count("</think>") > 1:
            return 0.0
        return fn(gold, resp)

    return wrapped


REFS = {"f1": ref_f1, "subem": ref_subem, "ndcg": ref_ndcg, "pairwise": ref_pairwise, "em": ref_em, "mcq": ref_mcq,
        "iou": ref_iou, "rouge_l": ref_summary, "math_verify": ref_math}


def ours_fn(metric: str):  # type: ignore[no-untyped-def]
    ds, mode = ROUTES[metric]

    def fn(gold: Any, resp: str) -> float:
        gt = {"doc_ids": gold, "golden_label": "", "summary": ""} if isinstance(gold, list) else \
            {"doc_ids": [], "golden_label": gold, "summary": ""}
        return compute_score(ds, resp, gt, {"reward_mode": mode})

    return fn


def timed(fn, cases: list[tuple[Any, str]]) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    fn(*cases[0])  # warm-up: lazy imports (math-verify, sympy, rouge) are not throughput
    t0 = time.perf_counter()
    scores = [fn(g, r) for g, r in cases]
    return time.perf_counter() - t0, scores


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rng = random.Random(SEED)
    words = book_words()
    t0 = time.perf_counter()
    cases = make_cases(words, n, rng)
    math_cases = []
    for _ in range(MATH_N):
        num, den = rng.randint(1, 50), rng.randint(2, 9)
        shown = rng.choice([f"\\frac{{{num}}}{{{den}}}", f"{num}/{den}", str(round(num / den, 6)), f"{num + 1}/{den}"])
        think = " ".join(words[(a := rng.randrange(len(words) - 800)) : a + 600])
        math_cases.append((f"{num}/{den}", f"<think>\n{think}\n</think>\nSo the answer is $\\boxed{{{shown}}}$."))
    summ = summary_cases(words, ROUGE_OURS_N, rng)  # 1,000 long responses (~7K words each)
    print(f"built {n:,} responses per metric from {len(words):,} words of book text "
          f"in {time.perf_counter() - t0:.1f}s (2-core x86 VM, Python {sys.version.split()[0]})")
    try:
        import pytrec_eval  # noqa: F401
        have_trec = True
    except ImportError:
        have_trec = False

    rows = []
    plan: list[tuple[str, list[tuple[Any, str]], list[tuple[Any, str]]]] = [
        (m, cases[m], cases[m]) for m in ("em", "mcq", "f1", "subem", "ndcg", "pairwise", "iou")
    ]
    plan.append(("math_verify", math_cases, math_cases))
    plan.append(("rouge_l", summ[:ROUGE_OURS_N], summ[:ROUGE_REF_N]))
    for metric, ours_cases, ref_cases in plan:
        t_ours, s_ours = timed(ours_fn(metric), ours_cases)
        ref_name = {"rouge_l": "rouge 1.0.1", "ndcg": "pytrec_eval", "math_verify": "math-verify direct"}.get(
            metric, "plain Python (official)")
        if metric == "ndcg" and not have_trec:
            rows.append((metric, len(ours_cases), len(ours_cases) / t_ours, "-", 0, None, "n/a (pip install "
                         "pytrec-eval-terrier)"))
            continue
        t_ref, s_ref = timed(gated(REFS[metric]), ref_cases)
        same = all(abs(a - b) <= 1e-9 for a, b in zip(s_ours, s_ref, strict=False))
        ours_rate, ref_rate = len(ours_cases) / t_ours, len(ref_cases) / t_ref
        rows.append((metric, len(ours_cases), ours_rate, len(ref_cases), ref_rate, ours_rate / ref_rate,
                     f"{ref_name}; identical: {'yes' if same else 'NO'}"))
        if not same:
            bad = [(i, a, b) for i, (a, b) in enumerate(zip(s_ours, s_ref, strict=False)) if abs(a - b) > 1e-9][:3]
            print(f"  {metric}: scores differ, e.g. {bad}")
    print(f"{'metric':<12} {'n ours':>7} {'ours resp/s':>12} {'n ref':>6} {'ref resp/s':>11} {'ratio':>7}  reference")
    for metric, n_o, r_o, n_r, r_r, ratio, note in rows:
        rr = f"{r_r:11.1f}" if r_r else f"{'-':>11}"
        ra = f"{ratio:6.1f}x" if ratio else f"{'-':>7}"
        print(f"{metric:<12} {n_o:>7} {r_o:12.1f} {n_r:>6} {rr} {ra}  {note}")
    print(f"rouge_l: ours on {ROUGE_OURS_N:,} summary responses of 2-16K tokens, rouge 1.0.1 on the first "
          f"{ROUGE_REF_N} (seconds each); math_verify on {MATH_N} (sympy-bound, same library on both sides).")


if __name__ == "__main__":
    main()
