"""Issue 17: every stage obeys one contract, and `golong-data shard STAGE` (the one shard verb) gives the bytes
of the single stage for every shardable stage, on real documents."""

from __future__ import annotations

import ast
import inspect
import shutil
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.pipeline.stages import STAGES, StageResult

FIX = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", list(STAGES))
def test_every_stage_has_run_and_merge_with_the_contract_signature(name: str) -> None:
    stage = STAGES[name]
    run = stage.load().run
    assert list(inspect.signature(run).parameters) == ["inputs", "out_dir", "cfg", "shard"], name
    assert inspect.signature(run).return_annotation in ("StageResult", StageResult)
    assert is_dataclass(stage.config) and all(f.metadata.get("help") for f in fields(stage.config)), name
    if stage.shards:
        merge = stage.load(merge=True).merge
        assert list(inspect.signature(merge).parameters) == ["shard_dirs", "out_dir", "cfg", "inputs"], name
        # a merge module imports its stage, never the other way round (no import circle)
        imported = {n.module for n in ast.walk(ast.parse(inspect.getsource(stage.load())))
                    if isinstance(n, ast.ImportFrom)}
        assert stage.merge_module not in imported, name
    else:
        assert stage.unsharded_why


def _gd(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def _same(a: Path, b: Path, names: tuple[str, ...]) -> None:
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), f"{b / n} differs from {a / n}"


def test_shard_verb_gives_the_single_stages_bytes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in ("dialogues/chitchat_sample.json", "books/persuasion.epub", "papers/coin__coin.pdf"):
        shutil.copy(FIX / f, corpus)
    s, m = tmp_path / "single", tmp_path / "sharded"
    _gd("ingest", str(corpus), "--out", str(s / "ingest"))
    _gd("chunk", "--in", str(s / "ingest"), "--out", str(s / "chunk"), "--max-tokens", "512")
    _gd("dedup", "--in", str(s / "chunk"), "--out", str(s / "dedup"))

    common = ["--shards", "3", "--workers", "2"]
    _gd("shard", "ingest", str(corpus), "--out", str(m / "ingest"), *common)
    _gd("shard", "chunk", str(m / "ingest"), "--out", str(m / "chunk"), "--set", "max_tokens=512", *common)
    out = _gd("shard", "dedup", str(m / "chunk"), "--out", str(m / "dedup"), *common)
    assert "from 3 shards" in out and "ran unsharded" not in out  # signatures over the 3 chunk shards
    _same(s / "ingest", m / "ingest", ("documents.jsonl", "rejected.jsonl"))
    for stage in ("chunk", "dedup"):
        _same(s / stage, m / stage, ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"))

    # shards made elsewhere (here: the ones above), merged by hand
    shards = sorted((m / "chunk.shards").iterdir())
    _gd("shard", "chunk", *map(str, shards), "--merge-only", "--out", str(tmp_path / "merged"))
    _same(s / "chunk", tmp_path / "merged", ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"))

    # dedup by hand: signatures of each chunk shard (`dedup --shard`), then the clustering merge
    sigs = [tmp_path / f"sig{i}" for i in range(3)]
    for i, (c, d) in enumerate(zip(shards, sigs, strict=True)):
        _gd("dedup", "--in", str(c), "--out", str(d), "--shard", f"{i}/3")
    inputs = [a for c in shards for a in ("--shard-inputs", str(c))]
    _gd("shard", "dedup", *map(str, sigs), "--merge-only", "--out", str(tmp_path / "d1"), *inputs)
    _same(s / "dedup", tmp_path / "d1", ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"))

    # dedup with another N than chunk's shards: no matching chunk shards, so it runs unsharded, same bytes
    out = _gd("shard", "dedup", str(m / "chunk"), "--out", str(tmp_path / "d2"), "--shards", "2")
    assert "ran unsharded" in out
    _same(s / "dedup", tmp_path / "d2", ("documents.jsonl", "chunks.jsonl", "rejected.jsonl"))


def test_shard_verb_errors_name_the_fix(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["shard", "export", str(tmp_path), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "not sharded" in res.output and "global" in res.output
    res = CliRunner().invoke(app, ["shard", "chunk", str(tmp_path), "--out", str(tmp_path / "x"), "--set", "overlap=3"])
    assert res.exit_code != 0 and "unknown key" in res.output and "max_tokens" in res.output
    res = CliRunner().invoke(app, ["shard", "chnk", str(tmp_path), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "expected one of: ingest, chunk" in res.output
