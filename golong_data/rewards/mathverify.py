"""math_verify for numerical reasoning (data_source "math_longcot_math_verify").

Matches the official route: `math_dapo.compute_score(solution, golden_label, is_longcot=True,
is_use_math_verify=True)`, i.e. `math_verify_from_sky` on the LAST 500 characters of the response:
  1. parsed = math_verify.parse(tail, parsing_timeout=5); fewer than 2 items (no answer found) -> 0;
  2. parsed[1] (the extracted answer string) equal to the gold string -> 1;
  3. math_verify.verify(parse("\\boxed{gold}"), parsed, timeout_seconds=5) -> 1, else 0.
So `\\boxed{1/2}` against gold "0.5" scores 1 (sympy equality), while "The answer is 7" without a box
still parses through math-verify's expression extraction.

Time bound: math-verify's timeouts use SIGALRM, which only works in the main thread (called from a
thread it raises, and the official code then scores 0). Here the main thread uses math-verify's own
timeouts; any other thread sends the work to a one-process worker (spawned once) and waits at most
3 x timeout + 5 s, killing and respawning the worker when it overruns (score 0).

>>> math_verify_score("<think>...</think> so the answer is \\\\boxed{\\\\frac{1}{2}}", "0.5")
1.0
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from golong_data.rewards.profiles import PROFILES, Profile

TAIL_CHARS = 500  # official: solution_str[-500:]

_pool: Any = None  # concurrent.futures.ProcessPoolExecutor, created (and imported) on first use
_pool_lock = threading.Lock()


# Returned where the official code raises: a gold that is neither a string nor a collection reaches
# `parsed[1] in gold` (TypeError) once the response parses. The router turns it into Unscorable.
UNSCORABLE = -1.0


def gold_candidates(gold: Any) -> list[Any] | None:
    """The official `[gt] if isinstance(gt, str) else gt`, iterated: a list's items, a dict's KEYS (the
    official `in` and `for` see keys), None for anything `in` cannot search."""
    if isinstance(gold, str):
        return [gold]
    if isinstance(gold, (list, tuple, dict, set, frozenset)):
        return list(gold)
    return None


def _score_main_thread(tail: str, golds: list[Any] | None, timeout_s: int) -> float:
    from math_verify import parse, verify  # lazy: math-verify pulls sympy (0.35 s); only math answers need it

    try:
        parsed = parse(tail, parsing_timeout=timeout_s)
    except Exception:
        return 0.0
    if len(parsed) < 2:
        return 0.0
    if golds is None:
        return UNSCORABLE
    if parsed[1] in golds:  # the official quick string match
        return 1.0
    for gold in golds:
        try:
            if verify(parse(f"\\boxed{{{gold}}}", parsing_timeout=timeout_s), parsed, timeout_seconds=timeout_s):
                return 1.0
        except Exception:
            continue
    return 0.0


def _math_metric_main_thread(output: str, gold_boxed: str, timeout_s: int) -> float:
    """verl's math_verify.compute_score (data_source MATH##... / aime...): math_metric, LaTeX gold, expression
    or LaTeX prediction, on the whole output; any failure 0."""
    from math_verify.metric import math_metric  # lazy: math-verify pulls sympy (0.35 s); only math answers need it
    from math_verify.parser import ExprExtractionConfig, LatexExtractionConfig

    fn = math_metric(
        gold_extraction_target=(LatexExtractionConfig(),),
        pred_extraction_target=(ExprExtractionConfig(), LatexExtractionConfig()),
    )
    try:
        score, _ = fn([gold_boxed], [output])
    except Exception:
        return 0.0
    return float(score)


def _worker_score(fn: Any, text: str, gold: Any, timeout_s: int) -> float:  # runs in the worker's main thread
    try:
        return fn(text, gold, timeout_s)
    except BaseException:  # math-verify's TimeoutException derives from BaseException
        return 0.0


def _score_in_worker(fn: Any, tail: str, gold: Any, timeout_s: int) -> float:
    global _pool

    for _attempt in range(2):  # a pool killed for ANOTHER call's overrun breaks this future too: retry once
        with _pool_lock:
            if _pool is None:
                _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
                atexit.register(_pool.shutdown, wait=False, cancel_futures=True)  # before module teardown
            pool = _pool
        try:
            future = pool.submit(_worker_score, fn, tail, gold, timeout_s)
            return float(future.result(timeout=3 * timeout_s + 5))
        except FutureTimeout:
            with _pool_lock:
                if _pool is pool:
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.kill()
                    pool.shutdown(wait=False, cancel_futures=True)
                    _pool = None
            return 0.0
        except (BrokenProcessPool, RuntimeError):  # RuntimeError: submit after the pool was shut down
            with _pool_lock:
                if _pool is pool:
                    _pool = None
            continue
        except Exception:
            return 0.0
    return 0.0


def _bounded(fn: Any, text: str, gold: Any, timeout_s: int) -> float:
    """fn(text, gold, timeout_s) in the main thread, else in the worker process (see the module docstring)."""
    if threading.current_thread() is threading.main_thread():
        try:
            return fn(text, gold, timeout_s)
        except BaseException as e:  # a TimeoutException escaping math-verify: score 0, keep going
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return 0.0
    return _score_in_worker(fn, text, gold, timeout_s)


def math_verify_score(response: str, gold: Any, timeout_s: int = 5) -> float:
    """The official math_verify_from_sky on the last 500 characters; `gold` a string or a collection of
    candidates (gold_candidates). UNSCORABLE where the official code raises."""
    return _bounded(_score_main_thread, response[-TAIL_CHARS:], gold_candidates(gold), timeout_s)


def math_metric_score(output: str, gold: str, timeout_s: int = 5) -> float:
    """verl's math_verify.compute_score (the `MATH##` / `aime` routes): gold wrapped in \\boxed{}."""
    return _bounded(_math_metric_main_thread, output, "\\boxed{" + gold + "}", timeout_s)


def reward(response: str, ground_truth: dict[str, Any], profile: Profile = PROFILES["golongrl"]) -> float:
    return math_verify_score(response, ground_truth.get("golden_label"), profile.math_timeout_s)
