"""Long stages show progress in logs: with stderr not a terminal, plain timed lines instead of a tqdm bar."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from golong_data.progress import LogProgress

FIX = Path(__file__).parent / "fixtures"


def test_log_lines_carry_done_total_rate_and_eta() -> None:
    out = io.StringIO()
    bar = LogProgress(total=4, desc="verify", unit="call", file=out, interval_s=0.0)
    for _ in range(3):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("verify: 1/4 call, ") and "/s" in lines[0] and "eta" in lines[0]
    assert lines[-1].startswith("verify: 3/4 call")
    assert "\r" not in out.getvalue()


def test_a_quiet_bar_prints_nothing_until_its_interval() -> None:
    out = io.StringIO()
    bar = LogProgress(range(1000), desc="x", file=out, interval_s=3600)
    assert sum(bar) == sum(range(1000))
    assert out.getvalue() == ""  # short work: no line at all, not even at the end


def test_ingest_writes_progress_lines_into_a_log(tmp_path: Path) -> None:
    env = {**os.environ, "GOLONG_PROGRESS_S": "0"}
    r = subprocess.run([sys.executable, "-m", "golong_data.cli", "ingest", str(FIX / "books"), "--out",
                        str(tmp_path / "ingest"), "--workers", "1"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("ingest: ")]
    assert any(re.match(r"ingest: \d+/\d+ file, [\d.]+/s", ln) for ln in lines), r.stderr
    assert "\r" not in r.stderr
