"""Measure how clean the synthesized contexts are (issue 19, "clean contexts").

    python scripts/measure_contexts.py --samples work/demo/synthesize        # an existing synthesize output
    python scripts/measure_contexts.py --config examples/demo.yaml --work /tmp/m   # build it first

With --config, the config's ingest -> chunk -> dedup -> synthesize stages run into --work (verify and export
do not: no LLM is needed). Reported over every sample's prompt:
- UUIDs: occurrences, prompts holding one, and their share of the prompt tokens (Qwen tokenizer);
- bad characters: U+FFFD, private-use (Co), C0 controls other than tab/newline/CR, C1 controls (U+0080-009F);
- quoted passages (the "..." lines a question quotes: sentences, options, passages) that start at a sentence
  start, and those that end at an abbreviation such as "Mr.";
- context pieces (the bodies under "=== heading ===") shorter than a sentence (fewer than 6 words).

The sentence-start rule here is deliberately simple and independent of the code it measures: a quote starts
a sentence when it opens its document or a paragraph (blank line; for a chat, a message line or the text after
the "speaker: " prefix), or when the text before it ends with . ! ? (closing quotes/brackets allowed) that is
not the period of a title abbreviation, and the quote does not begin with a lower-case letter.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

from golong_data.records import iter_jsonl

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
QUOTE_LINE = re.compile(r'^(?:(?:[A-D]|P\d+|\d+)\.|Sentence:|Message:) "(.*)"$', re.M)
HEADING = re.compile(r"^=== .* ===$", re.M)
TITLES = {"Mr", "Mrs", "Ms", "Dr", "St", "Col", "Capt", "Rev", "Prof", "Sir", "Lt", "Gen", "Messrs", "Jr", "Sr"}
SHORT_PIECE_WORDS = 6


def bad_char_kind(c: str) -> str | None:
    o = ord(c)
    if c == "\ufffd":
        return "U+FFFD"
    if unicodedata.category(c) == "Co":
        return "private_use"
    if o < 0x20 and c not in "\t\n\r":
        return "C0"
    if 0x7F <= o <= 0x9F:
        return "C1"
    return None


def starts_sentence(text: str, pos: int, dialogue: bool) -> bool:
    if text[pos : pos + 1].islower():
        return False
    line0 = text.rfind("\n", 0, pos) + 1
    before_on_line = text[line0:pos]
    if dialogue and (not before_on_line.strip() or re.fullmatch(r"[^\n]{1,60}: ", before_on_line)):
        return True
    j = pos
    while j > 0 and text[j - 1] in " \t":
        j -= 1
    if j == 0:
        return True
    if text[j - 1] == "\n":
        k = j - 1
        while k > 0 and text[k - 1] in " \t":
            k -= 1
        if k == 0 or text[k - 1] == "\n":
            return True  # a blank line before: a paragraph start
        j = k
    tail = text[max(0, j - 40) : j]
    m = re.search(r"(\S*?)([.!?])[\"'’”)\]]*$", tail)
    if not m:
        return False
    word = re.sub(r"^\W+", "", m.group(1))
    return not (m.group(2) == "." and word in TITLES)


def ends_at_abbreviation(q: str) -> bool:
    m = re.search(r"(\w+)\.$", q)
    return bool(m and m.group(1) in TITLES)


def split_prompt(content: str) -> tuple[str, str]:
    """(context, question) of a prompt rendered from prompts/solve.md."""
    head, _, rest = content.partition("\n\n")
    context, sep, question = rest.rpartition("\n\nQuestion: ")
    return (context, question) if sep else (rest, "")


def measure(samples: list[dict[str, Any]], docs: dict[str, dict[str, Any]], tok: Any) -> dict[str, Any]:
    keys = ("samples uuids prompts_with_uuid uuids_in_headings uuids_as_speakers prompts_with_bad_chars pieces "
            "short_pieces quotes quotes_at_sentence_start quotes_chat_lowercase_start quotes_ending_at_abbreviation "
            "quotes_not_located").split()
    out: Counter[str] = Counter(dict.fromkeys(keys, 0))
    bad: Counter[str] = Counter()
    short_examples: list[str] = []
    mid_examples: list[str] = []
    prompt_tokens = uuid_tokens = 0
    for s in samples:
        content = "\n".join(m["content"] for m in s["prompt"])
        context, question = split_prompt(content)
        out["samples"] += 1
        ids = UUID.findall(content)
        out["uuids"] += len(ids)
        out["prompts_with_uuid"] += bool(ids)
        # where they sit: a heading, a chat speaker label ("<id>: text"), or the documents' own text
        out["uuids_in_headings"] += sum(len(UUID.findall(h)) for h in HEADING.findall(context))
        out["uuids_as_speakers"] += len(re.findall(rf"^{UUID.pattern}: ", context, flags=re.M))
        prompt_tokens += s.get("n_tokens") or tok.count(content)
        uuid_tokens += sum(tok.count(u) for u in ids)
        kinds = [k for c in content if (k := bad_char_kind(c))]
        bad.update(kinds)
        out["prompts_with_bad_chars"] += bool(kinds)
        bodies = HEADING.split(context)[1:]
        for b in bodies:
            out["pieces"] += 1
            if len(b.split()) < SHORT_PIECE_WORDS:
                out["short_pieces"] += 1
                if len(short_examples) < 5:
                    short_examples.append(b.strip()[:60])
        ev_docs = [docs[e["doc_id"]] for e in s.get("evidence", []) if e.get("doc_id") in docs]
        for q in QUOTE_LINE.findall(question):
            out["quotes"] += 1
            out["quotes_ending_at_abbreviation"] += ends_at_abbreviation(q)
            d = next((d for d in ev_docs if q in d["text"]), None)
            if d is None:
                out["quotes_not_located"] += 1
                continue
            if starts_sentence(d["text"], d["text"].index(q), d["kind"] == "dialogue"):
                out["quotes_at_sentence_start"] += 1
                continue
            if d["kind"] == "dialogue" and q[:1].islower():
                out["quotes_chat_lowercase_start"] += 1  # (counted as mid-sentence above, shown apart)
            if len(mid_examples) < 8:
                mid_examples.append(q[:70])
    located = out["quotes"] - out["quotes_not_located"]
    return {
        **{k: out[k] for k in keys},
        "bad_chars": dict(sorted(bad.items())),
        "uuid_token_share": round(uuid_tokens / max(prompt_tokens, 1), 4),
        "quote_sentence_start_share": round(out["quotes_at_sentence_start"] / max(located, 1), 4),
        "examples_short_pieces": short_examples,
        "examples_mid_sentence_quotes": mid_examples,
    }


def build(config: Path, work: Path) -> Path:
    """Run the config's stages up to synthesize into `work`; returns the synthesize directory."""
    from golong_data.config import load_config
    from golong_data.pipeline.run import run_stage
    from golong_data.pipeline.stages import STAGES

    cfg = load_config(config)
    prev: object = cfg.corpus_paths()
    for stage in ("ingest", "chunk", "dedup", "synthesize"):
        out = work / stage
        print(run_stage(cfg, STAGES[stage], prev, out).line, file=sys.stderr)
        prev = out
    return work / "synthesize"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=Path, help="a synthesize output directory (samples.jsonl)")
    ap.add_argument("--docs", type=Path, help="documents.jsonl the samples were built from "
                    "(default: ../dedup/documents.jsonl next to --samples)")
    ap.add_argument("--config", type=Path, help="build the samples first with this pipeline config")
    ap.add_argument("--work", type=Path, help="with --config: where the stages write")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args(argv)
    if a.config:
        if not a.work:
            ap.error("--config needs --work")
        a.samples = build(a.config, a.work)
    if not a.samples:
        ap.error("give --samples or --config")
    samples = list(iter_jsonl(a.samples / "samples.jsonl"))
    doc_path = a.docs or a.samples.parent / "dedup" / "documents.jsonl"
    docs = {d["id"]: d for d in iter_jsonl(doc_path)}
    from golong_data.tokens import get_tokenizer

    res = measure(samples, docs, get_tokenizer())
    text = json.dumps(res, indent=1, ensure_ascii=True)
    print(text)
    if a.json:
        a.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
