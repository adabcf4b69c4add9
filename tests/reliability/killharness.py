"""SIGKILL `golong-data run` at seeded points inside chosen stages, then rerun it to completion.

    h = KillHarness(root, config, env)
    h.kill_in("synthesize", delay_s=0.7)   # start a run, wait for the stage to start, sleep, kill -9 the group
    h.finish()                             # rerun until it exits 0

A kill point is (stage, delay after that stage's "run: <stage> running" line). The whole process group is
killed (the run and any workers it forked), as a power cut or the OOM killer would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import gd_cmd

STAGE_LINE = re.compile(r"^run: (\w+)\s+running")
DONE_LINE = re.compile(r"\[(\d+(?:\.\d+)?)s\]\s*$")


@dataclass
class KillResult:
    stage: str
    delay_s: float
    killed: bool  # False when the run finished (or skipped past the stage) before the kill point
    reached: bool  # the stage started in this attempt
    stderr_tail: str = ""


@dataclass
class KillHarness:
    root: Path
    config: Path
    env: dict[str, str]
    results: list[KillResult] = field(default_factory=list)

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*gd_cmd(), "run", str(self.config)], cwd=self.root, env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def kill_in(self, stage: str, delay_s: float, timeout_s: float = 300) -> KillResult:
        proc = self._spawn()
        started = threading.Event()
        lines: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            buf = b""
            while True:
                chunk = proc.stderr.read1(4096) if hasattr(proc.stderr, "read1") else proc.stderr.read(1)
                if not chunk:
                    break
                buf += chunk
                *complete, buf = re.split(rb"[\r\n]", buf)
                for raw in complete:
                    line = raw.decode("utf-8", "replace")
                    lines.append(line)
                    m = STAGE_LINE.match(line)
                    if m and m.group(1) == stage:
                        started.set()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        deadline = time.monotonic() + timeout_s
        while not started.is_set() and proc.poll() is None and time.monotonic() < deadline:
            started.wait(0.02)
        killed = False
        if started.is_set():
            end = time.monotonic() + delay_s
            while proc.poll() is None and time.monotonic() < end:
                time.sleep(0.005)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
        elif proc.poll() is None:  # never reached the stage in time: a hang, which is itself a failure
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            t.join(5)
            raise AssertionError(f"run never reached stage {stage} within {timeout_s}s:\n" + "\n".join(lines[-30:]))
        proc.wait()
        t.join(5)
        res = KillResult(stage, delay_s, killed, started.is_set(), "\n".join(lines[-15:]))
        self.results.append(res)
        return res

    def finish(self, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*gd_cmd(), "run", str(self.config)], cwd=self.root, env=self.env, capture_output=True,
                           text=True, timeout=timeout_s)
        assert r.returncode == 0, r.stderr[-3000:]
        return r


def stage_durations(stderr: str) -> dict[str, float]:
    """Seconds each stage took in a run, from `run:` lines and the `[N.Ns]` that ends each stage's line."""
    out: dict[str, float] = {}
    current = None
    for line in re.split(r"[\r\n]", stderr):
        m = STAGE_LINE.match(line)
        if m:
            current = m.group(1)
            continue
        d = DONE_LINE.search(line)
        if d and current:
            out[current] = float(d.group(1))
            current = None
    return out


def leftover_temp_files(work: Path) -> list[Path]:
    return sorted(p for p in work.rglob("*") if p.name.endswith(".tmp"))
