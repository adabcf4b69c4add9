"""`golong-data run` with a `shards:` section: every stage as shard tasks on the local process pool, merged,
gives the same bytes as the unsharded run -- through verify's LLM checks and export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from golong_data.pipeline.run import run_pipeline

FIX = Path(__file__).parents[1] / "fixtures"
COMPARED = {
    "ingest": ("documents.jsonl", "rejected.jsonl"),
    "chunk": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
    "dedup": ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"),
    "synthesize": ("samples.jsonl", "rejected.jsonl"),
    "verify": ("verified.jsonl", "rejected.jsonl"),
    "export": ("train.jsonl", "val.jsonl", "train.parquet", "val.parquet"),
}


def _config(tmp: Path, name: str, base_url: str, **extra: Any) -> Path:
    corpus = tmp / "corpus"
    if not corpus.exists():
        corpus.mkdir()
        shutil.copy(FIX / "dialogues" / "chitchat_sample.json", corpus)
        shutil.copy(FIX / "books" / "persuasion.epub", corpus)
        shutil.copy(FIX / "papers" / "coin__coin.pdf", corpus)
    cfg = {
        "work_dir": name,
        "corpus": ["corpus"],
        "seed": 0,
        "chunk": {"max_tokens": 2048},
        "synthesize": {"per_type": 3, "buckets": ["2k", "4k"]},
        "llm": {"base_url": base_url, "cache_path": f"{name}-llm.sqlite"},
        "verify": {"checks": ["gold", "nocontext"], "solver": "fake", "k": 2},
        "export": {"size": 60, "val_per_type": 1, "plots": False},
        **extra,
    }
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_sharded_run_equals_the_single_run(tmp_path: Path, fake_server: Any) -> None:
    srv = fake_server()
    single = run_pipeline(_config(tmp_path, "single", srv.base_url))
    sharded = run_pipeline(_config(tmp_path, "sharded", srv.base_url,
                                   shards={"n": 3, "executor": "local", "workers": 2}))
    assert single.ran == sharded.ran == list(COMPARED)
    for stage, names in COMPARED.items():
        for name in names:
            a, b = tmp_path / "single" / stage / name, tmp_path / "sharded" / stage / name
            assert a.read_bytes() == b.read_bytes(), f"{stage}/{name} differs"
    # the work really was split, and the LLM checks really ran inside the shard tasks
    for stage in ("ingest", "chunk", "synthesize", "verify"):
        shards = sorted((tmp_path / "sharded" / f"{stage}.shards").iterdir())
        assert [p.name for p in shards] == ["0", "1", "2"], stage
    requests = [json.loads((tmp_path / "sharded" / "verify.shards" / str(i) / "manifest.json").read_text())
                ["counts"].get("llm_requests", 0) for i in range(3)]
    assert all(n > 0 for n in requests), requests
    verified = (tmp_path / "single" / "verify" / "verified.jsonl").read_text().splitlines()
    assert len(verified) >= 10
    # a rerun of the sharded config does nothing
    assert run_pipeline(_config(tmp_path, "sharded", srv.base_url,
                                shards={"n": 3, "executor": "local", "workers": 2})).ran == []
