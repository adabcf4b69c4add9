"""Chunking real documents: exact spans, the token limit, boundaries, sections, Chinese, the stage."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golong_data.chunk import chunk_document
from golong_data.cli import app
from golong_data.errors import ConfigError
from golong_data.records import Chunk, Document, content_id, write_jsonl
from golong_data.tokens import get_tokenizer

DATA = Path(__file__).parent / "data"


def check_exact(doc: Document, chunks: list[Chunk], n: int) -> None:
    """Spans slice back, fit, are trimmed, ordered, disjoint, and leave only whitespace uncovered."""
    tok = get_tokenizer()
    text, pos = doc.text, 0
    for c in chunks:
        piece = text[c.start : c.end]
        assert c.doc_id == doc.id and 0 <= pos <= c.start < c.end <= len(text)
        assert tok.count(piece) == c.n_tokens <= n
        assert piece == piece.strip()
        assert text[pos : c.start].strip() == ""  # nothing but whitespace is left out
        pos = c.end
    assert text[pos:].strip() == ""


@pytest.mark.parametrize("n", [32, 256, 2000])
def test_book_chunks_slice_back_fit_and_never_split_words(persuasion: Document, n: int) -> None:
    chunks = chunk_document(persuasion, get_tokenizer(), n)
    check_exact(persuasion, chunks, n)
    text = persuasion.text
    for c in chunks:  # English: every cut sits on whitespace
        assert c.start == 0 or text[c.start - 1].isspace(), text[c.start - 20 : c.start + 20]
        assert c.end == len(text) or text[c.end].isspace(), text[c.end - 20 : c.end + 20]
    assert len({c.id for c in chunks}) == len(chunks)


@pytest.mark.parametrize("n", [64, 700])
def test_pdf_chunks_slice_back_and_fit(rcpp_paper: Document, n: int) -> None:
    check_exact(rcpp_paper, chunk_document(rcpp_paper, get_tokenizer(), n), n)


def test_cuts_prefer_paragraphs_then_sentences(persuasion: Document) -> None:
    """A chunk ends mid-paragraph only when that paragraph is over N, and then at a sentence end."""
    n, tok, text = 200, get_tokenizer(), persuasion.text
    chunks = chunk_document(persuasion, tok, n)
    mid_paragraph = 0
    for c in chunks:
        if c.end == len(text) or text[c.end : c.end + 2] == "\n\n":
            continue
        mid_paragraph += 1
        para_start = text.rfind("\n\n", 0, c.end) + 2
        para_end = text.find("\n\n", c.end)
        paragraph = text[para_start : para_end if para_end >= 0 else len(text)]
        assert tok.count(paragraph) > n, repr(paragraph[:80])
        head = re.split(r"(?<=[.!?])[\"'”’]*\s+", text[para_start : c.end])[-1]  # this sentence up to the cut
        tail = re.search(r"[.!?][\"'”’]*(?=\s|$)", text[c.end - 3 :])  # ... and on to its end
        assert tail is not None
        sentence = head + text[c.end : c.end - 3 + tail.end()]
        if tok.count(sentence) <= n:  # the sentence fitted, so the cut must be at its end
            assert re.search(r"[.!?][\"'”’)]*$", text[c.start : c.end]), text[c.end - 60 : c.end + 20]
    assert mid_paragraph > 5  # Austen writes paragraphs over 200 tokens: the sentence rule was exercised


def test_chunks_stay_inside_chapters(persuasion: Document) -> None:
    chunks = chunk_document(persuasion, get_tokenizer(), 512)
    for c in chunks:
        assert c.section is not None
        sec = persuasion.sections[c.section]
        assert sec.start <= c.start and c.end <= sec.end
    chapter_starts = [s.start for s in persuasion.sections]
    assert not any(c.start < b < c.end for c in chunks for b in chapter_starts)
    # Every chapter begins a chunk.
    assert {s.start for s in persuasion.sections} <= {c.start for c in chunks}


def test_small_sections_are_packed_and_then_belong_to_none(rcpp_paper: Document) -> None:
    tok = get_tokenizer()
    whole = tok.count(rcpp_paper.text.strip())
    chunks = chunk_document(rcpp_paper, tok, whole + 100)
    check_exact(rcpp_paper, chunks, whole + 100)
    assert len(chunks) == 1 and chunks[0].section is None  # eight pages in one chunk


def test_chinese_chunks_on_sentence_punctuation() -> None:
    raw = (DATA / "fortunes-zh-excerpt.txt").read_text(encoding="utf-8")
    # The purely Chinese paragraphs as one long paragraph (hard-wrapped lines joined: Chinese needs no
    # spaces), so only sentence cuts remain.
    paragraphs = [p for p in re.split(r"\n\s*\n", raw) if not re.search(r"[A-Za-z0-9.!?]", p)]
    text = re.sub(r"\s*\n\s*", "", "".join(paragraphs))
    doc = Document(content_id("doc", text), "text", "fortunes-zh", "zh", {}, text)
    tok, n = get_tokenizer(), 50
    sentences = re.split(r"(?<=[。！？])", text)
    assert max(tok.count(s) for s in sentences) <= n < tok.count(text)  # every sentence fits, the text does not
    chunks = chunk_document(doc, tok, n)
    check_exact(doc, chunks, n)
    assert len(chunks) >= 9
    for c in chunks[:-1]:
        assert re.search(r"[。！？][”’」』）]*$", text[c.start : c.end]), text[c.end - 10 : c.end + 10]
        assert text[c.end : c.end + 1] not in "”’」』）"  # closing quotes stay with their sentence
    assert {text[c.end - 1] for c in chunks[:-1]} >= {"。"}


def test_unpunctuated_chinese_falls_back_to_characters() -> None:
    raw = (DATA / "fortunes-zh-excerpt.txt").read_text(encoding="utf-8")
    text = re.sub(r"[\s\W]", "", raw)[:2000]  # a run with no cut point at all
    doc = Document(content_id("doc", text), "text", "zh", "zh", {}, text)
    chunks = chunk_document(doc, get_tokenizer(), 16)
    check_exact(doc, chunks, 16)
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert sum(c.n_tokens >= 14 for c in chunks) > 0.8 * len(chunks)  # longest prefixes, not tiny slivers


def test_max_tokens_too_small_is_a_config_error(persuasion: Document) -> None:
    with pytest.raises(ConfigError):
        chunk_document(persuasion, get_tokenizer(), 3)


def _docs_dir(tmp_path: Path, docs: list[Document]) -> Path:
    d = tmp_path / "ingested"
    write_jsonl(d / "documents.jsonl", docs)
    return d


def test_stage_outputs_ledger_and_byte_identical_rerun(
    tmp_path: Path, persuasion: Document, pdf_doc, fixtures_dir  # type: ignore[no-untyped-def]
) -> None:
    paper = pdf_doc(fixtures_dir / "papers" / "zoo__zoo-quickref.pdf")
    blank = Document(content_id("doc", " \n\n "), "text", "blank", "en", {}, " \n\n ")
    src = _docs_dir(tmp_path, [persuasion, paper, blank])
    runner = CliRunner()
    outs = []
    for name in ("a", "b"):
        r = runner.invoke(app, ["chunk", "--in", str(src), "--out", str(tmp_path / name), "--max-tokens", "300"])
        assert r.exit_code == 0, r.output
        outs.append(tmp_path / name)
    assert "chunk: 2 documents -> " in r.output and "empty_text: 1" in r.output
    for f in ("chunks.jsonl", "documents.jsonl", "rejected.jsonl", "manifest.json"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    docs = [json.loads(x) for x in (outs[0] / "documents.jsonl").read_text().splitlines()]
    assert [d["id"] for d in docs] == [persuasion.id, paper.id]  # copied through, in order
    rejected = [json.loads(x) for x in (outs[0] / "rejected.jsonl").read_text().splitlines()]
    assert rejected == [{"stage": "chunk", "source": blank.id, "reason": "empty_text", "detail": rejected[0]["detail"]}]
    texts = {d["id"]: d["text"] for d in docs}
    chunks = [json.loads(x) for x in (outs[0] / "chunks.jsonl").read_text().splitlines()]
    assert {c["doc_id"] for c in chunks} == set(texts)
    tok = get_tokenizer()
    assert all(tok.count(texts[c["doc_id"]][c["start"] : c["end"]]) == c["n_tokens"] <= 300 for c in chunks)
    manifest = json.loads((outs[0] / "manifest.json").read_text())
    assert manifest["config"]["max_tokens"] == 300 and manifest["counts"]["chunks.jsonl"] == len(chunks)


def test_shards_partition_the_documents(
    tmp_path: Path, persuasion: Document, rcpp_paper: Document, pdf_doc, fixtures_dir
) -> None:
    coin = pdf_doc(fixtures_dir / "papers" / "coin__coin.pdf")
    src = _docs_dir(tmp_path, [persuasion, rcpp_paper, coin])
    runner, seen = CliRunner(), []
    for i in range(2):
        out = tmp_path / f"s{i}"
        r = runner.invoke(app, ["chunk", "--in", str(src), "--out", str(out), "-n", "500", "--shard", f"{i}/2"])
        assert r.exit_code == 0, r.output
        seen += [json.loads(x)["id"] for x in (out / "documents.jsonl").read_text().splitlines()]
    assert sorted(seen) == sorted([persuasion.id, rcpp_paper.id, coin.id])


def test_missing_input_is_one_clean_error(tmp_path: Path) -> None:
    runner = CliRunner()
    for target in (tmp_path / "nope", tmp_path):  # no directory; a directory without documents.jsonl
        r = runner.invoke(app, ["chunk", "--in", str(target), "--out", str(tmp_path / "o"), "--max-tokens", "100"])
        assert r.exit_code == 1
        assert r.exception is None or isinstance(r.exception, SystemExit)
        assert "Traceback" not in r.output and "ingest" in r.output
