"""Deterministic crash points for the kill -9 tests: pause the process at the n-th event of a scope.

A test that kills a run after a guessed delay is flaky: on a loaded machine the stage may finish first.
Instead the test sets

    GOLONG_PAUSE_AT=<scope>:<n>        e.g. synthesize:17 (the 17th record a stage writes) or llm:3
    GOLONG_PAUSE_FILE=<path>           written when the point is reached; the process then sleeps

and kills the paused process group with SIGKILL once the file appears, so every planned kill is a kill made.
Events are counted per process: a stage's record and ledger writes (scope = the stage's name) and each LLM
response stored in the cache (scope "llm"). With GOLONG_EVENT_TALLY=<path>, a process writes its
{scope: count} at exit, which is how a test learns the range of n to plan over.

Unset (always, outside tests), `hit` costs one comparison.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections import Counter

_PAUSE_AT = os.environ.get("GOLONG_PAUSE_AT") or None
_TALLY_PATH = os.environ.get("GOLONG_EVENT_TALLY") or None
ENABLED = _PAUSE_AT is not None or _TALLY_PATH is not None
_counts: Counter[str] = Counter()


def _parse(spec: str) -> tuple[str, int]:
    scope, _, n = spec.rpartition(":")
    return scope, int(n)


def _write_tally() -> None:
    assert _TALLY_PATH is not None
    tmp = f"{_TALLY_PATH}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dict(sorted(_counts.items())), f)
    os.replace(tmp, _TALLY_PATH)


if _TALLY_PATH is not None:
    atexit.register(_write_tally)


def hit(scope: str) -> None:
    """Count one event of `scope`; at the planned one, announce it and wait to be killed."""
    if not ENABLED:
        return
    _counts[scope] += 1
    if _PAUSE_AT is None or (scope, _counts[scope]) != _parse(_PAUSE_AT):
        return
    path = os.environ.get("GOLONG_PAUSE_FILE")
    if path:
        with open(f"{path}.tmp", "w", encoding="utf-8") as f:
            f.write(f"{scope}:{_counts[scope]} pid={os.getpid()}\n")
        os.replace(f"{path}.tmp", path)
    while True:  # the test's SIGKILL ends this; nothing after this point may run
        time.sleep(3600)
