"""Text-quality measures used to reject glyph garbage and to guess the language.

Fonts without a usable ToUnicode map make PDF text extract as symbol soup ("P❡♥❛❧✐③❡❞ ❧❡❛st sq✉❛r❡s"
from lme4's PLSvGLS vignette). Three measures, computed per page and per file (NFKC text, pages with at
least 200 non-space characters), measured over all 45 vignettes of the corpus (823 pages):

- symbol_share: share of non-space characters that are symbols (Unicode So), private-use, control or
  unassigned code points, or U+FFFD. Soup pages: 0.53-0.74. Every real page: <= 0.052 (lme4 lmer p.15).
  This is what separates them cleanly; it is the first test.
- letter_ratio: letters / non-space characters. Soup pages 0.24-0.30, but real table/code pages go as low
  as 0.28 (zoo-quickref p.6), so a low ratio alone proves nothing...
- known_word_share: ...share of words (2+ letters) that are among ~200 frequent English words.
  The second test is letters+digits < 0.40 of the characters AND < 10% known words: text that is neither
  words nor numbers (punctuation soup from fonts mapped to the wrong codes). Digits count, because real
  pages of numeric output (survival.pdf p.65: letters 0.39, known words 0.087) are content, not garbage.

Thresholds sit far from every measured real page (symbol share 0.20 vs at most 0.052).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# The most frequent English words (function words dominate every English register, so their share is a
# robust "is this English text?" signal even for math- and code-heavy papers).
COMMON_WORDS = frozenset(
    """
    a about above after again against all also an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how however i if in into is it its itself just let like may me might
    more most must my no nor not now of off on once one only or other our out over own same she should
    since so some such than that the their them then there these they this those through thus to too
    two under until up upon use used using very was we were what when where which while who whom why
    will with would you your first second new see given each where many well way even because must
    example function value values data model models number set time case show shows shown follows
    following section figure table results result method methods used also here both
    """.split()
)

_WORD = re.compile(r"[^\W\d_]{2,}")  # one-letter tokens are mostly math symbols

# Measured thresholds (module docstring): a text is glyph garbage when it fails either one, given enough
# material to judge (short pages, e.g. a title page or a figure, are not judged on their own).
MAX_SYMBOL_SHARE = 0.20
MIN_ALNUM_RATIO = 0.40
MIN_KNOWN_WORD_SHARE = 0.10
MIN_CHARS_TO_JUDGE = 200
# Repeated paragraphs (repeat_share, paragraphs of 40+ characters). Measured 2026-11-30: the 3 fixture EPUBs
# 0-0.7 %, 13 Debian-packaged EPUBs (live-manual in 10 languages, whose in-book contents page repeats its
# headings; the Ubuntu Packaging Guide de/fr/ru) 0.9-8.3 %, 50 corpus/fixture PDFs median 0, max 19.5 %
# (zoo-read's templated "Input class: ..." lines). A reader emitting a file once per spine fragment: 92 %.
MIN_REPEAT_PARA_CHARS = 40
MAX_REPEAT_SHARE = 0.5
_SYMBOL_CATEGORIES = frozenset({"So", "Co", "Cc", "Cn"})
_ASCII_RUNS = re.compile(r"[\x00-\x7f]+")
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())
_ASCII_LETTERS = bytes(c for c in range(128) if chr(c).isalpha())
_ASCII_DIGITS = b"0123456789"
_ASCII_CONTROL = bytes(c for c in range(128) if unicodedata.category(chr(c)) == "Cc" and not chr(c).isspace())


def _char_counts(text: str) -> tuple[int, int, int, int]:
    """(non-space, letters, digits, symbols) of `text`. These run on every page of every PDF, so the ASCII
    bulk is counted with bytes.translate (C speed) and only the distinct non-ASCII characters are classified."""
    ascii_bytes = text.encode("ascii", "ignore")
    n = len(ascii_bytes)
    nonspace = len(ascii_bytes.translate(None, _ASCII_SPACE))
    letters = n - len(ascii_bytes.translate(None, _ASCII_LETTERS))
    digits = n - len(ascii_bytes.translate(None, _ASCII_DIGITS))
    symbols = n - len(ascii_bytes.translate(None, _ASCII_CONTROL))
    if n < len(text):
        for c, k in Counter(_ASCII_RUNS.sub("", text)).items():
            if c.isspace():
                continue
            nonspace += k
            if c.isalpha():
                letters += k
            elif c.isdigit():
                digits += k
            elif c == "\ufffd" or unicodedata.category(c) in _SYMBOL_CATEGORIES:
                symbols += k
    return nonspace, letters, digits, symbols


def symbol_share(text: str) -> float:
    nonspace, _, _, symbols = _char_counts(text)
    return symbols / nonspace if nonspace else 0.0


def letter_ratio(text: str) -> float:
    nonspace, letters, _, _ = _char_counts(text)
    return letters / nonspace if nonspace else 0.0


def known_word_share(text: str) -> float:
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0
    return sum(map(COMMON_WORDS.__contains__, words)) / len(words)


def repeat_share(text: str) -> float:
    """Share of the paragraphs (blank-line separated, at least MIN_REPEAT_PARA_CHARS long) that repeat an
    earlier one exactly. Short paragraphs ("Yes.", a lone heading, a dialogue's "thanks") repeat naturally
    and are not counted."""
    seen: set[str] = set()
    total = repeats = 0
    for p in text.split("\n\n"):
        p = p.strip()
        if len(p) < MIN_REPEAT_PARA_CHARS:
            continue
        total += 1
        if p in seen:
            repeats += 1
        else:
            seen.add(p)
    return repeats / total if total else 0.0


def repeat_reason(q: dict[str, float]) -> str | None:
    """Why a document's quality figures (measure()) say its text repeats too much to use, or None."""
    share = q.get("repeat_share", 0.0)
    if share > MAX_REPEAT_SHARE:
        return f"{share:.1%} of its paragraphs repeat an earlier one (> {MAX_REPEAT_SHARE:.0%})"
    return None


def measure(text: str) -> dict[str, float]:
    """The quality figures stored in Document.quality."""
    nonspace, letters, _, symbols = _char_counts(text)
    return {
        "letter_ratio": round(letters / nonspace, 4) if nonspace else 0.0,
        "known_word_share": round(known_word_share(text), 4),
        "symbol_share": round(symbols / nonspace, 4) if nonspace else 0.0,
        "repeat_share": round(repeat_share(text), 4),
    }


def garbage_reason(text: str) -> str | None:
    """Why `text` looks like glyph garbage, or None when it looks like real text (or is too short to judge)."""
    nonspace, letters, digits, symbols = _char_counts(text)
    if nonspace < MIN_CHARS_TO_JUDGE:
        return None
    sym = symbols / nonspace
    if sym > MAX_SYMBOL_SHARE:
        return f"symbol share {sym:.2f} > {MAX_SYMBOL_SHARE}"
    alnum = (letters + digits) / nonspace
    if alnum < MIN_ALNUM_RATIO:
        kw = known_word_share(text)
        if kw < MIN_KNOWN_WORD_SHARE:
            return f"letter+digit ratio {alnum:.2f} < {MIN_ALNUM_RATIO}, known words {kw:.3f} < {MIN_KNOWN_WORD_SHARE}"
    return None


def guess_lang(text: str) -> str:
    """'en' when frequent English words make up a normal share of the words, else 'und' (undetermined)."""
    return "en" if known_word_share(text[:200_000]) >= MIN_KNOWN_WORD_SHARE else "und"
