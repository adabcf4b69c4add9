"""Documents built straight from the real fixtures (independent of the ingest stage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from golong_data.records import Document, Section, content_id

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def epub_document(path: Path) -> Document:
    """One chapter section per spine XHTML item, paragraphs joined by blank lines."""
    import ebooklib
    from ebooklib import epub
    from lxml import html

    book = epub.read_epub(str(path), options={"ignore_ncx": True})
    text, sections = "", []
    for idref, _ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        root = html.fromstring(item.get_content())
        paras = [" ".join(p.text_content().split()) for p in root.iter("p", "h1", "h2", "h3")]
        body = "\n\n".join(p for p in paras if p)
        if not body:
            continue
        if text:
            text += "\n\n"
        sections.append(Section("chapter", body.split("\n\n")[0][:80], len(text), len(text) + len(body)))
        text += body
    return Document(content_id("doc", text), "book", path.stem, "en", {"path": str(path)}, text, sections)


def pdf_document(path: Path) -> Document:
    """One page section per PDF page (PyMuPDF text)."""
    import pymupdf as fitz

    text, sections = "", []
    with fitz.open(path) as pdf:
        for i, page in enumerate(pdf):
            t = page.get_text()
            sections.append(Section("page", f"page {i + 1}", len(text), len(text) + len(t)))
            text += t
    return Document(content_id("doc", text), "paper", path.stem, "en", {"path": str(path)}, text, sections)


@pytest.fixture(scope="session")
def persuasion() -> Document:
    return epub_document(FIXTURES / "books" / "persuasion.epub")


@pytest.fixture(scope="session")
def rcpp_paper() -> Document:
    return pdf_document(FIXTURES / "papers" / "Rcpp__Rcpp-introduction.pdf")


@pytest.fixture(scope="session")
def pdf_doc():  # type: ignore[no-untyped-def]
    """The PDF builder, as a fixture: test modules must not `import conftest` (several share that name)."""
    return pdf_document


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
