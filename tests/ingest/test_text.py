"""Plain text / Markdown ingest: chapter sections for books with 'Chapter N' headings."""

from __future__ import annotations

from pathlib import Path

import pytest

from golong_data import paths
from golong_data.errors import InputError
from golong_data.ingest import epub, text

FIXTURES = Path(__file__).parent.parent / "fixtures"
CORPUS = paths.home() / "corpus" / "books"


def test_book_text_made_from_the_epub_fixture(tmp_path: Path) -> None:
    book = epub.read_epub(FIXTURES / "books" / "northangerabbey.epub")
    chapters = [book.text[s.start : s.end] for s in book.sections]
    p = tmp_path / "northanger.txt"
    p.write_text("Northanger Abbey\n\nby Jane Austen\n\n\n" + "\n\n\n".join(chapters) + "\n", encoding="utf-8")
    doc = text.read_text(p)
    assert doc.kind == "book" and doc.title == "Northanger Abbey"
    assert [s.title for s in doc.sections] == [f"Chapter {i}" for i in range(1, 32)]
    assert [doc.text[s.start : s.end] for s in doc.sections] == chapters


@pytest.mark.skipif(not (CORPUS / "persuasion.txt").exists(), reason="corpus not fetched (make demo fetches it)")
def test_gutenberg_persuasion_from_the_corpus() -> None:
    doc = text.read_text(CORPUS / "persuasion.txt")
    assert doc.kind == "book" and doc.title == "Persuasion"
    assert len(doc.sections) == 24
    first = doc.text[doc.sections[0].start : doc.sections[0].end]
    assert first.startswith("Chapter 1\n\n\nSir Walter Elliot, of Kellynch Hall")
    assert doc.text[doc.sections[-1].end :].strip() == ""


def test_markdown_sections(tmp_path: Path) -> None:
    doc = text.read_text(FIXTURES / "README.md")
    assert doc.kind == "text" and doc.source["format"] == "md"
    assert doc.title == "Test fixtures: real documents nobody here wrote"
    assert doc.text[doc.sections[0].start :].startswith("# Test fixtures")


def test_bad_text_files(tmp_path: Path) -> None:
    for name, data, reason in [
        ("empty.txt", b"  \n", "text_empty"),
        ("latin1.txt", "caf\u00e9".encode("latin-1"), "text_not_utf8"),
        ("bin.txt", b"\x00\x01\x02abc", "binary_file"),
    ]:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(InputError) as e:
            text.read_text(p)
        assert e.value.reason == reason
