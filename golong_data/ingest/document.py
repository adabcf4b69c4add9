"""Building Document records: text assembled from parts with exact section offsets, id, source, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golong_data.ingest import quality
from golong_data.records import Document, Section, content_id, sha256_file
from golong_data.tokens import count_tokens


@dataclass
class Part:
    """One section's worth of text before assembly: a chapter, page or turn."""

    kind: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    prefix: str = ""  # text written before the section's span (e.g. "alice: " before a turn), not part of it


def assemble(parts: list[Part], sep: str = "\n\n") -> tuple[str, list[Section]]:
    """Join parts with `sep`; each Section's [start, end) slices exactly its part's text."""
    pieces: list[str] = []
    sections: list[Section] = []
    pos = 0
    for i, p in enumerate(parts):
        if i:
            pieces.append(sep)
            pos += len(sep)
        pieces.append(p.prefix)
        pos += len(p.prefix)
        sections.append(Section(kind=p.kind, title=p.title, start=pos, end=pos + len(p.text), meta=dict(p.meta)))
        pieces.append(p.text)
        pos += len(p.text)
    return "".join(pieces), sections


def build_document(
    kind: str,
    title: str,
    path: Path,
    fmt: str,
    parts: list[Part],
    *,
    sep: str = "\n\n",
    lang: str | None = None,
    extra_quality: dict[str, Any] | None = None,
    source_extra: dict[str, Any] | None = None,
    text: str | None = None,
    sections: list[Section] | None = None,
    sha256: str | None = None,
) -> Document:
    """A Document from parts (or from ready text + sections); id from the text's content hash."""
    if text is None:
        text, sections = assemble(parts, sep)
    # many Documents can come from one file (a chat collection): callers pass its hash, computed once
    source: dict[str, Any] = {"path": str(path), "sha256": sha256 or sha256_file(path), "format": fmt}
    if source_extra:
        source.update(source_extra)
    q: dict[str, Any] = quality.measure(text)
    if extra_quality:
        q.update(extra_quality)
    return Document(
        id=content_id("doc", text),
        kind=kind,
        title=title,
        lang=lang or quality.guess_lang(text),
        source=source,
        text=text,
        sections=list(sections or []),
        n_tokens=count_tokens(text),
        quality=q,
    )
