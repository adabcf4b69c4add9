"""Dialogue ingest on real chats (chitchat-dataset): every turn's offsets slice back to what was said."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golong_data.errors import InputError
from golong_data.ingest import dialogue, text

CHATS = Path(__file__).parent.parent / "fixtures" / "dialogues" / "chitchat_sample.json"


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(CHATS.read_text(encoding="utf-8"))


def test_chitchat_one_document_per_chat_turns_slice_exactly(raw: dict) -> None:
    docs = dialogue.read_dialogue_json(CHATS)
    assert len(docs) == len(raw) == 120
    for doc, (chat_id, chat) in zip(docs, raw.items(), strict=True):
        assert doc.kind == "dialogue" and doc.source["conversation"] == chat_id
        turns = [t for t in chat["messages"] if any(m["text"].strip() for m in t)]
        assert len(doc.sections) == len(turns)
        # the senders are UUIDs: shown as Speaker A, B in order of first appearance, the id kept in meta
        senders = list(dict.fromkeys(t[0]["sender"] for t in turns))
        for s, turn in zip(doc.sections, turns, strict=True):
            said = "\n".join(m["text"].strip() for m in turn if m["text"].strip())
            assert doc.text[s.start : s.end] == said
            name = "Speaker " + "AB"[senders.index(turn[0]["sender"])]
            assert s.kind == "turn" and s.meta["speaker"] == name == s.title
            assert s.meta["sender_id"] == turn[0]["sender"]
            assert s.meta["timestamp"] == turn[0]["timestamp"]
            assert doc.text[: s.start].endswith(f"{name}: ")
        assert chat_id not in doc.text and not dialogue.OPAQUE_ID.search(doc.text + doc.title)


def test_chitchat_titles_are_topics_or_numbered_never_ids(raw: dict) -> None:
    docs = dialogue.read_dialogue_json(CHATS)
    untitled = [n for n, c in enumerate(raw.values()) if not c.get("prompt")]
    assert untitled  # the sample has chats without a "prompt" (their key, a UUID, was their title)
    for n, (doc, chat) in enumerate(zip(docs, raw.values(), strict=True)):
        assert doc.title == (chat.get("prompt") or f"chitchat_sample conversation {n + 1}").strip()


def test_readable_names_are_kept(tmp_path: Path) -> None:
    p = tmp_path / "talk.txt"
    p.write_text("Alice: hi there\nBob: hello\nAlice: how are you?\nBob: fine\n", encoding="utf-8")
    doc = text.read_text(p)
    assert [s.meta["speaker"] for s in doc.sections] == ["Alice", "Bob", "Alice", "Bob"]


def first_chat_as(raw: dict, shape: str) -> tuple[object, list[tuple[str, str]]]:
    """The first real chat re-expressed in another format, and its expected (speaker, text) turns."""
    chat = next(iter(raw.values()))
    turns = [(t[0]["sender"], "\n".join(m["text"] for m in t)) for t in chat["messages"]]
    roles = {turns[0][0]: "user"}
    expected = [(roles.get(s, "assistant"), t) for s, t in turns]
    if shape == "openai":
        return {"messages": [{"role": r, "content": t} for r, t in expected]}, expected
    if shape == "openai-parts":
        return {"messages": [{"role": r, "content": [{"type": "text", "text": t}]} for r, t in expected]}, expected
    ex = [("human" if r == "user" else "gpt", t) for r, t in expected]
    return {"conversations": [{"from": f, "value": t} for f, t in ex]}, ex


@pytest.mark.parametrize("shape", ["openai", "openai-parts", "sharegpt"])
def test_openai_and_sharegpt_json_and_jsonl(tmp_path: Path, raw: dict, shape: str) -> None:
    conv, expected = first_chat_as(raw, shape)
    (tmp_path / "one.json").write_text(json.dumps(conv), encoding="utf-8")
    (tmp_path / "many.jsonl").write_text(json.dumps(conv) + "\n\n" + json.dumps(conv) + "\n", encoding="utf-8")
    (tmp_path / "list.json").write_text(json.dumps([conv, conv]), encoding="utf-8")
    for name, n in (("one.json", 1), ("many.jsonl", 2), ("list.json", 2)):
        docs = dialogue.read_dialogue_json(tmp_path / name)
        assert len(docs) == n
        for doc in docs:
            got = [(s.meta["speaker"], doc.text[s.start : s.end]) for s in doc.sections]
            assert got == [(sp, t.strip()) for sp, t in expected]


def test_transcript_txt_becomes_a_dialogue(tmp_path: Path, raw: dict) -> None:
    chat = next(iter(raw.values()))
    names = {}
    lines = []
    for t in chat["messages"]:
        who = names.setdefault(t[0]["sender"], ["Alice", "Bob"][len(names) % 2])
        lines.append(f"{who}: {t[0]['text']}")
        lines.extend(m["text"] for m in t[1:])  # continuation lines belong to the turn above
    p = tmp_path / "chat.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    doc = text.read_text(p)
    assert doc.kind == "dialogue" and doc.source["format"] == "txt"
    assert [doc.text[s.start : s.end] for s in doc.sections] == [
        "\n".join(m["text"] for m in t) for t in chat["messages"]
    ]
    assert {s.meta["speaker"] for s in doc.sections} == {"Alice", "Bob"}


def test_bad_dialogue_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"messages": [', encoding="utf-8")
    with pytest.raises(InputError) as e:
        dialogue.read_dialogue_json(bad)
    assert e.value.reason == "json_invalid"
    other = tmp_path / "other.json"
    other.write_text('{"rows": [1, 2, 3]}', encoding="utf-8")
    with pytest.raises(InputError) as e:
        dialogue.read_dialogue_json(other)
    assert e.value.reason == "dialogue_unknown_shape"
    # One empty conversation among good ones: an error for it, documents for the rest.
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text('{"messages": []}\n{"messages": [{"role": "user", "content": "hi there"}]}\n', encoding="utf-8")
    out = dialogue.read_dialogue_json(mixed)
    assert isinstance(out[0], InputError) and out[0].reason == "dialogue_empty"
    assert out[1].text == "user: hi there"
