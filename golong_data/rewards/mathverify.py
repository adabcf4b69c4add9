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
import threading
from typing import Any

from golong_data.rewards.profiles import PROFILES, Profile

TAIL_CHARS = 500  # official: solution_str[-500:]

_pool: Any = None  # concurrent.futures.ProcessPoolExecutor, created (and imported) on first use
_pool_lock = threading.Lock()


def _score_main_thread(tail: str, gold: str, timeout_s: int) -> float:
    from math_verify import parse, verify

    try:
        parsed = parse(tail, parsing_timeout=timeout_s)
    except Exception:
        return 0.0
    if len(parsed) < 2:
        return 0.0
    if parsed[1] in [gold]:  # the official quick string match
        return 1.0
    try:
        if verify(parse("\\boxed{" + gold + "}", parsing_timeout=timeout_s), parsed, timeout_seconds=timeout_s):
            return 1.0
    except Exception:
        pass
    return 0.0


def _worker_score(tail: str, gold: str, timeout_s: int) -> float:  # runs in the worker's main thread
    try:
        return _score_main_thread(tail, gold, timeout_s)
    except BaseException:  # math-verify's TimeoutException derives from BaseException
        return 0.0


def _score_in_worker(tail: str, gold: str, timeout_s: int) -> float:
    global _pool
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    for _attempt in range(2):  # a pool killed for ANOTHER call's overrun breaks this future too: retry once
        with _pool_lock:
            if _pool is None:
                _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
                atexit.register(_pool.shutdown, wait=False, cancel_futures=True)  # before module teardown
            pool = _pool
        try:
            future = pool.submit(_worker_score, tail, gold, timeout_s)
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


def math_verify_score(response: str, gold: str, timeout_s: int = 5) -> float:
    tail = response[-TAIL_CHARS:]
    if threading.current_thread() is threading.main_thread():
        try:
            return _score_main_thread(tail, gold, timeout_s)
        except BaseException as e:  # a TimeoutException escaping math-verify: score 0, keep going
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            return 0.0
    return _score_in_worker(tail, gold, timeout_s)


def reward(response: str, ground_truth: dict[str, Any], profile: Profile = PROFILES["golongrl"]) -> float:
    label = ground_truth.get("golden_label")
    return math_verify_score(response, label, profile.math_timeout_s) if isinstance(label, str) else 0.0
