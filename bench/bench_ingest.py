"""Ingest throughput: ours next to the plain library on the same files, and the ratio.

    python bench/bench_ingest.py [CORPUS_DIR]    (default: $GOLONG_HOME/corpus, else tests/fixtures)

PDF: pages/s of a bare `for page in doc: page.get_text()` loop (one process) next to ours: read_pdf in one
process (reading order, header/footer removal, de-hyphenation, NFKC, garbage checks, token counts), and
the whole stage as `golong-data ingest` runs it (run_ingest, parallel reader processes, output written).
EPUB: books/s of a bare `ebooklib.epub.read_epub` + get_content() loop next to ours (one process).
Each side runs `ROUNDS` times interleaved, best round reported (min is the least noisy estimate of cost
on a shared machine).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data import paths  # noqa: E402
from golong_data.errors import InputError  # noqa: E402
from golong_data.ingest.epub import read_epub  # noqa: E402
from golong_data.ingest.pdf import read_pdf  # noqa: E402
from golong_data.ingest.stage import default_workers, run_ingest  # noqa: E402

ROUNDS = 3


def corpus_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    c = paths.home() / "corpus"
    return c if (c / "papers").is_dir() else ROOT / "tests" / "fixtures"


def best(*fns) -> list[float]:
    """Best-of-ROUNDS time of each function, rounds interleaved so machine load hits all sides alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(ROUNDS):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [min(t) for t in times]


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
    workers = default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        t_bare, t_ours, t_stage = best(
            lambda: bare_pdf(pdfs), lambda: ours_pdf(pdfs), lambda: run_ingest([corpus / "papers"], Path(tmp) / "o")
        )
    print(f"PDF  {len(pdfs)} files, {pages} pages from {corpus / 'papers'}")
    print(f"  bare pymupdf get_text loop:          {pages / t_bare:8.1f} pages/s")
    print(f"  ours, one process (read_pdf):        {pages / t_ours:8.1f} pages/s   ratio {t_bare / t_ours:.2f}")
    stage = f"golong-data ingest ({workers} workers):"
    print(f"  {stage:36s} {pages / t_stage:8.1f} pages/s   ratio {t_bare / t_stage:.2f}")
    print("  (target: ratio >= 0.8)")
    t_bare, t_ours = best(lambda: bare_epub(epubs), lambda: ours_epub(epubs))
    print(f"EPUB {len(epubs)} books: {', '.join(p.name for p in epubs)}")
    print(f"  bare ebooklib read_epub:             {len(epubs) / t_bare:8.2f} books/s")
    print(f"  ours, one process (read_epub):       {len(epubs) / t_ours:8.2f} books/s   ratio {t_bare / t_ours:.2f}")


if __name__ == "__main__":
    main()
