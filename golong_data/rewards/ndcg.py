"""NDCG@k for graded ranking (LongBench-Pro T1.x), k = number of gold items.

The official long_bench_pro.NDCG builds pytrec_eval (trec_eval `ndcg_cut.k`) inputs:
  qrels  {gold_i: k - i}          graded relevance, first gold item = k ... last = 1 (linear gain);
  run    {line_j: n - j}          predicted order = line order, n = number of answer lines.
Both are dict comprehensions, so a duplicated key keeps its LAST value: a repeated answer line ranks at
its last occurrence, a repeated gold item gets its last (lower) grade. The run scores are then distinct,
so trec_eval's tie-breaking never applies. trec_eval's ndcg_cut:
  DCG@k  = sum_{r=1..k} rel(doc at rank r) / log2(r + 1)      (unjudged lines: rel 0)
  IDCG@k = the same over the qrels' grades sorted high to low
  NDCG@k = DCG@k / IDCG@k.
Computed here in pure Python (no pytrec_eval); the tests check hand-derived values.

>>> round(ndcg(["a", "b", "c"], "</think>[Answer]\\nb\\na\\nc"), 10)   # (2 + 3/log2 3 + 1/2) / (3 + 2/log2 3 + 1/2)
0.9224945117
"""

from __future__ import annotations

import math
from typing import Any

from golong_data.rewards.common import gold_list, normalize_gold, normalize_lines
from golong_data.rewards.profiles import PROFILES, Profile


def ndcg_at_k(gold: list[str], ranking_lines: list[str]) -> float:
    """NDCG@len(gold) of already-normalised gold items and answer lines (the trec_eval math above)."""
    if not gold or not ranking_lines:
        return 0.0
    k = len(gold)
    grade = {g: k - i for i, g in enumerate(gold)}  # dict: a duplicate keeps its last (lower) grade
    n = len(ranking_lines)
    last_pos = {p: n - j for j, p in enumerate(ranking_lines)}  # dict: a duplicate keeps its last position
    ranked = sorted(last_pos, key=last_pos.__getitem__, reverse=True)  # scores are distinct: no ties
    dcg = sum(grade.get(doc, 0) / math.log2(r + 2) for r, doc in enumerate(ranked[:k]))
    ideal = sorted(grade.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 2) for r, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def ndcg(gold: list[str], response: str, profile: Profile = PROFILES["golongrl"]) -> float:
    return ndcg_at_k(normalize_gold(gold), normalize_lines(response, profile))


def reward(response: str, ground_truth: dict[str, Any], profile: Profile) -> float:
    gold = gold_list(ground_truth)
    return 0.0 if not gold or not response.strip() else ndcg(gold, response, profile)
