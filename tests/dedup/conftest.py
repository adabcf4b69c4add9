"""Documents from the real fixtures, built by the same helpers the chunk tests use (loaded by path: every
test directory has a module called `conftest`, so importing one by name is ambiguous)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from golong_data.records import Document

_HELPERS = Path(__file__).parents[1] / "chunk" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_golong_chunk_docs", _HELPERS)
assert _spec is not None and _spec.loader is not None
docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(docs)
FIXTURES = docs.FIXTURES


@pytest.fixture(scope="session")
def persuasion_doc() -> Document:
    return docs.epub_document(FIXTURES / "books" / "persuasion.epub")


@pytest.fixture(scope="session")
def northanger_doc() -> Document:
    return docs.epub_document(FIXTURES / "books" / "northangerabbey.epub")


@pytest.fixture(scope="session")
def paper_doc():  # type: ignore[no-untyped-def]
    return docs.pdf_document
