"""Characters that carry no text: U+FFFD, private-use code points, C0 and C1 control characters.

Extractors produce them when a font has no usable Unicode map (a PDF glyph becomes U+FFFD or a private-use
code), and exports leak them from legacy encodings. A reader maps what it can identify first (pdf.py maps
TeX font slots and Adobe Symbol's bracket pieces); what is left is counted here and removed: it is noise a
model would learn to copy. Tab, newline and carriage return are ordinary whitespace and stay.
"""

from __future__ import annotations

import re

_CLASS = "[\ufffd\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
BAD = re.compile(_CLASS)
# a run between two spaces takes one of them along, so "a \ufffd b" becomes "a b", not "a  b"
_RUN = re.compile(f"(?<= ){_CLASS}+ |{_CLASS}+")


def count_bad(text: str) -> int:
    """How many U+FFFD / private-use / C0 (except tab, newline, CR) / C1 characters the text holds."""
    return len(BAD.findall(text))


def remove_bad(text: str) -> str:
    """The text without those characters; a run of them between two spaces leaves one space."""
    return _RUN.sub("", text) if BAD.search(text) else text
