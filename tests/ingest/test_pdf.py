"""PDF ingest on the real vignettes: titles, pages, reading order, de-hyphenation, headers, bad files."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pymupdf
import pytest

from golong_data.errors import InputError
from golong_data.ingest import pdf, quality

PAPERS = Path(__file__).parent.parent / "fixtures" / "papers"
RCPP = PAPERS / "Rcpp__Rcpp-introduction.pdf"


@pytest.fixture(scope="module")
def rcpp():
    return pdf.read_pdf(RCPP)


@pytest.mark.parametrize(
    ("name", "pages", "title"),
    [
        # Titles as published (PeerJ preprint / JSS / vignette title pages), page counts as shipped.
        ("Rcpp__Rcpp-introduction.pdf", 8, "Extending R with C++: A Brief Introduction to Rcpp"),
        ("lme4__Theory.pdf", 21, "Computational methods for mixed models"),
        ("sandwich__sandwich.pdf", 21, "Econometric Computing with HC and HAC Covariance Matrix Estimators"),
        ("zoo__zoo-quickref.pdf", 11, "zoo Quick Reference"),
        ("survival__multi.pdf", 1, "Multi-state models as a data exploration tool"),
    ],
)
def test_page_sections_and_title(name: str, pages: int, title: str) -> None:
    doc = pdf.read_pdf(PAPERS / name)
    assert doc.kind == "paper" and doc.title == title and doc.lang == "en"
    assert doc.quality["pages"] == pages == pymupdf.open(PAPERS / name).page_count
    dropped = {d["page"] for d in doc.quality["dropped_pages"]}  # (lme4 Theory: see the unreadable test)
    assert [s.title for s in doc.sections] == [f"page {i}" for i in range(1, pages + 1) if i not in dropped]
    # Exact offsets: pages tile the text, separated by one blank line.
    assert doc.text == "\n\n".join(doc.text[s.start : s.end] for s in doc.sections)
    assert all(s.kind == "page" and s.start < s.end for s in doc.sections)
    assert " ".join(doc.text[:400].split()).startswith(title)  # the title opens page 1 (maybe over 2 lines)


def test_dehyphenation_across_line_ends(rcpp) -> None:
    raw = pymupdf.open(RCPP)[1].get_text()
    # In the PDF, these words are split by the typesetter at line ends...
    for split in ("func-\ntion", "em-\nbedded"):
        assert split in raw
    page2 = rcpp.text[rcpp.sections[1].start : rcpp.sections[1].end]
    # ...and come out whole.
    assert "the library() function. Next, we deploy" in page2
    assert "can be directly embedded and compiled" in page2
    assert "func-" not in page2 and "em- bedded" not in page2
    # A word split across the page break (page 1 'pa-' / page 2 'per.') is completed on page 1.
    page1 = rcpp.text[rcpp.sections[0].start : rcpp.sections[0].end]
    assert page1.endswith("beyond the scope of this paper.") and page2.startswith("However, many external")


def test_hyphen_kept_where_the_document_writes_the_compound() -> None:
    vocab = "a two-column page, two-column layout; for example"
    assert pdf._paragraph(["a two-", "column layout"], vocab) == "a two-column layout"
    assert pdf._paragraph(["an exam-", "ple here"], vocab) == "an example here"
    assert pdf._paragraph(["line one", "Line two"], vocab) == "line one Line two"
    assert pdf._paragraph(["statically-", "typed"], "") == "statically-typed"


def test_two_column_reading_order(rcpp) -> None:
    page2 = rcpp.text[rcpp.sections[1].start : rcpp.sections[1].end]
    # Left column: "Translating this implementation..." then "When using Rcpp, ..." at its foot, which runs
    # on at the head of the right column ("...Upon calling the cppFunction(), and | similarly to ...").
    a = page2.index("Translating this implementation into C++")
    b = page2.index("When using Rcpp, such C++ functions can be directly embedded")
    c = page2.index("Upon calling the cppFunction(), and similarly to the earlier example involving evalCpp()")
    d = page2.index("Extending R via its C API")  # a heading in the right column
    assert a < b < c < d


def test_reading_order_sorts_columns_even_when_the_stream_does_not() -> None:
    B = pdf._Block
    # Content stream order: right column first, a full-width title in the middle of the list.
    blocks = [
        B(320, 100, 560, 200, ["R1"]),
        B(320, 210, 560, 300, ["R2"]),
        B(50, 40, 560, 80, ["TITLE"]),
        B(50, 210, 300, 300, ["L2"]),
        B(50, 100, 300, 200, ["L1"]),
        B(50, 700, 560, 740, ["FOOT WIDE"]),
    ]
    order = [b.lines[0] for b in pdf.reading_order(blocks, 612)]
    assert order == ["TITLE", "L1", "L2", "R1", "R2", "FOOT WIDE"]
    one_col = [B(50, 300, 560, 400, ["second"]), B(50, 100, 560, 200, ["first"])]
    assert pdf.reading_order(one_col, 612) == one_col  # single column: stream order kept


def test_running_headers_footers_and_ligatures_removed(rcpp) -> None:
    raw = "".join(p.get_text() for p in pymupdf.open(RCPP))
    # Footers "N | https://cran.r-project.org/package=Rcpp | Eddelbuettel and Balamuta" (even pages) and
    # "Eddelbuettel and Balamuta | Rcpp Vignette | January 11, 2022 | N" (odd pages, and page 1's variant).
    assert raw.count("Rcpp Vignette") == 4 and "\ufb01" in raw
    assert "Rcpp Vignette" not in rcpp.text
    # Pages 2-8 each carry one footer with the author names; only the body's own mentions remain.
    flat = " ".join(raw.split())
    assert rcpp.text.count("Eddelbuettel and Balamuta") == flat.count("Eddelbuettel and Balamuta") - 7
    assert "https://cran.r-project.org/package=Rcpp" not in rcpp.text  # (the references write CRAN.R-Project)
    assert not re.search("[\ufb00-\ufb06]", rcpp.text)  # NFKC folded the ligatures
    assert "chiefly to establish" in rcpp.text and rcpp.text == unicodedata.normalize("NFKC", rcpp.text)


def test_glyph_garbage_pdf_rejected_with_measured_reason() -> None:
    path = PAPERS / "lme4__PLSvGLS.pdf"  # fonts without ToUnicode: extracts as dingbat soup
    raw = pymupdf.open(path)[0].get_text()
    assert "P\u2761\u2665\u275b" in raw  # "P❡♥❛" where "Penalized" should be
    with pytest.raises(InputError) as e:
        pdf.read_pdf(path)
    assert e.value.reason == "pdf_glyph_garbage" and "symbol share" in e.value.detail


def test_quality_measures_by_hand() -> None:
    assert quality.letter_ratio("ab 1!") == pytest.approx(0.5)
    assert quality.known_word_share("the cat and a dog") == pytest.approx(2 / 4)  # "a" is too short to count
    assert quality.symbol_share("ab\u2761\u2665") == pytest.approx(0.5)
    prose = "The method of the paper is shown in the following section, and it is used for data. " * 5
    assert quality.garbage_reason(prose) is None
    assert quality.garbage_reason("\u2761\u2665\u275b\u2767 sq\u2709\u275br\u2761s " * 40).startswith("symbol share")
    assert quality.garbage_reason("x") is None  # too short to judge
    assert quality.garbage_reason("!#$%&*+/<=>?@^~|" * 20).startswith("letter+digit ratio")  # punctuation soup
    # a page of numeric output (few letters, few words, many digits) is content, not garbage
    assert quality.garbage_reason("0.32935 1.39006 0.05488 6.026 1.69e-09 z p\n" * 20) is None


def encrypted_copy(tmp_path: Path) -> Path:
    doc = pymupdf.open(RCPP)
    out = tmp_path / "encrypted.pdf"
    doc.save(out, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    return out


def test_encrypted_pdf_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        pdf.read_pdf(encrypted_copy(tmp_path))
    assert e.value.reason == "pdf_encrypted"


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_truncated_pdf_rejected(tmp_path: Path, keep: float) -> None:
    data = RCPP.read_bytes()
    p = tmp_path / "cut.pdf"
    p.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError) as e:
        pdf.read_pdf(p)
    assert e.value.reason == "pdf_truncated"


def test_empty_and_non_pdf_rejected(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(InputError) as e:
        pdf.read_pdf(empty)
    assert e.value.reason == "pdf_empty"
    html = tmp_path / "page.pdf"
    html.write_bytes(b"<html>not a pdf</html>")
    with pytest.raises(InputError) as e:
        pdf.read_pdf(html)
    assert e.value.reason == "pdf_invalid"
    blank = tmp_path / "blank.pdf"
    d = pymupdf.open()
    d.new_page()
    d.save(blank)
    with pytest.raises(InputError) as e:
        pdf.read_pdf(blank)
    assert e.value.reason == "pdf_no_text"


def test_fast_char_counts_match_a_naive_reference() -> None:
    def naive(t: str) -> tuple[int, int, int, int]:
        cs = [c for c in t if not c.isspace()]
        sym = sum(c == "\ufffd" or unicodedata.category(c) in ("So", "Co", "Cc", "Cn") for c in cs)
        return len(cs), sum(c.isalpha() for c in cs), sum(c.isdigit() for c in cs), sym

    texts = [pymupdf.open(PAPERS / "lme4__PLSvGLS.pdf")[0].get_text(), pymupdf.open(RCPP)[0].get_text()]
    texts.append("ab\x00 \u2761\u2665 \u00e9\u00a0x\x1f\ufffd\ue000 1\u3000\u4e2d\u0663\u00b2")
    for t in texts:
        assert quality._char_counts(t) == naive(t)


def test_garbage_page_inside_a_good_paper_is_dropped_and_listed(tmp_path: Path) -> None:
    mixed = pymupdf.open(RCPP)
    mixed.insert_pdf(pymupdf.open(PAPERS / "lme4__PLSvGLS.pdf"), from_page=1, to_page=1)  # one soup page, 9th
    p = tmp_path / "mixed.pdf"
    mixed.save(p)
    doc = pdf.read_pdf(p)
    assert [s.title for s in doc.sections] == [f"page {i}" for i in range(1, 9)]
    assert [d["page"] for d in doc.quality["dropped_pages"]] == [9]
    assert doc.quality["dropped_pages"][0]["reason"].startswith("symbol share")
    assert "\u2761" not in doc.text


def test_garbage_page_is_ledgered_by_the_stage(tmp_path: Path) -> None:
    from golong_data.ingest.stage import run_ingest
    from golong_data.records import Rejection, read_records

    mixed = pymupdf.open(RCPP)
    mixed.insert_pdf(pymupdf.open(PAPERS / "lme4__PLSvGLS.pdf"), from_page=1, to_page=1)
    (tmp_path / "in").mkdir()
    mixed.save(tmp_path / "in" / "mixed.pdf")
    summary = run_ingest([tmp_path / "in"], tmp_path / "out", workers=1)
    rej = list(read_records(tmp_path / "out" / "rejected.jsonl", Rejection))
    assert summary.ingested == 1 and [(r.source.rsplit("#", 1)[1], r.reason) for r in rej] == [
        ("page=9", "pdf_garbage_page")
    ]


def test_t1_ligature_slots_restored() -> None:
    path = PAPERS / "survival__tiedtimes.pdf"
    assert "Roundo\x1b error" in pymupdf.open(path)[0].get_text()  # what the bare library gives
    doc = pdf.read_pdf(path)
    assert doc.title == "Roundoff error and Tied Times"
    assert "\x1b" not in doc.text and doc.text.count("roundoff") >= 1


def test_running_heads_removed_at_any_margin() -> None:
    # sandwich.pdf (JSS, A4): heads "N | Econometric Computing ..." / "Achim Zeileis | N" end at 10 % of the
    # page height, below the old fixed 9 % band, and survived on 10 + 10 of 21 pages.
    path = PAPERS / "sandwich__sandwich.pdf"
    raw = "".join(p.get_text() for p in pymupdf.open(path))
    title = "Econometric Computing with HC and HAC Covariance Matrix Estimators"
    doc = pdf.read_pdf(path)
    assert raw.count(title) == 11 and raw.count("Achim Zeileis") == 12
    flat = " ".join(doc.text.split())
    assert flat.count(title) == 2 and flat.startswith(title)  # the title on page 1, and its own citation
    assert flat.count("Achim Zeileis") == 2  # the author line and the address block


def test_unreadable_characters_measured_per_page() -> None:
    # lme4's Theory vignette: fonts without a Unicode map for math glyphs; pymupdf gives U+FFFD for them.
    path = PAPERS / "lme4__Theory.pdf"
    raw = [b[4] for p in pymupdf.open(path) for b in p.get_text("blocks", textpage=p.get_textpage())]
    assert sum(t.count("\ufffd") for t in raw) >= 200
    doc = pdf.read_pdf(path)
    # pages 8 and 19 are over 2 % such characters: dropped, with the measured reason (the stage ledgers it)
    assert [d["page"] for d in doc.quality["dropped_pages"]] == [8, 19]
    assert all(d["reason"].startswith("unreadable characters: ") for d in doc.quality["dropped_pages"])
    assert "page 8" not in [s.title for s in doc.sections]
    # elsewhere the isolated ones are removed and counted; none is left in the text
    assert doc.quality["removed_chars"] > 100 and "\ufffd" not in doc.text
    assert "Cholesky factor" in doc.text


def test_remove_bad_keeps_spacing_and_whitespace() -> None:
    from golong_data.ingest import chars

    assert chars.remove_bad("a \ufffd b\tc\nd\r\n") == "a b\tc\nd\r\n"
    assert chars.remove_bad("x\ue000\x95y\x00") == "xy" and chars.count_bad("x\ue000\x95y\x00 \x88") == 4
    assert chars.remove_bad("two  spaces stay") == "two  spaces stay"


def test_t1_punctuation_and_symbol_brackets_mapped_only_as_text() -> None:
    assert pdf._t1_text("SAS \x10type 3\x11 tests") == "SAS \u201ctype 3\u201d tests"  # survival's other.pdf
    assert pdf._t1_text("years 1986\x151989 and literature \x16 and debate") == (
        "years 1986\u20131989 and literature \u2014 and debate")
    assert pdf._t1_text("\x88 For all continuous") == "\u2022 For all continuous"
    assert pdf._t1_text("\uf8eb\n\uf8ec\n\uf8ed") == "\u239b\n\u239c\n\u239d"
    # coin's MAXtest: the same slots as big parentheses of a math font stay unmapped (then counted, removed)
    assert pdf._t1_text("wi\n\x10\ng(Xi)\u22a4\x11!") == "wi\n\x10\ng(Xi)\u22a4\x11!"
