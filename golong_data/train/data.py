"""Training rows from the export stage's train.parquet or the synthesize/verify stages' JSONL.

Both backends see the same flat row: prompt (chat list), data_source, reward_mode (the reward route),
ground_truth (JSON text: the Arrow tables TRL builds cannot hold ragged dicts), task (the TMN task key),
task_type, sample_id, answer (the gold answer when the source has it; empty for parquet rows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.records import Sample, read_records

# The TMN task key is the route's *metric group*, as in the official trainer, which maps each LongBench-Pro
# sub-task to the metric it is scored with (Train/verl/verl/trainer/ppo/metric_utils.py, TASK_METRIC_CONFIG)
# and uses the reward_mode itself otherwise. These are the sub-tasks our nine task types route to.
LONGBENCH_PRO_METRIC = {
    "T1.1 Global Cohesive Retrieval": "NDCG",
    "T2.1 Global Timeline Reconstruction": "Pairwise_Accuracy",
    "T4.1 Global-Coverage Constrained Summary": "Summary",
    "T6.2 Targeted Subset Cluster Identification": "F1_Score",
    "T8.2 Single-Source Targeted Aggregation": "SubEM",
}

COLUMNS = ("prompt", "data_source", "reward_mode", "ground_truth", "task", "task_type", "sample_id", "answer")


def task_key(data_source: str, reward_mode: str) -> str:
    """The task a response is normalised with under TMN: the metric group of its reward route."""
    return LONGBENCH_PRO_METRIC.get(reward_mode, reward_mode)


def _row(prompt: Any, data_source: str, reward_mode: str, ground_truth: Any, task_type: str, sample_id: str,
         answer: str = "") -> dict[str, Any]:
    if not isinstance(prompt, list) or not prompt or not all(isinstance(m, dict) for m in prompt):
        raise GolongError(f"sample {sample_id}: prompt is not a chat list", "re-export the data with this version")
    return {
        "prompt": [{"role": str(m["role"]), "content": str(m["content"])} for m in prompt],
        "data_source": data_source,
        "reward_mode": reward_mode,
        "ground_truth": json.dumps(ground_truth, ensure_ascii=False, sort_keys=True),
        "task": task_key(data_source, reward_mode),
        "task_type": task_type,
        "sample_id": sample_id,
        "answer": answer,
    }


def _from_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq  # lazy: pyarrow, only for parquet data

    rows = []
    for i, r in enumerate(pq.read_table(path).to_pylist()):
        extra = r.get("extra_info") or {}
        gt = (r.get("reward_model") or {}).get("ground_truth")
        if gt is None or "data_source" not in r or "reward_mode" not in extra:
            raise GolongError(f"{path}: row {i} lacks data_source, extra_info.reward_mode or reward_model.ground_truth",
                              "this is not the export stage's verl schema; run `golong-data export`")
        prompt = r["prompt"]
        if isinstance(prompt, str):  # some writers store the chat list as JSON text
            prompt = json.loads(prompt)
        rows.append(_row(prompt, r["data_source"], extra["reward_mode"], gt, extra.get("task_type", ""),
                         str(extra.get("sample_id", extra.get("index", i)))))
    return rows


def sample_row(s: Any) -> dict[str, Any]:
    """The training row of one Sample record."""
    return _row(s.prompt, s.route["data_source"], s.route["reward_mode"], s.ground_truth, s.task_type, s.id, s.answer)


def _from_jsonl(path: Path) -> list[dict[str, Any]]:
    return [sample_row(s) for s in read_records(path, Sample)]


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows for training from a file or a stage directory; an error names the fix when nothing usable is there."""
    path = Path(path)
    if path.is_dir():
        for name in ("train.parquet", "verified.jsonl", "samples.jsonl"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise GolongError(f"{path} holds no train.parquet, verified.jsonl or samples.jsonl",
                              "point --data at the export, verify or synthesize stage's output")
    if not path.exists():
        raise GolongError(f"{path} not found", "run `golong-data export` (or synthesize) first")
    rows = _from_parquet(path) if path.suffix == ".parquet" else _from_jsonl(path)
    if not rows:
        raise GolongError(f"{path} holds no samples", "check the synthesize stage's rejected.jsonl")
    return rows


def prompt_ids(tokenizer: Any, prompt: list[dict[str, str]]) -> list[int]:
    """Token ids of a chat prompt as the model sees it (template + generation prompt)."""
    text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
