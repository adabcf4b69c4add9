"""Decontamination reaches the prompts: a document dedup marked as quoting a benchmark is never used."""

from __future__ import annotations

import json
from pathlib import Path

from golong_data.records import Document, read_records, write_jsonl
from golong_data.synth.stage import SynthConfig, run_synthesize


def test_marked_document_is_ledgered_and_never_in_a_prompt(synth_corpus: Path, tmp_path: Path) -> None:
    docs = list(read_records(synth_corpus / "documents.jsonl", Document))
    books = [d for d in docs if d.kind == "book" and len(d.sections) > 10]
    assert len(books) >= 2, "the fixtures hold two Austen novels"
    marked = books[0]
    quote = marked.text[marked.sections[5].start : marked.sections[5].start + 200]
    marked.quality = {**marked.quality, "contaminated": [[marked.sections[5].start, marked.sections[5].end, "b.jsonl"]]}
    src = tmp_path / "in"
    write_jsonl(src / "documents.jsonl", docs)

    cfg = SynthConfig(per_type=2, buckets=["4k", "8k"], tasks=["precise_retrieval", "sequence_ordering"])
    run_synthesize(src, tmp_path / "out", cfg)

    rejected = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert any(r["source"] == marked.id and r["reason"] == "contaminated_document" for r in rejected)
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert samples, "the other documents still make samples"
    for s in samples:
        assert all(e["doc_id"] != marked.id for e in s["evidence"])
        assert quote not in s["prompt"][0]["content"]
