"""The ingest stage end to end: mixed good and bad inputs, the ledger, exit codes, reruns, shards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pymupdf
import pytest
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.ingest.stage import run_ingest
from golong_data.records import Document, Rejection, read_records

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The real fixtures plus the hostile files a real corpus contains."""
    c = tmp_path / "in"
    shutil.copytree(FIXTURES / "papers", c / "papers")
    shutil.copytree(FIXTURES / "books", c / "books")
    shutil.copytree(FIXTURES / "dialogues", c / "dialogues")
    rcpp = (FIXTURES / "papers" / "Rcpp__Rcpp-introduction.pdf").read_bytes()
    (c / "bad").mkdir()
    (c / "bad" / "truncated.pdf").write_bytes(rcpp[: len(rcpp) // 2])
    pymupdf.open(stream=rcpp, filetype="pdf").save(
        c / "bad" / "encrypted.pdf", encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o"
    )
    (c / "bad" / "notes.xlsx").write_bytes(b"PK\x03\x04 not really")
    (c / "bad" / "copy.pdf").write_bytes(rcpp)  # the same paper twice
    (c / ".hidden.txt").write_text("ignored", encoding="utf-8")
    return c


def test_every_input_is_a_document_or_a_ledger_entry(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run_ingest([corpus], out)
    docs = list(read_records(out / "documents.jsonl", Document))
    rejected = list(read_records(out / "rejected.jsonl", Rejection))
    reasons = {Path(r.source.split("#")[0]).name: r.reason for r in rejected if r.reason != "duplicate_document"}
    assert reasons == {
        "truncated.pdf": "pdf_truncated",
        "encrypted.pdf": "pdf_encrypted",
        "notes.xlsx": "unsupported_format",
        "lme4__PLSvGLS.pdf": "pdf_glyph_garbage",
        "lme4__Theory.pdf": "pdf_garbage_page",  # pages 8 and 19: over 2 % unreadable characters
    }
    dups = [r for r in rejected if r.reason == "duplicate_document"]
    # bad/copy.pdf sorts first, so the Rcpp paper under papers/ is the repeat; and the chitchat sample
    # holds 4 more copies of a one-line "hello?" chat
    assert len(dups) == 5 and any(r.source.endswith("Rcpp__Rcpp-introduction.pdf") for r in dups)
    chats = json.loads((FIXTURES / "dialogues" / "chitchat_sample.json").read_text(encoding="utf-8"))
    n_inputs = 7 + 3 + len(chats)  # good papers (8 less the soup one) + books + conversations
    assert len(docs) == n_inputs - 4 == summary.ingested
    assert summary.rejected == len(rejected) == 11
    assert summary.line.startswith(f"ingest: ingested {len(docs)}, rejected 11 (")
    assert len({d.id for d in docs}) == len(docs)
    for d in docs:
        for s in d.sections:
            assert 0 <= s.start <= s.end <= len(d.text)
        assert d.n_tokens > 0 and d.source["sha256"] and d.lang
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["documents.jsonl"] == len(docs)


def test_rerun_is_byte_identical_and_cli_exit_codes(corpus: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    a, b = tmp_path / "a", tmp_path / "b"
    r1 = runner.invoke(app, ["ingest", str(corpus), "--out", str(a)])
    assert r1.exit_code == 0, r1.output  # rejections are handled inputs, not failures
    r2 = runner.invoke(app, ["ingest", str(corpus), "--out", str(b)])
    assert r2.exit_code == 0
    for name in ("documents.jsonl", "rejected.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    strict = runner.invoke(app, ["ingest", str(corpus), "--out", str(tmp_path / "c"), "--strict"])
    assert strict.exit_code == 1
    missing = runner.invoke(app, ["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "d")])
    assert missing.exit_code == 2 and "nope" in missing.output


def test_shards_partition_the_inputs(tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", [tmp_path / "s0", tmp_path / "s1"]
    run_ingest([FIXTURES / "papers", FIXTURES / "books"], whole)
    for i, p in enumerate(parts):
        run_ingest([FIXTURES / "papers", FIXTURES / "books"], p, shard=f"{i}/2")
    ids = [[d.id for d in read_records(p / "documents.jsonl", Document)] for p in parts]
    assert ids[0] and ids[1] and not set(ids[0]) & set(ids[1])
    assert set(ids[0]) | set(ids[1]) == {d.id for d in read_records(whole / "documents.jsonl", Document)}


def test_parallel_workers_give_the_same_bytes(corpus: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "w1", tmp_path / "w2"
    s1 = run_ingest([corpus], one, workers=1)
    s2 = run_ingest([corpus], two, workers=2)
    assert s1.line.replace(str(one), "") == s2.line.replace(str(two), "")
    for name in ("documents.jsonl", "rejected.jsonl"):
        assert (one / name).read_bytes() == (two / name).read_bytes()
