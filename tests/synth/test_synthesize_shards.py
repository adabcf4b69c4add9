"""`synthesize --shard i/N` x N, merged, equals one run byte for byte -- program and LLM constructors.

The cases that only a cross-shard selection gets right are made to happen and asserted in the single run
first (so the comparison is not between two empty files): a document marked contaminated, constructors that
fail for the document alone, an exact repeat of a templated question on one document, and for LLM
constructors more grounded questions than the quota (quota_full) and near-duplicate questions.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.config import EndpointConfig
from golong_data.errors import GolongError
from golong_data.records import Document, read_records, write_jsonl
from golong_data.synth.merge import merge_synthesize
from golong_data.synth.stage import SynthConfig, run_synthesize

sys.path.insert(0, str(Path(__file__).parent))
from test_llm_constructors import scripted_reply  # noqa: E402

N = 4
FILES = ("samples.jsonl", "rejected.jsonl")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _sharded(src: Path, work: Path, cfg: dict) -> list[Path]:
    dirs = []
    for i in range(N):
        d = work / f"shard{i}"
        run_synthesize(src, d, SynthConfig(**cfg, shard=f"{i}/{N}"))
        dirs.append(d)
    return dirs


def _assert_same(single: Path, merged: Path) -> None:
    for name in FILES:
        assert (merged / name).read_bytes() == (single / name).read_bytes(), f"{name} differs"


@pytest.fixture(scope="module")
def marked_corpus(synth_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture corpus with one book marked as quoting a benchmark (dedup's contamination mark)."""
    docs = list(read_records(synth_corpus / "documents.jsonl", Document))
    book = next(d for d in docs if d.kind == "book" and len(d.sections) > 10)
    book.quality = {**book.quality, "contaminated": [[book.sections[5].start, book.sections[5].end, "b.jsonl"]]}
    src = tmp_path_factory.mktemp("marked")
    write_jsonl(src / "documents.jsonl", docs)
    return src


def test_program_shards_merge_to_the_single_run(marked_corpus: Path, tmp_path: Path) -> None:
    cfg = {"per_type": 5, "buckets": ["4k", "8k"], "tasks": ["precise_retrieval", "sequence_ordering",
                                                            "summarization", "comprehension", "graded_ranking"]}
    single = tmp_path / "single"
    run_synthesize(marked_corpus, single, SynthConfig(**cfg))
    samples, rejected = _lines(single / "samples.jsonl"), _lines(single / "rejected.jsonl")
    reasons = Counter(r["reason"] for r in rejected)
    assert len(samples) >= 20 and reasons["contaminated_document"] == 1, reasons
    # summarization's constructor gives the same question for a paper whatever the draw: repeats are ledgered
    assert reasons["duplicate_question"] >= 1, reasons

    dirs = _sharded(marked_corpus, tmp_path, cfg)
    slots = [{(s["task_type"], s["bucket"], s["meta"]["slot"]) for s in _lines(d / "samples.jsonl")} for d in dirs]
    assert all(slots) and not set.intersection(*slots), "each shard made some, and different, slots"
    # the shards wrote raw attempts: together they hold lines the merge must remove or turn away
    raw = sum(len(_lines(d / "samples.jsonl")) + len(_lines(d / "rejected.jsonl")) for d in dirs)
    assert raw > len(samples) + len(rejected)

    out = tmp_path / "merged"
    merge_synthesize(dirs, out)
    _assert_same(single, out)
    # argument order does not matter, and the CLI does the same
    res = CliRunner().invoke(app, ["merge", "synthesize", *map(str, reversed(dirs)), "--out", str(tmp_path / "cli")])
    assert res.exit_code == 0, res.output
    _assert_same(single, tmp_path / "cli")


def test_llm_shards_merge_to_the_single_run(synth_corpus: Path, tmp_path: Path) -> None:
    from fake_openai_server import FakeOpenAIServer

    def mostly_grounded(body: dict) -> str:
        """scripted_reply, but with the source's own sentence as the quote: most attempts are kept, so there
        are more good questions than the quota and the quota cut crosses shards."""
        reply = scripted_reply(body)
        if not reply.startswith("{"):
            return reply
        obj = json.loads(reply)
        source = body["messages"][0]["content"].split('"""\n', 1)[1]
        obj["evidence_quotes"] = [obj["question"].split("'")[1]] if obj["question"].split("'")[1] in source else []
        return json.dumps(obj)

    srv = FakeOpenAIServer(reply=mostly_grounded).start()
    try:
        cfg = {"per_type": 3, "buckets": ["4k"], "tasks": ["precise_retrieval"], "llm": True,
               "endpoint": EndpointConfig(base_url=srv.base_url, model="scripted")}
        single = tmp_path / "single"
        run_synthesize(synth_corpus, single, SynthConfig(**cfg))
        dirs = _sharded(synth_corpus, tmp_path, cfg)
    finally:
        srv.stop()
    reasons = Counter(r["reason"] for r in _lines(single / "rejected.jsonl"))
    assert len(_lines(single / "samples.jsonl")) == 3, reasons
    assert reasons["quota_full"] + reasons["near_duplicate_question"] >= 1, reasons
    merge_synthesize(dirs, tmp_path / "merged")
    _assert_same(single, tmp_path / "merged")


def test_merge_refuses_a_missing_shard(synth_corpus: Path, tmp_path: Path) -> None:
    cfg = {"per_type": 2, "buckets": ["4k"], "tasks": ["precise_retrieval"]}
    dirs = _sharded(synth_corpus, tmp_path, cfg)
    with pytest.raises(GolongError, match="not 0/N .. N-1/N"):
        merge_synthesize(dirs[:3], tmp_path / "merged")
