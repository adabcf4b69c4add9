"""Rows in the schema the authors' verl trainer reads: a sample, or an imported official-schema row, as one row."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from golong_data.records import Sample

IMPORT_BUCKET = "imported"


def parquet_schema() -> Any:
    """The verl / GoLongRL row schema, fixed so reruns write the same bytes."""
    import pyarrow as pa  # lazy: pyarrow only for the parquet schema (rows are imported by verl_emit too)

    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            (
                "reward_model",
                pa.struct(
                    [
                        ("style", pa.string()),
                        (
                            "ground_truth",
                            pa.struct(
                                [
                                    ("doc_ids", pa.list_(pa.string())),
                                    ("golden_label", pa.string()),
                                    ("summary", pa.string()),
                                ]
                            ),
                        ),
                    ]
                ),
            ),
            (
                "extra_info",
                pa.struct(
                    [
                        ("reward_mode", pa.string()),
                        ("question", pa.string()),
                        ("index", pa.int64()),
                        ("task_type", pa.string()),
                        ("sample_id", pa.string()),
                        ("bucket", pa.string()),
                        ("n_tokens", pa.int64()),
                        ("pass_rate", pa.float64()),
                        ("origin", pa.string()),
                    ]
                ),
            ),
        ]
    )


def sample_to_row(s: Sample, index: int, band_rate: float | None, origin: str = "synthetic") -> dict[str, Any]:
    """A Sample as a verl row: the keys the official GoLongRL reward router and `golong-data train` read."""
    gt = s.ground_truth or {}
    return {
        "data_source": s.route["data_source"],
        "prompt": [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in s.prompt],
        "ability": "/".join(s.capability) or s.task_type,
        "reward_model": {
            "style": "rule",
            "ground_truth": {
                "doc_ids": [str(d) for d in gt.get("doc_ids", []) or []],
                "golden_label": str(gt.get("golden_label", "")),
                "summary": str(gt.get("summary", "") or ""),
            },
        },
        "extra_info": {
            "reward_mode": s.route["reward_mode"],
            "question": str((s.meta or {}).get("question", "")),
            "index": index,
            "task_type": s.task_type,
            "sample_id": s.id,
            "bucket": s.bucket,
            "n_tokens": int(s.n_tokens),
            "pass_rate": band_rate,
            "origin": origin,
        },
    }


def normalize_import_row(row: dict[str, Any], task_type: str, index: int, origin: str) -> dict[str, Any]:
    """An official-schema row re-keyed onto our fixed schema (extra keys dropped, missing ones empty)."""
    gt = (row.get("reward_model") or {}).get("ground_truth") or {}
    if isinstance(gt, str):  # some releases store ground_truth as a JSON string
        try:
            gt = json.loads(gt)
        except json.JSONDecodeError:
            gt = {"golden_label": gt}
    if not isinstance(gt, dict):
        gt = {"golden_label": str(gt)}
    label = gt.get("golden_label", "")
    if isinstance(label, list):
        label = json.dumps(label, ensure_ascii=False)
    ei = row.get("extra_info") or {}
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        prompt = [{"role": "user", "content": prompt}]
    return {
        "data_source": str(row.get("data_source", "")),
        "prompt": [{"role": str(m.get("role", "user")), "content": str(m.get("content", ""))} for m in prompt or []],
        "ability": str(row.get("ability") or task_type),
        "reward_model": {
            "style": "rule",
            "ground_truth": {
                "doc_ids": [str(d) for d in gt.get("doc_ids", []) or []],
                "golden_label": str(label),
                "summary": str(gt.get("summary", "") or ""),
            },
        },
        "extra_info": {
            "reward_mode": str(ei.get("reward_mode", "")),
            "question": str(ei.get("question", "") or ""),
            "index": index,
            "task_type": task_type,
            "sample_id": import_id(row),
            "bucket": IMPORT_BUCKET,
            "n_tokens": int(ei.get("n_tokens") or approx_tokens(row)),
            "pass_rate": None,
            "origin": origin,
        },
    }


def approx_tokens(row: dict[str, Any]) -> int:
    """Imported rows carry no token count; ~4 characters per token is enough for the card's histogram."""
    prompt = row.get("prompt") or []
    text = prompt if isinstance(prompt, str) else "".join(str(m.get("content", "")) for m in prompt)
    return len(text) // 4


def import_id(row: dict[str, Any]) -> str:
    ei = row.get("extra_info") or {}
    if ei.get("sample_id"):
        return str(ei["sample_id"])
    return "imp-" + hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]
