"""Text handling shared by the metrics: the think gate and the LongBench-Pro answer normalisation.

Matches Train/verl/verl/utils/reward_score/__init__.py (gate) and long_bench_pro.py (get_answer_area,
normalize_answers, normalize_prediction) of github.com/xiaoxuanNLP/GoLongRL.
"""

from __future__ import annotations

from typing import Any

from golong_data.rewards.profiles import Profile

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


class Unscorable(Exception):
    """The official router cannot score this row (it raises there); the message says why. The router turns it
    into 0.0 and one warning per route, or an error under --strict-routes."""


def need(obj: Any, key: str) -> Any:
    """obj[key] where the official code indexes: a missing key or a non-mapping is Unscorable."""
    try:
        return obj[key]
    except (KeyError, TypeError, IndexError) as e:
        raise Unscorable(f"{type(obj).__name__} has no {key!r} ({type(e).__name__})") from None


def passes_think_gate(response: str) -> bool:
    """The official gate: a `</think>` must be present, and neither tag may appear twice.

    >>> passes_think_gate("<think>x</think>a"), passes_think_gate("x</think>a"), passes_think_gate("a")
    (True, True, False)
    """
    # count == 1 is "present and not repeated": two scans of the text instead of three
    return response.count(THINK_CLOSE) == 1 and response.count(THINK_OPEN) <= 1


def after_think(response: str) -> str:
    """Text after the last `</think>` (the whole text when there is none): `split("</think>")[-1]`."""
    i = response.rfind(THINK_CLOSE)
    return response if i < 0 else response[i + len(THINK_CLOSE) :]


def fix_space(text: str) -> str:
    """Collapse runs of whitespace (any Unicode whitespace, as str.split() sees it) and strip."""
    return " ".join(text.split())


def answer_area(text: str) -> str:
    """After the last `[Answer]`, else after the last `[答案]`, else the whole text; stripped.

    The markers are case-sensitive and matched before lowercasing, as in the official get_answer_area.
    """
    i = text.rfind("[Answer]")
    if i >= 0:
        return text[i + len("[Answer]") :].strip()
    i = text.rfind("[答案]")
    if i >= 0:
        return text[i + len("[答案]") :].strip()
    return text.strip()


def normalize_gold(items: list[Any]) -> list[str]:
    """Gold items lowercased, stripped, whitespace-collapsed (official normalize_answers)."""
    return [" ".join(a.lower().split()) for a in items]


def normalize_lines(response: str, profile: Profile) -> list[str]:
    """The predicted items: answer area, lowercased, one per `\\n` line, each whitespace-collapsed.

    Official quirk kept by `golongrl`: blank lines inside the area stay as "" items, and without a marker
    the area is the whole response, thinking included.
    """
    text = after_think(response) if profile.answer_after_think else response
    lines = [" ".join(line.split()) for line in answer_area(text).lower().split("\n")]
    if profile.drop_blank_lines:
        lines = [line for line in lines if line]
    return lines


def gold_list(ground_truth: Any) -> list[Any] | None:
    """ground_truth["doc_ids"] as a list (None when it is not a list of strings: the official code
    lowercases each item, and a non-string raises inside its try block, scoring 0)."""
    items = ground_truth.get("doc_ids") if isinstance(ground_truth, dict) else None
    if items is None:
        return None
    items = list(items)  # parquet readers may give tuples or arrays
    if not all(isinstance(a, str) for a in items):
        return None
    return items
