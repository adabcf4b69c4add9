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


def test_chapter_titles_keep_their_volume_emma() -> None:
    # Emma (Gutenberg text, three volumes whose chapters each restart at I; the fixture holds each volume's
    # first two chapters): "CHAPTER I" alone would name three sections.
    path = FIXTURES / "texts" / "emma_volumes.txt"
    raw = path.read_text(encoding="utf-8")
    assert raw.count("\nCHAPTER I\n") == 3 and raw.count("\nVOLUME ") == 3
    doc = text.read_text(path)
    titles = [s.title for s in doc.sections]
    assert doc.kind == "book" and doc.title == "EMMA"
    assert titles == [f"VOLUME {v}, CHAPTER {c}" for v in ("I", "II", "III") for c in ("I", "II")]
    # a chapter ends before the next volume's heading, which does not ride along in its text
    last_of_vol1 = doc.text[doc.sections[1].start : doc.sections[1].end]
    assert last_of_vol1.startswith("CHAPTER II") and "VOLUME II" not in last_of_vol1


def test_repeated_chapter_titles_are_numbered(tmp_path: Path) -> None:
    # the same Emma text with its volume lines taken out: the repeats are told apart by number
    raw = (FIXTURES / "texts" / "emma_volumes.txt").read_text(encoding="utf-8")
    p = tmp_path / "emma_flat.txt"
    p.write_text("\n".join(ln for ln in raw.split("\n") if not ln.startswith("VOLUME ")), encoding="utf-8")
    titles = [s.title for s in text.read_text(p).sections]
    assert titles == ["CHAPTER I", "CHAPTER II", "CHAPTER I (2)", "CHAPTER II (2)", "CHAPTER I (3)", "CHAPTER II (3)"]
    assert len(set(titles)) == len(titles)
