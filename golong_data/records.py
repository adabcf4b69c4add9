"""The record contract between stages, and JSONL I/O with atomic writes.

Every stage consumes and yields these shapes (see the README's architecture section):
Document (ingest) -> Chunk (chunk, dedup) -> Sample (synthesize, verify) -> export rows.
Anything a stage drops becomes a Rejection in its `rejected.jsonl`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, TypeVar

from golong_data.errors import GolongError


@dataclass
class Section:
    """A span of a document's text: a chapter, page, dialogue turn or section."""

    kind: str  # chapter | page | turn | section
    title: str
    start: int  # character offsets into Document.text; text[start:end] is the section
    end: int
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"speaker": ..., "timestamp": ...}


@dataclass
class Document:
    id: str  # "doc-<sha256 of text, 16 hex>": stable across reruns and file names
    kind: str  # book | paper | dialogue | text
    title: str
    lang: str
    source: dict[str, Any]  # {"path", "sha256", "format"}
    text: str
    sections: list[Section] = field(default_factory=list)
    n_tokens: int = 0
    quality: dict[str, Any] = field(default_factory=dict)


@dataclass
class Chunk:
    id: str
    doc_id: str
    start: int  # doc.text[start:end] is the chunk, exactly
    end: int
    n_tokens: int
    section: int | None = None  # index into Document.sections, when the chunk lies inside one


@dataclass
class Sample:
    id: str
    task_type: str
    capability: list[str]
    metric: str
    route: dict[str, str]  # {"data_source", "reward_mode"}: the official reward router's keys
    prompt: list[dict[str, str]]  # chat messages
    ground_truth: dict[str, Any]  # {"doc_ids": [...], "golden_label": "...", "summary": ""}
    evidence: list[dict[str, Any]] = field(default_factory=list)  # [{"doc_id", "start", "end"}]
    n_tokens: int = 0
    bucket: str = ""
    generator: dict[str, Any] = field(default_factory=dict)
    verification: dict[str, Any] = field(default_factory=dict)
    answer: str = ""  # the gold answer written in the task's answer format (what a perfect model says)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rejection:
    stage: str
    source: str  # a path or a record id
    reason: str  # a short machine-readable key, e.g. "pdf_encrypted"
    detail: str = ""  # human-readable specifics


R = TypeVar("R")


def content_id(prefix: str, *parts: str) -> str:
    """A stable id from content: same content, same id, whatever the file was called."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return f"{prefix}-{h.hexdigest()[:16]}"


def to_dict(record: Any) -> dict[str, Any]:
    return record if isinstance(record, dict) else asdict(record)


def from_dict(cls: type[R], data: dict[str, Any]) -> R:
    """Build a record from a dict, ignoring unknown keys (newer writers) and nesting Sections."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in data.items() if k in names}
    if cls is Document and "sections" in kwargs:
        kwargs["sections"] = [s if isinstance(s, Section) else Section(**s) for s in kwargs["sections"]]
    return cls(**kwargs)


def dumps(record: Any) -> str:
    """One canonical JSON line: field order fixed, no whitespace, UTF-8 kept (byte-identical reruns)."""
    return json.dumps(to_dict(record), ensure_ascii=False, separators=(",", ":"))


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a JSONL file; a bad line is an error naming file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                yield parse_jsonl_line(path, lineno, line)


def jsonl_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(byte offset, length, raw line) of each non-empty line, reading the file once: the one offset-based
    reader (a record is re-read later with one seek; export skips parsing the 64K-token prompt)."""
    with open(path, "rb") as f:
        offset = 0
        for line in f:
            # A JSON object line starts with "{": test one byte, not strip() a 256 KB line.
            if line[:1] == b"{" or line.strip():
                yield offset, len(line), line
            offset += len(line)


def line_offsets(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(byte offset, object) for each JSON line; a bad line is an error naming file and line."""
    with open(path, "rb") as f:
        offset = 0
        for lineno, line in enumerate(f, 1):
            if line[:1] == b"{" or line.strip():
                yield offset, parse_jsonl_line(path, lineno, line)
            offset += len(line)


def parse_jsonl_line(path: Path, lineno: int, line: str | bytes) -> dict[str, Any]:
    """One JSONL line as an object; anything else is an error naming file and line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise GolongError(f"{path}:{lineno}: not valid JSON ({e.msg})", "fix or remove that line") from e
    if not isinstance(obj, dict):
        raise GolongError(f"{path}:{lineno}: expected a JSON object per line")
    return obj


def read_records(path: Path, cls: type[R]) -> Iterator[R]:
    for obj in iter_jsonl(path):
        yield from_dict(cls, obj)


def stage_file(directory: Path, name: str) -> Path:
    """The main output file of a stage directory, with a clear error when it is not there."""
    p = Path(directory) / name
    if not p.exists():
        raise GolongError(
            f"{p} not found", f"run the stage that writes {name} first, or point --in at its output directory"
        )
    return p


@contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, fsync, then rename over it.

    Readers see the old file or the whole new one, never half of one; a crash leaves only a
    `.tmp` file that the next run overwrites.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        text = "b" not in mode
        with os.fdopen(fd, mode, encoding="utf-8" if text else None, errors="backslashreplace" if text else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Atomically write records as JSONL; returns the number written."""
    n = 0
    with atomic_open(path) as f:
        for r in records:
            f.write(dumps(r))
            f.write("\n")
            n += 1
    return n


def sha256_file(path: Path, bufsize: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(bufsize):
            h.update(chunk)
    return h.hexdigest()
