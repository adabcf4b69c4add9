"""scripts/gpu_check.py runs end to end on CPU with tiny settings (a slow soak: `make test-long`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the [train] extra is not installed (pip install -e '.[train]')")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_script_runs_on_cpu(tmp_path: Path) -> None:
    cmd = [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--device", "cpu", "--steps", "2",
           "--pretrain-steps", "2", "--samples", "24", "--hidden", "32", "--layers", "1", "--num-generations", "2",
           "--prompts-per-step", "2", "--max-completion", "8", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert set(report["results"]) == {"grpo", "tmn-reweight"}
    for r in report["results"].values():
        assert r["steps"] == 2 and len(r["reward_curve"]) == 2
        assert r["task_reward_curves"]
    assert "tmn_overhead_ms_per_step" in report
    assert (tmp_path / "gpu_check.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
