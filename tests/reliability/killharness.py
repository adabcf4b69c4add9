"""SIGKILL `golong-data run` at seeded *events* inside chosen stages, then rerun it to completion.

    tally = event_tally(root, config, env)   # {scope: events} of an uninterrupted run
    h = KillHarness(root, config, env)
    h.kill_at("synthesize", 17)   # run until the 17th record synthesize writes, then kill -9 the group
    h.finish()                    # rerun until it exits 0

A kill point is an event, not a delay (golong_data/crashpoints.py): the run pauses there and announces it in a
file, and the harness kills the whole process group (the run and any workers it forked), as a power cut or the
OOM killer would. However loaded the machine, every planned kill is made: a run that exits before its point is
a failure the caller sees (KillResult.killed is False).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import gd_cmd


@dataclass
class KillResult:
    scope: str
    event: int
    killed: bool  # False when the run finished before reaching the event
    stderr_tail: str = ""


def event_tally(root: Path, config: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict]:
    """Run once to the end and return (the completed run, {scope: events it counted})."""
    tally = root / f".tally-{config.stem}.json"
    r = subprocess.run([*gd_cmd(), "run", str(config)], cwd=root, env={**env, "GOLONG_EVENT_TALLY": str(tally)},
                       capture_output=True, text=True, timeout=600)
    return r, (json.loads(tally.read_text()) if tally.exists() else {})


@dataclass
class KillHarness:
    root: Path
    config: Path
    env: dict[str, str]
    results: list[KillResult] = field(default_factory=list)

    def kill_at(self, scope: str, event: int, timeout_s: float = 600) -> KillResult:
        marker = self.root / f".paused-{len(self.results)}"
        marker.unlink(missing_ok=True)
        env = {**self.env, "GOLONG_PAUSE_AT": f"{scope}:{event}", "GOLONG_PAUSE_FILE": str(marker)}
        log = self.root / f".kill-{len(self.results)}.stderr"
        with open(log, "wb") as err:
            proc = subprocess.Popen([*gd_cmd(), "run", str(self.config)], cwd=self.root, env=env,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            deadline = time.monotonic() + timeout_s
            while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            killed = marker.exists()
            if proc.poll() is None:  # paused at the point (or hung past the timeout): kill -9 the whole group
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        if not killed and proc.returncode == -signal.SIGKILL:
            raise AssertionError(f"run neither reached {scope}:{event} nor ended within {timeout_s}s:\n{tail}")
        res = KillResult(scope, event, killed, tail)
        self.results.append(res)
        return res

    def finish(self, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([*gd_cmd(), "run", str(self.config)], cwd=self.root, env=self.env, capture_output=True,
                           text=True, timeout=timeout_s)
        assert r.returncode == 0, r.stderr[-3000:]
        return r


def leftover_temp_files(work: Path) -> list[Path]:
    return sorted(p for p in work.rglob("*") if p.name.endswith(".tmp"))
