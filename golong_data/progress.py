"""Progress of long work: a tqdm bar on a terminal, a plain line every ~10 s in a log.

tqdm draws with carriage returns, so in a log file (nohup, CI, `make demo > log`) it is either one unreadable
line or nothing at all (disable=None hides it), and a 7-minute stage looks hung. When stderr is not a terminal
this writes `verify: 120/540 calls, 3.1/s, eta 2m15s` at most every GOLONG_PROGRESS_S seconds (default 10),
and one last line when the work ends if it ran long enough to print any.

    for doc in progress(docs, desc="chunk", unit="doc"): ...
    bar = progress(total=n, desc="verify", unit="call"); bar.update(1); bar.close()
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class LogProgress:
    """The subset of tqdm's interface the stages use, printing plain lines on a timer."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, file: TextIO | None = None,
                 interval_s: float | None = None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit = total, desc.strip(), unit.strip()
        self.n = self._start_n = initial
        self.file = file or sys.stderr
        self.interval_s = interval_s if interval_s is not None else float(os.environ.get("GOLONG_PROGRESS_S", "10"))
        self._t0 = self._last = time.monotonic()
        self._postfix = ""
        self._printed = False
        self._closed = False

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        rate = (self.n - self._start_n) / elapsed
        done = f"{self.n}/{self.total}" if self.total else str(self.n)
        s = f"{self.desc}: {done} {self.unit}, {rate:.1f}/s, {_fmt_s(elapsed)} elapsed"
        if self.total and rate > 0 and self.n < self.total:
            s += f", eta {_fmt_s((self.total - self.n) / rate)}"
        return s + (f" ({self._postfix})" if self._postfix else "")

    def _emit(self) -> None:
        print(self.line(), file=self.file, flush=True)
        self._printed = True
        self._last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= self.interval_s:
            self._emit()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:  # noqa: ARG002 (tqdm's signature)
        self._postfix = s

    def close(self) -> None:
        if not self._closed and self._printed:
            self._emit()
        self._closed = True

    def __iter__(self) -> Iterator[Any]:
        assert self.iterable is not None
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             initial: int = 0, enabled: bool | None = None, **tqdm_kw: Any) -> Any:
    """A tqdm bar when stderr is a terminal (or enabled=True), plain timed lines otherwise; enabled=False: silent."""
    if enabled is False:
        return LogProgress(iterable, total=total, desc=desc, unit=unit, initial=initial, interval_s=float("inf"))
    if enabled or sys.stderr.isatty():
        from tqdm import tqdm  # lazy: tqdm, only for a terminal

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, file=sys.stderr, **tqdm_kw)
    return LogProgress(iterable, total=total, desc=desc, unit=unit, initial=initial)
