"""Context assembly on real documents: units, pieces, padding to a bucket, forbidden strings, caching."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from golong_data.context import Library, assemble, split_units
from golong_data.errors import ConfigError
from golong_data.records import Document, read_records
from golong_data.tasks import TASK_BUILDERS, get_builder
from golong_data.tokens import get_tokenizer


class CountingTokenizer:
    """The real Qwen tokenizer, recording how many characters it was asked to tokenise."""

    def __init__(self) -> None:
        self.tok = get_tokenizer()
        self.chars = 0

    def count(self, text: str) -> int:
        self.chars += len(text)
        return self.tok.count(text)


@pytest.fixture(scope="module")
def docs(synth_corpus: Path) -> list[Document]:
    return list(read_records(synth_corpus / "documents.jsonl", Document))


def by_kind(docs: list[Document], kind: str) -> list[Document]:
    return [d for d in docs if d.kind == kind]


def test_units_tile_the_text_and_stay_inside_sections(docs: list[Document]) -> None:
    for d in by_kind(docs, "book")[:2] + by_kind(docs, "paper")[:2] + by_kind(docs, "dialogue")[:5]:
        units = split_units(d)
        assert "".join(d.text[a:b] for a, b, _ in units) == d.text
        for a, b, s in units:
            if s >= 0:
                sec = d.sections[s]
                # A unit of section s never reaches into the next section's text.
                assert a <= sec.end and (s + 1 >= len(d.sections) or b <= d.sections[s + 1].start + 0 or
                                         d.text.rfind("\n", 0, d.sections[s + 1].start) + 1 >= b)


def test_piece_counts_equal_a_real_tokenisation(docs: list[Document]) -> None:
    tok = get_tokenizer()
    lib = Library(docs, tok)
    for d in by_kind(docs, "book")[:1] + by_kind(docs, "paper")[:2] + by_kind(docs, "dialogue")[:10]:
        for p in lib.pieces(d.id, 700):
            assert abs(p.n_tokens - tok.count(lib.body(p))) <= 1, p.heading


def test_book_pieces_are_chapter_aligned_with_titles(docs: list[Document]) -> None:
    lib = Library(docs, get_tokenizer())
    book = next(d for d in docs if d.title == "Persuasion")
    pieces = lib.pieces(book.id, 1000)
    assert all(len(p.sections) == 1 for p in pieces)
    assert pieces[0].heading.startswith("Persuasion — Chapter 1")
    units = {(u.start, u.end) for u in lib.units(book.id)}
    # A piece stays within the size asked for, unless it is one single paragraph longer than that.
    assert all(p.n_tokens <= 1000 or (p.start, p.end) in units for p in pieces)
    whole = lib.pieces(book.id, 100_000)
    assert len(whole) == len(book.sections)  # every chapter fits whole: one piece per chapter


def test_assemble_fills_the_budget_keeps_forbidden_text_out_and_places_evidence(docs: list[Document]) -> None:
    tok = get_tokenizer()
    lib = Library(docs, tok)
    book = next(d for d in docs if d.title == "Persuasion")
    ev = lib.pieces(book.id, 1500)[5]
    for depth, budget in ((0.0, 6000), (1.0, 12000), (0.5, 3000)):
        ctx = assemble(lib, [ev], budget, random.Random(3), max_piece=1500, forbid=["Anne"], tolerance=60,
                       depth=depth)
        assert not isinstance(ctx, str), ctx
        assert budget - 60 <= ctx.n_tokens <= budget
        assert abs(tok.count(ctx.text + "\n\n") - ctx.n_tokens) <= 3
        for i, p in enumerate(ctx.pieces):
            if i not in ctx.evidence_index:
                assert "Anne" not in lib.body(p)
        pos = ctx.evidence_index[0]
        if depth == 0.0:
            assert pos == 0
        if depth == 1.0:
            assert pos == len(ctx.pieces) - 1
    assert assemble(lib, [ev], 100, random.Random(0), max_piece=1500) == "evidence_exceeds_bucket"


def test_documents_are_tokenised_once_not_per_sample(docs: list[Document]) -> None:
    tok = CountingTokenizer()
    lib = Library(docs, tok)
    book = next(d for d in docs if d.title == "Persuasion")
    ev = lib.pieces(book.id, 2000)[2]
    for d in docs:  # the one-off cost: every document counted once, paragraph by paragraph
        lib.pieces(d.id, 2000)
    assert tok.chars >= sum(len(d.text) for d in docs) * 0.95
    warm = tok.chars
    ctx_chars = 0
    for seed in range(1, 6):
        ctx = assemble(lib, [ev], 30000, random.Random(seed), max_piece=2000, tolerance=300)
        assert not isinstance(ctx, str)
        ctx_chars += len(ctx.text)
    # New contexts from already-counted documents cost only headings, piece tails and one cut paragraph.
    assert tok.chars - warm < 0.1 * ctx_chars, (tok.chars - warm, ctx_chars)


def test_registry_lists_the_choices() -> None:
    assert len(TASK_BUILDERS) == 9
    with pytest.raises(ConfigError) as e:
        get_builder("multihop")
    assert "expected one of: precise_retrieval" in str(e.value)
