"""Dedup on real documents: datasketch-identical signatures, exact and near duplicates of documents and
chunks, decontamination, the ledger, reruns."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from datasketch import MinHash
from typer.testing import CliRunner

from golong_data.chunk import chunk_document
from golong_data.cli import app
from golong_data.dedup.minhash import BatchMinHasher, jaccard, shingles, words
from golong_data.records import Document, Section, content_id, write_jsonl
from golong_data.tokens import get_tokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def chunked_dir(tmp_path: Path, docs: list[Document], n: int = 400) -> Path:
    """What `golong-data chunk` writes, built directly (this module tests dedup)."""
    d = tmp_path / "chunked"
    tok = get_tokenizer()
    write_jsonl(d / "documents.jsonl", docs)
    write_jsonl(d / "chunks.jsonl", [c for doc in docs for c in chunk_document(doc, tok, n)])
    return d


def dedup(src: Path, out: Path, *extra: str) -> tuple[list[dict], list[dict], list[dict], str]:
    r = CliRunner().invoke(app, ["dedup", "--in", str(src), "--out", str(out), *extra])
    assert r.exit_code == 0, r.output
    return read(out / "documents.jsonl"), read(out / "chunks.jsonl"), read(out / "rejected.jsonl"), r.output


def sub_document(doc: Document, section: int, text: str | None = None, name: str = "") -> Document:
    """One chapter of a book as a document of its own (optionally with its text replaced)."""
    sec = doc.sections[section]
    body = doc.text[sec.start : sec.end] if text is None else text
    return Document(content_id("doc", name, body), "book", f"{doc.title} {sec.title}", "en", {"path": name}, body,
                    [Section("chapter", sec.title, 0, len(body))])


def change_words(text: str, k: int) -> tuple[str, list[str]]:
    """Shorten k long words spread evenly over the text (a typo-level edit: 'remarkably' -> 'rema')."""
    changed, out, pos = [], text, 0
    for q in range(k):
        m = re.compile(r"\b[a-z]{9,}\b").search(out, max(pos, q * len(out) // k))
        assert m is not None
        out = out[: m.start()] + m.group()[:4] + out[m.end() :]
        changed.append(m.group())
        pos = m.start() + 5
    return out, changed


# ------------------------------------------------------------------ signatures


def test_batch_signatures_equal_datasketch_per_shingle_update(persuasion_doc: Document) -> None:
    paragraphs = [p for p in persuasion_doc.text.split("\n\n") if p.strip()][:400] + ["", "Anne", "a b c d"]
    wl = [words(p) for p in paragraphs]
    ours = BatchMinHasher(num_perm=128, ngram=5, batch_shingles=2000).signatures(wl)  # small batches: many flushes
    for w, sig in zip(wl, ours, strict=True):
        m = MinHash(num_perm=128)  # datasketch's defaults: seed 1, sha1_hash32
        for s in shingles(w, 5):
            m.update(s)
        assert np.array_equal(m.hashvalues, sig)


def test_a_whole_book_is_reduced_in_slices_to_the_same_signature(persuasion_doc: Document) -> None:
    w = words(persuasion_doc.text)
    ours = BatchMinHasher(num_perm=64, ngram=5, batch_shingles=5000).signatures([w])[0]  # ~83k shingles
    m = MinHash(num_perm=64)
    m.update_batch(shingles(w, 5))
    assert np.array_equal(m.hashvalues, ours)


# ------------------------------------------------------------------ documents


def test_same_pdf_under_two_names_collapses_and_takes_its_chunks(tmp_path: Path, paper_doc) -> None:  # type: ignore[no-untyped-def]
    a = paper_doc(FIXTURES / "papers" / "sandwich__sandwich.pdf")
    # The same paper as another extractor gives it: same words, lines reflowed, under another name and id.
    text_b = re.sub(r"\s+", " ", a.text)
    b = Document(content_id("doc", "mirror/sandwich-2004.pdf", text_b), "paper", "sandwich (mirror)", "en",
                 {"path": "mirror/sandwich-2004.pdf"}, text_b)
    other = paper_doc(FIXTURES / "papers" / "zoo__zoo-quickref.pdf")
    src = chunked_dir(tmp_path, [a, b, other])
    docs, chunks, rejected, output = dedup(src, tmp_path / "out")
    assert [d["id"] for d in docs] == [a.id, other.id]  # the longer text (original line breaks) is kept
    doc_rej = [r for r in rejected if r["source"] == b.id]
    assert len(doc_rej) == 1 and doc_rej[0]["reason"] == "exact_duplicate"
    detail = json.loads(doc_rej[0]["detail"])
    assert detail["kept"] == a.id and detail["similarity"] == 1.0 and detail["path"] == "mirror/sandwich-2004.pdf"
    b_chunks = [c for c in read(src / "chunks.jsonl") if c["doc_id"] == b.id]
    chunk_rej = {r["source"]: r for r in rejected if r["reason"] == "duplicate_document"}
    assert set(chunk_rej) == {c["id"] for c in b_chunks} and len(b_chunks) > 5
    assert all(json.loads(r["detail"])["kept"] == a.id for r in chunk_rej.values())
    assert {c["doc_id"] for c in chunks} == {a.id, other.id}
    assert "kept 2 of 3 documents" in output


def test_pdf_ingested_twice_under_two_names_is_one_document_end_to_end(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "papers" / "coin__coin.pdf", raw / "coin.pdf")
    shutil.copy(FIXTURES / "papers" / "coin__coin.pdf", raw / "coin-vignette-copy.pdf")
    runner = CliRunner()
    for args in (["ingest", str(raw), "--out", str(tmp_path / "i")],
                 ["chunk", "--in", str(tmp_path / "i"), "--out", str(tmp_path / "c"), "--max-tokens", "512"],
                 ["dedup", "--in", str(tmp_path / "c"), "--out", str(tmp_path / "d")]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output
    docs = read(tmp_path / "d" / "documents.jsonl")
    assert len(docs) == 1
    assert {c["doc_id"] for c in read(tmp_path / "d" / "chunks.jsonl")} == {docs[0]["id"]}


def test_chapter_with_a_few_words_changed_is_a_near_duplicate_and_the_original_is_kept(
    tmp_path: Path, persuasion_doc: Document
) -> None:
    orig = sub_document(persuasion_doc, 4, name="persuasion.epub")
    changed_text, changed = change_words(orig.text, 4)
    copy = sub_document(persuasion_doc, 4, changed_text, name="persuasion-reprint.epub")
    nxt = sub_document(persuasion_doc, 5, name="persuasion.epub")
    assert len(changed) == 4 and copy.text != orig.text
    src = chunked_dir(tmp_path, [copy, orig, nxt])  # the copy comes first: order must not decide
    docs, chunks, rejected, _ = dedup(src, tmp_path / "out")
    assert [d["id"] for d in docs] == [orig.id, nxt.id]
    (r,) = [r for r in rejected if r["source"] == copy.id]
    detail = json.loads(r["detail"])
    assert r["reason"] == "near_duplicate" and detail["kept"] == orig.id
    # The estimate is close to the true Jaccard similarity of the 5-gram shingle sets.
    sa, sb = set(shingles(words(orig.text), 5)), set(shingles(words(copy.text), 5))
    true_j = len(sa & sb) / len(sa | sb)
    assert 0.8 <= true_j < 1 and abs(detail["similarity"] - true_j) < 0.1
    assert all(c["doc_id"] in {orig.id, nxt.id} for c in chunks)


def test_a_pair_whose_estimate_misses_the_threshold_is_settled_by_its_exact_jaccard(
    tmp_path: Path, persuasion_doc: Document
) -> None:
    # Issue 16: a chapter and a copy with every 49th word altered, exact 5-gram Jaccard 0.82; its
    # 128-permutation estimate is under 0.8, so the estimate alone (the old rule) keeps both.
    orig = sub_document(persuasion_doc, 4, name="persuasion.epub")
    ws = orig.text.split(" ")
    text = " ".join(w + "q" if i % 49 == 7 else w for i, w in enumerate(ws))
    copy = sub_document(persuasion_doc, 4, text, name="persuasion-typos.epub")
    true_j = jaccard(words(orig.text), words(copy.text), 5)
    sigs = BatchMinHasher().signatures([words(orig.text), words(copy.text)])
    estimate = float((sigs[0] == sigs[1]).mean())
    assert 0.8 <= true_j < 0.85 and estimate < 0.8, (true_j, estimate)
    src = chunked_dir(tmp_path, [orig, copy], n=100_000)  # one chunk per document
    docs, _, rejected, _ = dedup(src, tmp_path / "out")
    assert [d["id"] for d in docs] == [copy.id]  # the longer text is kept
    (r,) = [r for r in rejected if r["source"] == orig.id]
    assert r["reason"] == "near_duplicate" and json.loads(r["detail"])["similarity"] == round(true_j, 4)


def test_chapter_copied_into_another_book_is_caught_chunk_by_chunk(
    tmp_path: Path, persuasion_doc: Document, northanger_doc: Document
) -> None:
    """Documents differ (a Northanger Abbey anthology quoting one Persuasion chapter); chunks do not."""
    sec = persuasion_doc.sections[4]
    quoted, _ = change_words(persuasion_doc.text[sec.start : sec.end], 3)
    n1, n2 = northanger_doc.sections[1], northanger_doc.sections[2]
    parts = [northanger_doc.text[n1.start : n1.end], quoted, northanger_doc.text[n2.start : n2.end]]
    text, sections, pos = "", [], 0
    for p in parts:
        sections.append(Section("chapter", p.split("\n")[0], pos, pos + len(p)))
        text += p + "\n\n"
        pos = len(text)
    anthology = Document(content_id("doc", text), "book", "anthology", "en", {"path": "a.epub"}, text, sections)
    src = chunked_dir(tmp_path, [anthology, persuasion_doc])
    docs, chunks, rejected, _ = dedup(src, tmp_path / "out")
    assert len(docs) == 2  # as wholes they are different books
    all_chunks = read(src / "chunks.jsonl")
    quoted = {c["id"] for c in all_chunks if c["doc_id"] == anthology.id and c["section"] == 1}
    originals = {c["id"] for c in all_chunks if c["doc_id"] == persuasion_doc.id and c["section"] == 4}
    by_source = {r["source"]: r for r in rejected}
    # One of each pair survives: the quoted chunk is dropped for the original, except where the two are
    # exactly equal (an unchanged chunk) and the tie goes to the smaller id.
    assert len(quoted) == len(originals) > 3 and len(set(by_source) & (quoted | originals)) == len(quoted)
    for cid in set(by_source) & (quoted | originals):
        r, d = by_source[cid], json.loads(by_source[cid]["detail"])
        other = originals if cid in quoted else quoted
        assert d["kept"] in other and d["similarity"] >= 0.8
        if r["reason"] == "near_duplicate":  # the words were shortened: the original is the longer, kept
            assert cid in quoted and 0.8 <= d["similarity"] < 1
        else:
            assert r["reason"] == "exact_duplicate" and d["kept"] < cid
    assert sum(by_source[c]["reason"] == "near_duplicate" for c in quoted if c in by_source) == 3  # one per edit
    kept_ids = {c["id"] for c in chunks}
    assert {c["id"] for c in all_chunks if c["doc_id"] == anthology.id and c["section"] != 1} <= kept_ids
    assert {c["id"] for c in all_chunks if c["doc_id"] == persuasion_doc.id} - originals <= kept_ids


# ------------------------------------------------------------------ decontamination


def test_decontamination_drops_the_quoting_chunk_and_keeps_its_neighbours(
    tmp_path: Path, persuasion_doc: Document, paper_doc  # type: ignore[no-untyped-def]
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tok = get_tokenizer()
    chunks = chunk_document(persuasion_doc, tok, 400)
    target, near = chunks[40], chunks[60]
    tw = persuasion_doc.text[target.start : target.end].split()
    quote13 = " ".join(tw[20:33])  # 13 words as written in the book
    nw = persuasion_doc.text[near.start : near.end].split()
    quote12 = " ".join(nw[20:32])  # 12 words: under the window, must not count
    filler = paper_doc(FIXTURES / "papers" / "zoo__zoo-quickref.pdf").text
    bench = tmp_path / "longbench_narrativeqa.jsonl"
    rows = [
        {"input": "Who proposed?", "context": filler[:3000] + " " + quote13.upper() + " " + filler[3000:6000],
         "answers": ["Captain Wentworth"], "length": 1234},
        {"input": "What happened?", "context": filler[6000:9000] + f" {quote12} " + filler[9000:12000],
         "answers": ["nothing"]},
    ]
    bench.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    other = tmp_path / "ruler.parquet"
    pq.write_table(pa.table({"input": [filler[12000:20000]], "outputs": [["x"]]}), other)
    src = chunked_dir(tmp_path, [persuasion_doc])
    docs, kept, rejected, _ = dedup(src, tmp_path / "out", "--against", str(bench), "--against", str(other))
    contaminated = [r for r in rejected if r["reason"] == "contaminated"]
    assert [r["source"] for r in contaminated] == [target.id]
    d = json.loads(contaminated[0]["detail"])
    assert d["benchmark"] == "longbench_narrativeqa.jsonl" and d["ngram"] == " ".join(words(quote13))
    kept_ids = [c["id"] for c in kept]
    assert chunks[39].id in kept_ids and chunks[41].id in kept_ids and near.id in kept_ids
    # The kept document carries the dropped span, so stages that read whole documents can keep it out.
    (kept_doc,) = docs
    assert kept_doc["quality"]["contaminated"] == [[target.start, target.end, bench.name]]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["against"] == [bench.name, other.name] and manifest["counts"]["benchmark_ngrams"] > 1000
    # --contam-ngram 12 catches the 12-word quote too.
    _, _, rejected12, _ = dedup(src, tmp_path / "out12", "--against", str(bench), "--contam-ngram", "12")
    assert sorted(r["source"] for r in rejected12 if r["reason"] == "contaminated") == sorted([target.id, near.id])


# ------------------------------------------------------------------ the ledger and reruns


def test_ledger_explains_every_drop_and_reruns_are_byte_identical(
    tmp_path: Path, persuasion_doc: Document, northanger_doc: Document, paper_doc  # type: ignore[no-untyped-def]
) -> None:
    paper = paper_doc(FIXTURES / "papers" / "Rcpp__Rcpp-introduction.pdf")
    copy_text, _ = change_words(persuasion_doc.text[: persuasion_doc.sections[3].end], 3)
    partial = Document(content_id("doc", copy_text), "book", "Persuasion (vol. 1 excerpt)", "en", {"path": "x"},
                       copy_text, [Section(s.kind, s.title, s.start, s.end) for s in persuasion_doc.sections[:4]])
    reprint_text, _ = change_words(northanger_doc.text, 5)
    reprint = Document(content_id("doc", reprint_text), "book", "Northanger Abbey (reprint)", "en", {"path": "y"},
                       reprint_text, northanger_doc.sections)
    # The paper twice (same id); a reprint (a near-duplicate document); an excerpt with edits (near-duplicate
    # chunks inside a different document).
    src = chunked_dir(tmp_path, [persuasion_doc, northanger_doc, paper, partial, paper, reprint])
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"context": northanger_doc.text[50000:52000]}) + "\n", encoding="utf-8")
    outs = [dedup(src, tmp_path / f"o{i}", "--against", str(bench)) for i in range(2)]
    for f in ("documents.jsonl", "chunks.jsonl", "rejected.jsonl", "manifest.json"):
        assert (tmp_path / "o0" / f).read_bytes() == (tmp_path / "o1" / f).read_bytes(), f
    docs, kept, rejected, _ = outs[0]
    in_chunks = read(src / "chunks.jsonl")
    in_ids = [c["id"] for c in in_chunks]
    assert len(kept) + sum(r["source"] in set(in_ids) for r in rejected) == len(in_chunks)  # nothing lost
    kept_ids = {c["id"] for c in kept} | {d["id"] for d in docs}
    reasons = set()
    for r in rejected:
        d = json.loads(r["detail"])
        reasons.add(r["reason"])
        if r["reason"] == "contaminated":
            assert d["benchmark"] == "bench.jsonl" and len(d["ngram"].split()) == 13
        else:
            assert d["kept"] in kept_ids, r
            if r["reason"] != "duplicate_document":
                assert 0.8 <= d["similarity"] <= 1.0
    assert reasons == {"exact_duplicate", "duplicate_document", "contaminated", "near_duplicate"}


def test_missing_inputs_are_clean_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "only-docs").mkdir()
    (tmp_path / "only-docs" / "documents.jsonl").write_text("")
    for target, hint in ((tmp_path / "nope", "chunk"), (tmp_path / "only-docs", "chunk")):
        r = runner.invoke(app, ["dedup", "--in", str(target), "--out", str(tmp_path / "o")])
        assert r.exit_code == 1 and "Traceback" not in r.output and hint in r.output, r.output
    r = runner.invoke(app, ["dedup", "--in", str(tmp_path / "only-docs"), "--out", str(tmp_path / "o"), "--questions"])
    assert r.exit_code == 1 and "synthesize" in r.output
    src = tmp_path / "c"
    write_jsonl(src / "documents.jsonl", [])
    write_jsonl(src / "chunks.jsonl", [])
    r = runner.invoke(app, ["dedup", "--in", str(src), "--out", str(tmp_path / "o"), "--against", str(tmp_path / "x")])
    assert r.exit_code == 1 and "--against" in r.output


@pytest.mark.parametrize("bad", [["--threshold", "0"], ["--threshold", "1.5"], ["--num-perm", "1"]])
def test_bad_settings_are_config_errors(tmp_path: Path, bad: list[str]) -> None:
    src = tmp_path / "c"
    write_jsonl(src / "documents.jsonl", [])
    write_jsonl(src / "chunks.jsonl", [])
    r = CliRunner().invoke(app, ["dedup", "--in", str(src), "--out", str(tmp_path / "o"), *bad])
    assert r.exit_code == 1 and "Traceback" not in r.output
