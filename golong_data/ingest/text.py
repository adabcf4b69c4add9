"""Plain text and Markdown -> Document.

A book with "Chapter N" / "CHAPTER IV" heading lines (the Project Gutenberg layout of the Austen novels)
becomes kind "book" with one "chapter" section per heading, running to the next heading. Chapter numbers
that restart in each volume or part (Emma: three "CHAPTER I") are kept apart by the heading above them:
the section is titled "VOLUME I, CHAPTER I"; any title still repeated gets " (2)", " (3)". Markdown gets a
"section" per ATX heading. A file of "speaker: text" lines is a dialogue (dialogue.transcript_document).
The text itself is kept as written (line endings normalised to \\n), so offsets point into the file's words.
"""

from __future__ import annotations

import re
from pathlib import Path

from golong_data.errors import InputError
from golong_data.ingest.dialogue import looks_like_transcript, transcript_document
from golong_data.ingest.document import build_document
from golong_data.records import Document, Section

CHAPTER = re.compile(r"^[ \t]*(?:chapter|CHAPTER|Chapter)[ \t]+([0-9]+|[IVXLCDM]+)\b[^\n]*$", re.M)
VOLUME = re.compile(r"^[ \t]*(?:VOLUME|Volume|PART|Part|BOOK|Book)[ \t]+([0-9]+|[IVXLCDM]+)[ \t.]*$", re.M)
MD_HEADING = re.compile(r"^(#{1,3})[ \t]+(.+?)[ \t#]*$", re.M)


def decode_text(path: Path) -> str:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise InputError("binary_file", "contains NUL bytes; not a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError("text_not_utf8", f"byte {e.start}: not UTF-8") from e
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _spans(
    matches: list[re.Match[str]], text: str, kind: str, title_group: int, volumes: list[re.Match[str]] = ()
) -> list[Section]:
    """One section per heading match: from the heading line to the next heading or volume heading (trailing
    blank lines out), titled with the volume heading above it when there is one; repeats numbered."""
    sections = []
    stops = sorted([m.start() for m in matches[1:]] + [v.start() for v in volumes] + [len(text)])
    seen: dict[str, int] = {}
    for m in matches:
        end = next(p for p in stops if p > m.start())
        end = m.start() + len(text[m.start() : end].rstrip())
        title = re.sub(r"\s+", " ", m.group(0).strip() if kind == "chapter" else m.group(title_group)).strip()
        vol = [v for v in volumes if v.start() < m.start()]
        if vol:
            title = f"{' '.join(vol[-1].group(0).split()).rstrip('.')}, {title}"
        seen[title] = seen.get(title, 0) + 1
        sections.append(Section(kind=kind, title=title if seen[title] == 1 else f"{title} ({seen[title]})",
                                start=m.start(), end=end))
    return sections


def read_text(path: Path) -> Document:
    """A .txt/.md file -> Document (a transcript-shaped file becomes a dialogue Document)."""
    text = decode_text(path)
    if not text.strip():
        raise InputError("text_empty", "the file has no text")
    if path.suffix.lower() != ".md" and looks_like_transcript(text):
        return transcript_document(path, text)
    fmt = "md" if path.suffix.lower() in (".md", ".markdown") else "txt"
    chapters = list(CHAPTER.finditer(text))
    if len(chapters) >= 2:
        sections = _spans(chapters, text, "chapter", 0, list(VOLUME.finditer(text)))
        kind = "book"
    elif fmt == "md":
        sections = _spans(list(MD_HEADING.finditer(text)), text, "section", 2)
        kind = "text"
    else:
        sections, kind = [], "text"
    first_line = next((ln.strip() for ln in text.splitlines() if ln.strip()), path.stem)
    h1 = MD_HEADING.search(text) if fmt == "md" else None
    title = (h1.group(2).strip() if h1 else first_line.lstrip("# ").strip())[:300]
    return build_document(kind, title, path, fmt, [], text=text, sections=sections)
