"""`golong-data run`: the real stages over real documents; a rerun does no work; a change re-runs only what it
reaches."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from golong_data.errors import ConfigError
from golong_data.pipeline.run import run_pipeline

FIX = Path(__file__).parent / "fixtures"


def _config(tmp: Path, **over: object) -> Path:
    corpus = tmp / "corpus"
    if not corpus.exists():
        corpus.mkdir()
        shutil.copy(FIX / "dialogues" / "chitchat_sample.json", corpus)
        shutil.copy(FIX / "books" / "persuasion.epub", corpus)
    cfg = {
        "work_dir": "work",
        "corpus": ["corpus"],
        "seed": 0,
        "chunk": {"max_tokens": 2048},
        "synthesize": {"per_type": 2, "buckets": ["2k"]},
        "verify": {"checks": ["gold"]},
        "export": {"size": 40, "val_per_type": 0, "plots": False},
    }
    for k, v in over.items():
        cfg[k] = {**cfg.get(k, {}), **v} if isinstance(v, dict) else v  # type: ignore[dict-item]
    p = tmp / "pipeline.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_run_skips_what_is_up_to_date_and_reruns_only_what_a_change_reaches(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    r = run_pipeline(cfg)
    assert r.ran == ["ingest", "chunk", "dedup", "synthesize", "verify", "export"]
    rows = pq.read_table(tmp_path / "work" / "export" / "train.parquet").to_pylist()
    assert rows and (tmp_path / "work" / "export" / "README.md").exists()
    assert str(tmp_path / "work" / "export" / "README.md") in r.line
    first = (tmp_path / "work" / "export" / "train.parquet").read_bytes()
    # every exported row of the real pipeline, answered with its gold after <think>...</think>, earns the reward
    from golong_data.records import iter_jsonl
    from golong_data.rewards import compute_score

    gold = {o["id"]: o["answer"] for o in iter_jsonl(tmp_path / "work" / "verify" / "verified.jsonl")}
    for row in rows:
        ei = row["extra_info"]
        got = compute_score(row["data_source"], "<think>\nchecked\n</think>\n" + gold[ei["sample_id"]],
                            row["reward_model"]["ground_truth"], ei)
        assert got >= (0.8 if ei["task_type"] == "summarization" else 1.0), (ei["task_type"], got)

    # nothing changed: nothing runs
    assert run_pipeline(cfg).ran == []
    # a touched file (new mtime, same bytes) is not a change
    epub = tmp_path / "corpus" / "persuasion.epub"
    os.utime(epub, (1, 1))
    assert run_pipeline(cfg).ran == []

    # an export setting: only export
    cfg = _config(tmp_path, export={"size": 30})
    assert run_pipeline(cfg).ran == ["export"]
    # a verify setting that does not change what verify keeps: verify re-runs, export sees the same input
    cfg = _config(tmp_path, export={"size": 30}, verify={"k": 4})
    assert run_pipeline(cfg).ran == ["verify"]

    # a new input that ingest rejects: ingest re-runs, its documents are unchanged, so nothing after it does
    (tmp_path / "corpus" / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    assert run_pipeline(cfg).ran == ["ingest"]
    rej = (tmp_path / "work" / "ingest" / "rejected.jsonl").read_text()
    assert "broken.pdf" in rej

    # a changed document: everything downstream of it
    (tmp_path / "corpus" / "broken.pdf").unlink()
    shutil.copy(FIX / "books" / "northangerabbey.epub", tmp_path / "corpus")
    ran = run_pipeline(cfg).ran
    assert ran[:2] == ["ingest", "chunk"]

    # forcing a stage
    assert run_pipeline(cfg, force=["export"]).ran == ["export"]
    # same config as the first run, fresh work dir: byte-identical dataset
    (tmp_path / "corpus" / "northangerabbey.epub").unlink()
    cfg = _config(tmp_path, work_dir="work2")
    run_pipeline(cfg)
    assert (tmp_path / "work2" / "export" / "train.parquet").read_bytes() == first


def test_config_errors_say_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key.*sized"):
        run_pipeline(_config(tmp_path, export={"sized": 3}))
    with pytest.raises(ConfigError, match="verify.k: expected int"):
        run_pipeline(_config(tmp_path, verify={"k": "eight"}))
    with pytest.raises(ConfigError, match="chunk: unknown key.*overlap.*expected one of -- max_tokens"):
        run_pipeline(_config(tmp_path, chunk={"max_tokens": 2048, "overlap": 3}))
    # every section is its stage's config class: types and ranges are checked before any stage runs
    with pytest.raises(ConfigError, match="synthesize.per_type: expected int"):
        run_pipeline(_config(tmp_path, synthesize={"per_type": "four"}))
    with pytest.raises(ConfigError, match="dedup.threshold = 2.0 is outside"):
        run_pipeline(_config(tmp_path, dedup={"threshold": 2.0}))
    with pytest.raises(ConfigError, match="verify: unknown key.*seed"):  # one seed, the top-level one
        run_pipeline(_config(tmp_path, verify={"seed": 3}))
    bad = tmp_path / "nocorpus.yaml"
    bad.write_text("work_dir: w\n")
    with pytest.raises(ConfigError, match="`corpus` is required"):
        run_pipeline(bad)
    with pytest.raises(ConfigError, match="no such stage"):
        run_pipeline(_config(tmp_path), force=["verfy"])


def test_demo_config_is_valid() -> None:
    from golong_data.config import load_config

    cfg = load_config(Path(__file__).parents[1] / "examples" / "demo.yaml")
    assert cfg.verify.checks == ["gold", "shortcut", "nocontext"]
    assert cfg.synthesize.buckets == ["2k", "4k", "8k", "16k"]
    assert cfg.verify.think_gate is False  # SmolLM2 never writes </think>: the gate would zero every reply
    assert all(p.exists() for p in cfg.corpus_paths())


def test_config_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    from golong_data.config import load_config

    (tmp_path / "sub").mkdir()
    cfg_path = _config(tmp_path, synthesize={"taxonomy": "sub/tax.yaml"}, dedup={"against": ["bench.jsonl"]})
    moved = tmp_path / "sub" / "pipeline.yaml"
    moved.write_text(cfg_path.read_text().replace("- corpus", "- ../corpus"))
    cfg = load_config(moved)
    assert cfg.synthesize.taxonomy == str(tmp_path / "sub" / "sub" / "tax.yaml")
    assert cfg.dedup.against == [str(tmp_path / "sub" / "bench.jsonl")]
    assert cfg.section("verify").seed == cfg.seed == 0
