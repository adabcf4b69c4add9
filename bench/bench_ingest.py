"""Ingest throughput: ours next to the plain library on the same files, and the ratio.

    python bench/bench_ingest.py [CORPUS_DIR]    (default: $GOLONG_CACHE/corpus, else tests/fixtures)

PDF: pages/s of golong_data.ingest.pdf.read_pdf (reading order, header/footer removal, de-hyphenation,
NFKC, garbage checks, token counts) vs a bare `for page in doc: page.get_text()` loop.
EPUB: books/s (and chapters/s) of read_epub vs a bare `ebooklib.epub.read_epub` + get_content() loop.
Each side runs `ROUNDS` times, best round reported (min is the least noisy estimate of the cost).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data.errors import InputError  # noqa: E402
from golong_data.ingest.epub import read_epub  # noqa: E402
from golong_data.ingest.pdf import read_pdf  # noqa: E402

ROUNDS = 3


def corpus_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    c = Path(os.environ.get("GOLONG_CACHE", Path.home() / ".cache" / "golong-data")) / "corpus"
    return c if (c / "papers").is_dir() else ROOT / "tests" / "fixtures"


def best(fn) -> float:
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bare_pdf(paths: list[Path]) -> int:
    import pymupdf

    n = 0
    for p in paths:
        with pymupdf.open(p) as doc:
            for page in doc:
                page.get_text()
                n += 1
    return n


def ours_pdf(paths: list[Path]) -> None:
    for p in paths:
        try:
            read_pdf(p)
        except InputError:
            pass  # rejected files still cost their extraction; they are part of the work


def bare_epub(paths: list[Path]) -> int:
    import ebooklib
    from ebooklib import epub

    n = 0
    for p in paths:
        book = epub.read_epub(str(p))
        for item in book.get_items_of_type(ebooklib.ITEM_DOCUMENT):
            item.get_content()
            n += 1
    return n


def ours_epub(paths: list[Path]) -> int:
    return sum(len(read_epub(p).sections) for p in paths)


def main() -> None:
    corpus = corpus_dir()
    pdfs = sorted((corpus / "papers").glob("*.pdf"))
    epubs = sorted((corpus / "books").glob("*.epub")) + sorted((ROOT / "tests" / "fixtures" / "books").glob("*.epub"))
    epubs = sorted({p.name: p for p in epubs}.values())
    ours_pdf(pdfs[:1])  # warm imports and the tokenizer
    pages = bare_pdf(pdfs)
    t_bare, t_ours = best(lambda: bare_pdf(pdfs)), best(lambda: ours_pdf(pdfs))
    print(f"PDF  {len(pdfs)} files, {pages} pages from {corpus / 'papers'}")
    print(f"  bare pymupdf get_text loop: {pages / t_bare:8.1f} pages/s")
    print(f"  golong-data ingest (pdf):   {pages / t_ours:8.1f} pages/s")
    print(f"  ratio ours/bare:            {t_bare / t_ours:8.2f}  (target >= 0.8)")
    t_bare, t_ours = best(lambda: bare_epub(epubs)), best(lambda: ours_epub(epubs))
    print(f"EPUB {len(epubs)} books: {', '.join(p.name for p in epubs)}")
    print(f"  bare ebooklib read_epub:    {len(epubs) / t_bare:8.2f} books/s")
    print(f"  golong-data ingest (epub):  {len(epubs) / t_ours:8.2f} books/s")
    print(f"  ratio ours/bare:            {t_bare / t_ours:8.2f}")


if __name__ == "__main__":
    main()
