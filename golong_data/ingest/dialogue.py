"""Dialogues -> Documents, one per conversation, each turn a section with speaker/timestamp meta.

Shapes understood (detected from the data, not the file name):
- chitchat-dataset: {chat_id: {"messages": [[{"text", "timestamp", "sender"}, ...], ...]}}: each inner
  list is one speaker's turn (consecutive messages by the same sender);
- OpenAI: {"messages": [{"role", "content"}, ...]} (content a string or a list of {"type": "text"} parts);
- ShareGPT: {"conversations": [{"from", "value"}, ...]};
- JSON: one conversation object, or a list of them; JSONL: one conversation per line;
- plain transcript: lines "speaker: text" (continuation lines belong to the turn above).

Text layout: one line-group per turn, "speaker: text", turns separated by a newline. A turn section's
offsets cover the turn's own text only, so text[start:end] is exactly what the speaker said.

Speakers are shown by name: the corpus's own (OpenAI "name", ShareGPT "from", transcript labels) when it is
readable; an opaque id (chitchat's sender UUIDs, 28 % of the tokens of a chat-heavy context) becomes
"Speaker A", "Speaker B", ... in order of first appearance in its conversation, the id kept in the turn's
meta as "sender_id". A conversation without a title (chitchat's "prompt") is "<file> conversation N".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from golong_data.errors import InputError
from golong_data.ingest.chars import remove_bad
from golong_data.ingest.document import Part, build_document
from golong_data.records import Document, sha256_file

# "Name: text" — a short speaker label (no sentence punctuation) then a colon and the utterance.
TRANSCRIPT_LINE = re.compile(r"^([A-Za-z][\w .'()\-]{0,39}?)\s*:\s+(\S.*)$")


# A machine id, not a name: a UUID, a long hex string, or one long token of letters and digits.
OPAQUE_ID = re.compile(r"[0-9a-fA-F-]{16,}|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{20,}")


def _turn_part(speaker: str, text: str, meta: dict[str, Any]) -> Part:
    speaker = str(speaker).strip() or "unknown"
    return Part("turn", speaker, remove_bad(text), meta={"speaker": speaker, **meta}, prefix=f"{speaker}: ")


def readable_speakers(parts: list[Part]) -> list[Part]:
    """Turns with opaque speaker ids replaced by "Speaker A", "Speaker B", ... (first appearance order in
    this conversation; letters already used as a name are skipped); readable names are kept."""
    names = {p.meta["speaker"] for p in parts}
    letters = (f"Speaker {chr(65 + i % 26)}{i // 26 or ''}" for i in range(10**6))
    alias: dict[str, str] = {}
    out = []
    for p in parts:
        sp = p.meta["speaker"]
        if not OPAQUE_ID.fullmatch(sp):
            out.append(p)
            continue
        if sp not in alias:
            alias[sp] = next(n for n in letters if n not in names)
        a = alias[sp]
        out.append(Part(p.kind, a, p.text, meta={**p.meta, "speaker": a, "sender_id": sp}, prefix=f"{a}: "))
    return out


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return "" if content is None else str(content)


def _chitchat_turns(chat: dict[str, Any]) -> list[Part]:
    parts = []
    for turn in chat.get("messages") or []:
        msgs = [m for m in (turn if isinstance(turn, list) else [turn]) if isinstance(m, dict)]
        text = "\n".join(str(m.get("text", "")).strip() for m in msgs if str(m.get("text", "")).strip())
        if not text:
            continue
        meta: dict[str, Any] = {}
        stamps = [m["timestamp"] for m in msgs if m.get("timestamp") is not None]
        if stamps:
            meta["timestamp"] = stamps[0]
            if len(stamps) > 1:
                meta["timestamp_end"] = stamps[-1]
        parts.append(_turn_part(str(msgs[0].get("sender", "")), text, meta))
    return parts


def _openai_turns(messages: list[Any]) -> list[Part]:
    parts = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        text = _content_text(m.get("content")).strip()
        if text:
            meta = {"timestamp": m["timestamp"]} if m.get("timestamp") is not None else {}
            parts.append(_turn_part(m.get("name") or m.get("role") or "unknown", text, meta))
    return parts


def _sharegpt_turns(convs: list[Any]) -> list[Part]:
    parts = []
    for m in convs:
        if isinstance(m, dict) and str(m.get("value", "")).strip():
            meta = {"timestamp": m["timestamp"]} if m.get("timestamp") is not None else {}
            parts.append(_turn_part(m.get("from") or "unknown", str(m["value"]).strip(), meta))
    return parts


def conversation_turns(obj: Any) -> list[Part] | None:
    """Turns of one conversation object, or None when the object is not a known conversation shape."""
    if isinstance(obj, dict):
        msgs = obj.get("messages")
        if isinstance(msgs, list) and msgs and isinstance(msgs[0], list):
            return _chitchat_turns(obj)
        if isinstance(msgs, list):
            return _openai_turns(msgs)
        if isinstance(obj.get("conversations"), list):
            return _sharegpt_turns(obj["conversations"])
    if isinstance(obj, list) and obj and all(isinstance(m, dict) and "role" in m for m in obj):
        return _openai_turns(obj)  # a bare message list
    return None


def _conversations(data: Any) -> list[tuple[str, Any]]:
    """(key, conversation object) pairs in file order."""
    if isinstance(data, list):
        if conversation_turns(data) is not None and data and "role" in data[0]:
            return [("0", data)]
        return [(str(i), c) for i, c in enumerate(data)]
    if isinstance(data, dict):
        if conversation_turns(data) is not None:
            return [("0", data)]
        # chitchat: a mapping of id -> conversation
        return [(str(k), v) for k, v in data.items()]
    return []


def _documents(path: Path, fmt: str, convs: list[tuple[str, Any]]) -> list[Document | InputError]:
    out: list[Document | InputError] = []
    digest = sha256_file(path)
    for n, (key, conv) in enumerate(convs):
        turns = conversation_turns(conv)
        if turns is None:
            out.append(InputError("dialogue_unknown_shape", f"conversation {key!r}: not chitchat/OpenAI/ShareGPT"))
            continue
        if not turns:
            out.append(InputError("dialogue_empty", f"conversation {key!r} has no non-empty turns"))
            continue
        # chitchat chats carry their topic as "prompt"; an id (a UUID key) is no title
        title = str(conv.get("title") or conv.get("prompt") or conv.get("id") or "") if isinstance(conv, dict) else ""
        if not title.strip() or OPAQUE_ID.fullmatch(title.strip()):
            title = f"{path.stem} conversation {n + 1}"
        title = remove_bad(" ".join(title.split()))
        extra = {"conversation": key}
        out.append(build_document("dialogue", title, path, fmt, readable_speakers(turns), sep="\n",
                                  source_extra=extra, sha256=digest))
    return out


def read_dialogue_json(path: Path) -> list[Document | InputError]:
    """A .json/.jsonl file -> one Document per conversation, or an InputError per unusable conversation.

    Raises InputError when the file as a whole cannot be read.
    """
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path)
    try:
        raw = path.read_text(encoding="utf-8", errors="strict") if path.stat().st_size else ""
    except UnicodeDecodeError as e:
        raise InputError("dialogue_not_utf8", f"byte {e.start}: not UTF-8") from e
    if not raw.strip():
        raise InputError("dialogue_empty", "the file is empty")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise InputError("json_invalid", f"line {e.lineno}: {e.msg}") from e
    except RecursionError as e:
        raise InputError("json_too_deep", "nesting deeper than the parser's recursion limit") from e
    convs = _conversations(data)
    if not convs or all(conversation_turns(c) is None for _, c in convs):
        raise InputError("dialogue_unknown_shape", "no chitchat / OpenAI messages / ShareGPT conversations found")
    return _documents(path, "json", convs)


# One conversation per JSONL line; a line past this is ledgered unread (16 MiB of text is ~4M tokens, far past
# any context we build), so memory stays bounded however long a line is.
MAX_LINE_BYTES = 16 << 20


def _read_jsonl(path: Path) -> list[Document | InputError]:
    """Stream a JSONL file: each line parsed alone, an over-long line skipped without being held in memory."""
    convs: list[tuple[str, Any]] = []
    skipped: list[InputError] = []
    with open(path, "rb") as f:
        lineno = 0
        while True:
            line = f.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            lineno += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass  # drain the rest of the line in bounded pieces
                skipped.append(InputError("line_too_large", f"line {lineno}: over {MAX_LINE_BYTES >> 20} MiB"))
                continue
            if not line.strip():
                continue
            try:
                convs.append((f"line {lineno}", json.loads(line.decode("utf-8"))))
            except UnicodeDecodeError as e:
                raise InputError("dialogue_not_utf8", f"line {lineno}, byte {e.start}: not UTF-8") from e
            except json.JSONDecodeError as e:
                raise InputError("json_invalid", f"line {lineno}: {e.msg}") from e
    if not convs and not skipped:
        raise InputError("dialogue_empty", "the file is empty")
    return [*_documents(path, "jsonl", convs), *skipped] if convs else skipped


def looks_like_transcript(text: str) -> bool:
    """The text opens with a 'speaker: text' line, and a few speakers (each seen at least twice) take
    turns on at least a quarter of the lines (the rest may be continuation lines of multi-line turns)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:400]
    if len(lines) < 2 or not TRANSCRIPT_LINE.match(lines[0]):
        return False
    speakers = Counter(m.group(1) for ln in lines if (m := TRANSCRIPT_LINE.match(ln)))
    turns = sum(speakers.values())
    regular = [s for s, n in speakers.items() if n >= 2]
    return len(regular) >= 2 and turns >= 0.25 * len(lines) and sum(speakers[s] for s in regular) >= 0.8 * turns


def transcript_document(path: Path, text: str) -> Document:
    """A 'speaker: text' transcript -> one Document; continuation lines join the turn above."""
    turns: list[list[str]] = []  # [speaker, text]
    for ln in text.splitlines():
        m = TRANSCRIPT_LINE.match(ln.strip())
        if m:
            turns.append([m.group(1).strip(), m.group(2).strip()])
        elif ln.strip() and turns:
            turns[-1][1] += "\n" + ln.strip()
    parts = readable_speakers([_turn_part(s, t, {}) for s, t in turns])
    if not parts:
        raise InputError("dialogue_empty", "no 'speaker: text' lines")
    return build_document("dialogue", path.stem, path, "txt", parts, sep="\n")
