"""Context assembly on real documents: units, pieces, padding to a bucket, forbidden strings, caching."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from golong_data.errors import ConfigError
from golong_data.records import Document, read_records
from golong_data.synth.context import Library, assemble, split_units
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


# ---------------------------------------------------------------- clean pieces and quotes (issue 19)
FIXTURES = Path(__file__).parents[1] / "fixtures"
TITLES = ("Mr", "Mrs", "Miss", "Dr", "St")


def _opens_sentence(text: str, pos: int) -> bool:
    """Independent check: after a blank line, or after . ! ? (closing quotes allowed) that is not a title's
    period, skipping spaces and single line wraps; and not starting lower case."""
    if text[pos].islower():
        return False
    before = text[:pos].rstrip(" \t")
    if not before or before.endswith("\n\n") or before.rstrip(" \t").endswith("\n\n"):
        return True
    before = before.rstrip()
    core = before.rstrip("\"'’”)")
    if not core or core[-1] not in ".!?":
        return False
    return not (core[-1] == "." and core[:-1].split()[-1].strip("\"'‘“(") in TITLES)


def test_quotes_cut_at_sentence_starts_never_after_mr() -> None:
    from golong_data.tasks.common import quotes

    # Emma's Gutenberg text is hard-wrapped at ~70 columns: a line start is usually mid-sentence, and
    # "Mr. Woodhouse" puts a period inside the sentence. (Cut per line, 40 % of the quotes started
    # mid-sentence and some ended at "Mr.".)
    emma = (FIXTURES / "texts" / "emma_volumes.txt").read_text(encoding="utf-8")
    qs = quotes(emma, 0)
    assert len(qs) >= 50
    for a, b, q in qs:
        assert emma[a:b] == q and "\n" not in q
        assert _opens_sentence(emma, a), q
        assert not any(q.endswith(f" {t}.") for t in TITLES), q
    assert any("Mr. " in q for _, _, q in qs)  # the abbreviation stays inside its sentence ("Mr. Weston's")


def test_chat_quotes_leave_the_speaker_label_out(docs: list[Document]) -> None:
    from golong_data.tasks.common import quotes

    chats = [d for d in by_kind(docs, "dialogue") if len(d.sections) >= 6][:20]
    n = 0
    for d in chats:
        cuts = [s.start for s in d.sections]
        for a, b, q in quotes(d.text, 0, min_len=20, min_words=4, lines=True, cuts=cuts):
            n += 1
            # inside one turn's own text, so never with its "Speaker A: " label
            assert not q.startswith("Speaker ") and any(s.start <= a and b <= s.end for s in d.sections), q
    assert n >= 20


def test_every_piece_and_excerpt_holds_a_sentence(docs: list[Document]) -> None:
    from golong_data.synth.context import MIN_PIECE_WORDS

    lib = Library(docs, get_tokenizer())
    # the chitchat sample has one-line chats ("hello?"): shown whole they would be a piece of one word
    tiny = [d for d in by_kind(docs, "dialogue") if len(d.text.split()) < 6]
    assert tiny
    assert all(lib.pieces(d.id, 2000) == [] for d in tiny)
    for d in docs:
        for p in lib.pieces(d.id, 1500):
            assert len(lib.body(p).split()) >= MIN_PIECE_WORDS, p.heading
    # an excerpt (the piece that closes the gap to the bucket) ends at a sentence end, not at "Mr." or a
    # line wrap, or is not made at all
    book = next(d for d in docs if d.title == "Persuasion")
    for p in lib.pieces(book.id, 1500)[:6]:
        for budget in (40, 90, 200, 400):
            t = lib.truncate(p, budget)
            if t is None:
                continue
            body = lib.body(t)
            assert len(body.split()) >= MIN_PIECE_WORDS and t.n_tokens <= budget
            assert body.rstrip("\"'’”)")[-1] in ".!?" or body.endswith("\n"), body[-60:]
            assert not any(body.endswith(f" {m}.") for m in TITLES)


def test_a_piece_holding_an_opaque_identifier_is_never_offered(docs: list[Document]) -> None:
    """A UUID (e.g. a token printed in a paper's code listing) is ~25 tokens of noise: no piece carrying one is
    offered as evidence or distractor; the rest of the document still is."""
    import dataclasses

    from golong_data.synth.context import OPAQUE_ID

    book = by_kind(docs, "book")[0]
    lib0 = Library([book], get_tokenizer())
    plain = lib0.pieces(book.id, 512)
    victim = plain[len(plain) // 2]
    cut = book.text.index(" ", victim.start + 1)
    uid = "Generator token: 6f1c2a4e-9b3d-4c1e-8a7f-2d5e6b9c0a1f"  # the shape the demo paper prints
    text = book.text[:cut] + " " + uid + book.text[cut:]
    shift = len(uid) + 1
    sections = [dataclasses.replace(s, start=s.start + (shift if s.start > cut else 0),
                                    end=s.end + (shift if s.end > cut else 0)) for s in book.sections]
    marked = dataclasses.replace(book, text=text, sections=sections)
    lib = Library([marked], get_tokenizer())
    offered = lib.pieces(marked.id, 512)
    assert not any(OPAQUE_ID.search(lib.body(p)) for p in offered)
    assert len(offered) == len(plain) - 1  # only the piece that holds it is gone
