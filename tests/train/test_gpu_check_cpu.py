"""scripts/gpu_check.py runs end to end on CPU at tiny settings, on the real SmolLM2 (a slow soak: `make test-long`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the [train] extra is not installed (pip install -e '.[train]')")
pytest.importorskip("gguf", reason="the [train] extra's gguf package is not installed")

from golong_data.llm.local_server import GGUF_NAME
from golong_data.paths import home as golong_home  # noqa: E402
from golong_data.records import write_jsonl  # noqa: E402
from golong_data.train.toy import make_samples  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(not (golong_home() / "models" / GGUF_NAME).is_file(), reason="SmolLM2 GGUF not cached "
                    "(run `make local-llm`)")
def test_gpu_check_script_runs_on_cpu(tmp_path: Path) -> None:
    data = tmp_path / "samples.jsonl"
    write_jsonl(data, make_samples(12, seed=1, n_rows=4))  # short prompts: the CPU only proves the wiring
    out = tmp_path / "out"
    cmd = [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--device", "cpu", "--data", str(data),
           "--out", str(out), "--work", str(tmp_path / "work"), "--steps", "1", "--max-completion", "4",
           "--num-generations", "2", "--prompts-per-step", "1", "--speed-prompts", "1", "--eval-split", "0.2",
           "--eval-steps", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["model"] == "smollm2-135m" and 130 < report["model_params_millions"] < 140
    assert report["n_held_out"] == 6 and report["n_train"] == 6  # one held out per type, six types
    speed = report["speed"]
    for k in ("trl_default_padded", "bucketed", "paged", "paged_4x_prompts"):
        assert speed[k]["tokens"] > 0 and speed[k]["tokens_per_second"] > 0
    assert set(speed["speedup_vs_trl_default"]) == {"bucketed", "paged", "paged_4x_prompts"}
    assert set(report["results"]) == {"grpo", "tmn-reweight"}
    for res in report["results"].values():
        assert res["steps"] == 1 and list(res["eval_curve"]) == ["0", "1"]
        assert set(res["held_out_after"]) == {"mean", *report["held_out_types"]}
    assert set(report["done_when"]) == {"grpo", "tmn-reweight"} and "tmn_overhead_ms_per_step" in report
    for name in ("gpu_check.png", "gpu_check_grpo.png", "gpu_check_tmn-reweight.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| task type | base | grpo | tmn-reweight |" in r.stdout
