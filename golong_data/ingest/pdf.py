"""PDF papers -> Document, with pymupdf.

Per page we take pymupdf's text blocks (the fastest structured mode: position + text), then:
1. reading order: on two-column pages, left column before right column within each band between
   full-width blocks (titles, wide figures); single-column pages keep the content-stream order;
2. running headers/footers: blocks in the top/bottom band whose text (digits masked) repeats on many
   pages, and bare page numbers there, are removed;
3. lines of a block are reflowed into one paragraph, joining words hyphenated across line ends;
4. NFKC folds ligatures ("ﬁ" -> "fi") and compatibility forms;
5. glyph garbage (fonts without a ToUnicode map) is measured per page and per file (quality.py).
Sections are pages (kind "page", title "page N") with exact offsets into the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from golong_data.errors import InputError
from golong_data.ingest import chars, quality
from golong_data.ingest.document import Part, build_document
from golong_data.records import Document

# Header/footer band: a running head starts in the top 15 % of the page (a foot ends in the bottom 15 %).
_BAND = 0.15
# A block repeating (digits masked) in the band on at least this share of pages is a running head/foot.
_REPEAT_SHARE = 0.3
_PAGE_NUMBER = re.compile(r"^\s*(page\s+)?[-–—]?\s*(\d{1,4}|[ivxlcdm]{1,7})\s*[-–—]?\s*$", re.I)
_DIGITS = re.compile(r"\d+")
# TeX T1-encoded fonts without a ToUnicode map leak their low slots as control characters (survival's
# tiedtimes.pdf: "Roundo\x1b error" for "Roundoff error"); T1 puts ff fi fl ffi ffl at 0x1B-0x1F.
# Adobe Symbol writes the pieces of tall brackets (matrices, cases) as private-use codes U+F8EB-U+F8FE,
# which Unicode has as U+239B-U+23AD.
_T1_SLOTS = re.compile("[\x10-\x16\x1b-\x1f\x88\uf8eb-\uf8fe]")
_T1_LIGATURES = str.maketrans({
    "\x1b": "ff", "\x1c": "fi", "\x1d": "fl", "\x1e": "ffi", "\x1f": "ffl",
    **{chr(0xF8EB + i): c for i, c in enumerate("⎛⎜⎝⎡⎢⎣⎧⎨⎩⎪⎮⎞⎟⎠⎤⎥⎦⎫⎬⎭")},
})
# T1 also puts “ ” at 0x10/0x11 and – — at 0x15/0x16 (strucchange: "\x10dating\x11", "1986\x151989"), and
# the TS1 companion font's 0x88 is the itemize bullet (survival: "\x88 For all continuous covariates").
# Math extension fonts use the same slots for big delimiters (coin's MAXtest: "\x10\ng(Xi)g(Xi)⊤\x11"), so
# these are mapped only where they sit as text punctuation; the rest are left to the unreadable count.
_T1_PUNCT = re.compile(r"\x10(?=\w)|(?<=[\w.,;:!?'])\x11|(?<=\w)\x15(?=\w)|(?<=[\w ])\x16(?=[\w ])|^\x88(?= )", re.M)
_T1_PUNCT_MAP = {"\x10": "\u201c", "\x11": "\u201d", "\x15": "\u2013", "\x16": "\u2014", "\x88": "\u2022"}


def _t1_text(text: str) -> str:
    """Leaked T1/TS1 slots and Adobe Symbol bracket pieces -> the characters they stand for."""
    if not _T1_SLOTS.search(text):  # (translate is slow)
        return text
    return _T1_PUNCT.sub(lambda m: _T1_PUNCT_MAP[m.group()], text.translate(_T1_LIGATURES))


# A page whose text is more than this share U+FFFD / private-use / control characters (what is left after
# the maps above; non-space characters counted) is dropped and ledgered; fewer are removed. Set from the
# 45 corpus vignettes' pages (README): math-heavy pages typeset with unmapped fonts cross it.
MAX_BAD_SHARE = 0.02
# A line ending in letter + hyphen whose next line starts with a lowercase letter: a word split by the
# typesetter (or a real compound split at its hyphen; see _join_hyphenated).
_HYPHEN_END = re.compile(r"([^\W\d_]+)-$")
_WORD_START = re.compile(r"^([^\W\d_]+)")


@dataclass
class _Block:
    x0: float
    y0: float
    x1: float
    y1: float
    lines: list[str]


@dataclass
class PdfPages:
    """Pages of a PDF as cleaned text (paragraphs split by blank lines); `garbage` maps page index -> reason
    for pages judged glyph garbage, `unreadable` for pages over MAX_BAD_SHARE unreadable characters;
    `removed_chars` counts the unreadable characters taken out of the pages kept."""

    title: str
    pages: list[str]
    garbage: dict[int, str]
    unreadable: dict[int, str] = field(default_factory=dict)
    removed_chars: int = 0


def _open(path: Path) -> pymupdf.Document:
    data = path.read_bytes()
    if not data.strip():
        raise InputError("pdf_empty", "the file is empty")
    if not data.lstrip().startswith(b"%PDF-"):
        raise InputError("pdf_invalid", "no %PDF- header")
    # A complete PDF ends with %%EOF (possibly followed by whitespace). mupdf silently repairs a cut file
    # and returns whatever pages survive, so truncation has to be caught here.
    if b"%%EOF" not in data[-1024:]:
        raise InputError("pdf_truncated", f"no %%EOF marker at the end ({len(data)} bytes): the file was cut short")
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as e:  # mupdf raises FileDataError / RuntimeError subclasses
        raise InputError("pdf_unreadable", f"{type(e).__name__}: {e}") from e
    if doc.needs_pass:
        doc.close()
        raise InputError("pdf_encrypted", "password-protected; cannot extract text without the user password")
    if doc.page_count == 0:
        doc.close()
        raise InputError("pdf_empty", "the PDF has no pages")
    return doc


def _blocks(page: pymupdf.Page, textpage: pymupdf.TextPage) -> list[_Block]:
    out = []
    for b in page.get_text("blocks", textpage=textpage):
        if b[6] != 0:  # image block
            continue
        text = _t1_text(b[4])
        lines = [ln for ln in map(str.strip, text.split("\n")) if ln]
        if lines:
            out.append(_Block(b[0], b[1], b[2], b[3], lines))
    return out


def reading_order(blocks: list[_Block], width: float) -> list[_Block]:
    """Blocks in reading order: two-column pages column by column within bands between full-width blocks.

    A block is 'left' when it ends before the page middle (plus a small gutter allowance), 'right' when it
    starts after it, otherwise 'full'. A page is two-column when both columns hold at least two blocks;
    otherwise the content-stream order (what the typesetter wrote, usually right) is kept.
    """
    mid, slack = width / 2, width * 0.03
    side = ["L" if b.x1 <= mid + slack else "R" if b.x0 >= mid - slack else "F" for b in blocks]
    if side.count("L") < 2 or side.count("R") < 2:
        return blocks
    ordered: list[_Block] = []
    band: list[tuple[str, _Block]] = []

    def flush() -> None:
        for col in ("L", "R"):
            ordered.extend(sorted((b for s, b in band if s == col), key=lambda b: (round(b.y0), b.x0)))
        band.clear()

    for s, b in sorted(zip(side, blocks, strict=True), key=lambda sb: (round(sb[1].y0), sb[1].x0)):
        if s == "F":
            flush()
            ordered.append(b)
        else:
            band.append((s, b))
    flush()
    return ordered


def _band_key(block: _Block, blocks: list[_Block], height: float) -> str | None:
    """'top'/'bottom' + the block's text (digits masked) for a block at a page edge: inside the band and with
    no other block wholly above (below) it. Running heads sit there whatever the margins (JSS's A4 heads end
    at 10 % of the page), while the body's first lines, which can repeat too ("Example 1"), have the head
    above them."""
    if block.y0 <= height * _BAND and not any(o.y1 <= block.y0 + 1 for o in blocks if o is not block):
        pos = "top"
    elif block.y1 >= height * (1 - _BAND) and not any(o.y0 >= block.y1 - 1 for o in blocks if o is not block):
        pos = "bottom"
    else:
        return None
    return pos + "\x00" + _DIGITS.sub("#", " ".join(block.lines))


def _strip_running(pages: list[list[_Block]], heights: list[float]) -> list[list[_Block]]:
    """Drop running headers/footers (edge blocks repeating on many pages), their variants at the same height,
    and bare page numbers at the edges."""
    keys = [[_band_key(b, blocks, h) for b in blocks] for blocks, h in zip(pages, heights, strict=True)]
    counts: Counter[str] = Counter()
    for ks in keys:
        counts.update({k for k in ks if k})
    need = max(2, round(_REPEAT_SHARE * len(pages)))
    running = {k for k, n in counts.items() if n >= need} if len(pages) >= 3 else set()
    # where each running head sits (its vertical extent over the pages), so a variant must sit there too
    spans: dict[str, tuple[float, float]] = {}
    for blocks, ks in zip(pages, keys, strict=True):
        for b, k in zip(blocks, ks, strict=True):
            if k in running:
                y0, y1 = spans.get(k, (b.y0, b.y1))
                spans[k] = (min(y0, b.y0), max(y1, b.y1))
    out = []
    for blocks, ks in zip(pages, keys, strict=True):
        kept = []
        for b, k in zip(blocks, ks, strict=True):
            if k is not None and (k in running or _PAGE_NUMBER.match(" ".join(b.lines)) or _like_running(k, b, spans)):
                continue
            kept.append(b)
        out.append(kept)
    return out


def _like_running(key: str, block: _Block, running: dict[str, tuple[float, float]]) -> bool:
    """An edge block sharing most of its words with a running head/foot at the same edge and height is a
    variant of it (e.g. the first page's footer, which adds the journal line to the running one); the
    title on page 1, as many words as the running head but lower on the page, is not."""
    pos, toks = key.split("\x00")[0], set(key.split())
    for k, (y0, y1) in running.items():
        t = set(k.split())
        if k.split("\x00")[0] == pos and len(toks & t) >= 0.5 * len(toks | t) and block.y0 < y1 and block.y1 > y0:
            return True
    return False


def _join_hyphenated(head: str, tail: str, vocab: str) -> str:
    """The joint for 'exam-' + 'ple...': '' (-> 'example') unless the document itself writes the hyphenated
    form (e.g. 'two-column') more often than the joined one: the text's own usage decides. `vocab` is the
    document's lowercased text; counting substrings there is cheap for the few split words of a paper."""
    m = _WORD_START.match(tail)
    second = m.group(1) if m else ""
    joined, hyphenated = (head + second).lower(), f"{head}-{second}".lower()
    n_joined = vocab.count(joined)
    if vocab.count(hyphenated) > n_joined:
        return "-"
    if n_joined == 0 and len(head) >= 5 and head.endswith("ly"):
        return "-"  # unseen either way: an -ly adverb before a hyphen is a compound ("statically-typed")
    return ""


def _paragraph(lines: list[str], vocab: str) -> str:
    out = [lines[0]]
    for prev, nxt in zip(lines, lines[1:], strict=False):
        m = _HYPHEN_END.search(prev) if prev.endswith("-") else None
        if m and nxt[:1].islower():
            out[-1] = out[-1][:-1]
            out.append(_join_hyphenated(m.group(1), nxt, vocab) + nxt)
        else:
            out.append(" " + nxt)
    return "".join(out)


def _splits_word(a: str, b: str) -> bool:
    return a.endswith("-") and bool(_HYPHEN_END.search(a)) and b[:1].islower()


def _continues(a: str, b: str) -> bool:
    """Block b continues block a's sentence: a ends mid-word, in a word or a comma, and b starts lowercase
    (a paragraph running from the foot of one column to the head of the next)."""
    return b[:1].islower() and (bool(_HYPHEN_END.search(a)) or a[-1:].isalnum() or a.endswith(","))


def _merge_split_paragraphs(blocks: list[_Block]) -> list[list[str]]:
    """Blocks as line groups, joining blocks that continue one paragraph (see _continues)."""
    groups: list[list[str]] = []
    for b in blocks:
        if groups and _continues(groups[-1][-1], b.lines[0]):
            groups[-1].extend(b.lines)
        else:
            groups.append(list(b.lines))
    return groups


def _carry_split_words(pages: list[list[list[str]]]) -> None:
    """A word hyphenated across a page break ('pa-' | 'per.') is completed on the first page, so each page
    section holds whole words; the rest of the paragraph stays on its own page."""
    for prev, cur in zip(pages, pages[1:], strict=False):
        if not prev or not cur or not _splits_word(prev[-1][-1], cur[0][0]):
            continue
        first, _, rest = cur[0][0].partition(" ")
        prev[-1].append(first)
        if rest:
            cur[0][0] = rest
        else:
            del cur[0][0]
            if not cur[0]:
                del cur[0]


def extract_pages(doc: pymupdf.Document) -> PdfPages:
    """Cleaned text per page, the title (largest font on page 1), and garbage pages."""
    raw, heights, title = [], [], ""
    for i, page in enumerate(doc):
        tp = page.get_textpage()  # one text analysis per page, shared by the block and title extractions
        rect = page.rect
        raw.append(reading_order(_blocks(page, tp), rect.width))
        heights.append(rect.height)
        if i == 0:
            title = _title(page.get_text("dict", textpage=tp))
    cleaned = _strip_running(raw, heights)
    line_groups = [_merge_split_paragraphs(blocks) for blocks in cleaned]
    _carry_split_words(line_groups)
    # The document's own text (lines joined by newlines, so split words are not counted as written forms)
    # decides how split words are joined.
    vocab = "\n".join(ln for groups in line_groups for g in groups for ln in g).lower()
    out = PdfPages(title=title, pages=[], garbage={})
    for i, groups in enumerate(line_groups):
        text = unicodedata.normalize("NFKC", "\n\n".join(_paragraph(g, vocab) for g in groups if g))
        reason = quality.garbage_reason(text)
        if reason:
            out.garbage[i] = reason
        elif n_bad := chars.count_bad(text):
            n = len("".join(text.split()))
            if n_bad > MAX_BAD_SHARE * n:
                out.unreadable[i] = (f"unreadable characters: {n_bad} of {n} (U+FFFD, private-use, control), "
                                     f"over {MAX_BAD_SHARE:.0%}")
            else:  # (a paragraph of nothing but such characters goes too: no blank paragraph is left)
                text = "\n\n".join(q for q in (chars.remove_bad(p).strip() for p in text.split("\n\n")) if q)
                out.removed_chars += n_bad
        out.pages.append(text)
    return out


def _title(page_dict: dict) -> str:
    """The text set in the largest font on the first page (a paper's title), spans joined in order."""
    spans = []
    for b in page_dict["blocks"]:
        for line in b.get("lines", []):
            for s in line["spans"]:
                text = _t1_text(s["text"]).strip()
                if text:
                    spans.append((round(s["size"], 1), text))
    if not spans:
        return ""
    top = max(size for size, _ in spans)
    title = " ".join(t for size, t in spans if size == top)
    return chars.remove_bad(unicodedata.normalize("NFKC", re.sub(r"\s+", " ", title))).strip()[:300]


def read_pdf(path: Path) -> Document:
    """A PDF file -> one paper Document; pages judged glyph garbage inside a good file are left out and
    listed in quality["dropped_pages"] (the stage ledgers them).

    Raises InputError for encrypted, truncated, empty, unreadable and glyph-garbage files.
    """
    doc = _open(path)
    try:
        pages = extract_pages(doc)
        meta_title = "" if len(pages.title) >= 3 else (doc.metadata or {}).get("title") or ""
    finally:
        doc.close()
    texts = [(i + 1, p) for i, p in enumerate(pages.pages)]
    if not any(t.strip() for _, t in texts):
        raise InputError("pdf_no_text", f"{len(texts)} pages but no extractable text (scanned images?)")
    judged = [i for i, (_, t) in enumerate(texts) if len("".join(t.split())) >= quality.MIN_CHARS_TO_JUDGE]
    whole = quality.garbage_reason("\n".join(t for _, t in texts))
    if whole or (judged and sum(i in pages.garbage for i in judged) * 2 > len(judged)):
        detail = whole or f"{len(pages.garbage)} of {len(judged)} text pages are glyph garbage"
        raise InputError("pdf_glyph_garbage", f"{detail} (fonts without a usable ToUnicode map?)")
    gone = {**pages.garbage, **pages.unreadable}
    parts = [Part("page", f"page {n}", t) for n, t in texts if (n - 1) not in gone and t.strip()]
    dropped = [{"page": i + 1, "reason": r} for i, r in sorted(gone.items())]
    title = pages.title if len(pages.title) >= 3 else unicodedata.normalize("NFKC", meta_title).strip()
    return build_document(
        "paper", title, path, "pdf", parts, extra_quality={"pages": len(texts), "dropped_pages": dropped,
                                                  "removed_chars": pages.removed_chars}
    )
