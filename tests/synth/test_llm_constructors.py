"""LLM constructors: plumbing and ledger against a scripted OpenAI-compatible server, then the real local SmolLM2.

The scripted server answers like a model would: for some requests a question whose evidence quote is copied
from the source it was shown, for others an invented quote or broken JSON. What the stage must do with each
is fixed by the issue (keep, ledger as ungrounded, ledger as unparseable), not by the code under test.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from golong_data.config import EndpointConfig
from golong_data.synth.llm import answer_in_source, coerce, ground
from golong_data.synth.stage import SynthConfig, run_synthesize

sys.path.insert(0, str(Path(__file__).parents[1] / "llm"))

REPO = Path(__file__).parents[2]


def scripted_reply(body: dict[str, Any]) -> str:
    """A 'model': reads the source out of the prompt and answers by the request's hash."""
    prompt = body["messages"][0]["content"]  # re-asks append turns; the source is in the first one
    source = prompt.split('"""\n', 1)[1].rsplit('\n"""', 1)[0]
    sentences = [s.strip() for s in re.findall(r"[^.!?\n]{30,200}[.!?]", source)]
    fate = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3
    if fate == 2 or not sentences:
        return "Sure! Here is a question about the passage."  # no JSON at all
    quote = sentences[0] if fate == 0 else "The moon is made of green cheese and always was, said nobody."
    words = re.findall(r"[A-Za-z]{4,}", sentences[0])
    return json.dumps({"question": f"Which word opens the sentence that begins '{sentences[0][:40]}'?",
                       "answer": words[0] if words else "none", "evidence_quotes": [quote]})


def test_llm_constructors_keep_grounded_and_ledger_the_rest(synth_corpus: Path, tmp_path: Path) -> None:
    from fake_openai_server import FakeOpenAIServer

    srv = FakeOpenAIServer(reply=scripted_reply).start()
    try:
        cfg = SynthConfig(per_type=4, buckets=["4k"], tasks=["precise_retrieval"], llm=True,
                          endpoint=EndpointConfig(base_url=srv.base_url, model="scripted"))
        run_synthesize(synth_corpus, tmp_path / "out", cfg)
    finally:
        srv.stop()
    samples = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    reasons = {r["reason"] for r in rejected}
    assert samples, reasons
    assert "ungrounded" in reasons, reasons
    assert reasons & {"llm_schema_invalid", "not_a_json_object", "bad_question", "llm_error"}, reasons
    sha = hashlib.sha256((REPO / "prompts/synth_precise_retrieval.md").read_bytes()).hexdigest()
    for s in samples:
        g = s["generator"]
        assert g["kind"] == "llm" and g["model"] == "scripted" and g["prompt_sha"] == sha
        assert s["ground_truth"]["golden_label"] == s["answer"]
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        assert manifest["counts"]["attempts"] == len(samples) + len(rejected)


def test_coerce_shapes_answers_per_type() -> None:
    q = "Which option is right? A. one B. two C. three D. four"
    assert coerce("comprehension", {"question": q, "answer": "(C)"}) == (q, [], "C")
    assert coerce("comprehension", {"question": "No options here at all", "answer": "C"}) == "bad_answer_format"
    assert coerce("numerical_reasoning", {"question": "How many chapters?", "answer": "1,024"})[2] == "1024"
    assert coerce("numerical_reasoning", {"question": "How many chapters?", "answer": "many"}) == "bad_answer_format"
    assert coerce("exhaustive_retrieval", {"question": "Which names occur?", "answer": ["Anne", "anne"]}) == (
        "bad_answer_format")
    rows = coerce("structured_extraction", {"question": "Rows of the table?", "answer": [["a", 1], ["b", 2]]})
    assert json.loads(rows[2]) == {"data": [["a", 1], ["b", 2]]}


def test_ground_finds_quotes_in_the_source_only() -> None:
    src = "Sir Walter Elliot, of Kellynch Hall, in Somersetshire, was a man who never took up any book."
    spans = ground(["of Kellynch Hall, in Somersetshire"], src, 90)
    assert spans != "ungrounded" and src[spans[0][0] : spans[0][1]] == "of Kellynch Hall, in Somersetshire"
    assert ground(["a sentence that is nowhere in the text"], src, 90) == "ungrounded"
    assert answer_in_source("Kellynch", src, 90) and not answer_in_source("Uppercross", src, 90)


@pytest.mark.llm
@pytest.mark.slow  # ~2.5 min on this 2-core VM (two SmolLM2 calls), so it runs with `make test-long`
def test_llm_constructors_end_to_end_on_local_smollm2(synth_corpus: Path, tmp_path: Path) -> None:
    from golong_data.llm.local_server import unavailable_reason

    why = unavailable_reason()
    if why:
        pytest.skip(f"local SmolLM2 server unavailable: {why}")
    # Two calls on short sources: the local server writes slowly on 2 shared cores.
    cfg = SynthConfig(per_type=1, buckets=["4k"], tasks=["precise_retrieval"], llm=True, llm_source_tokens=300,
                      llm_max_tokens=160)
    run_synthesize(synth_corpus, tmp_path / "out", cfg)
    out = tmp_path / "out"
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    manifest = json.loads((out / "manifest.json").read_text())
    # A 135M model writes mostly unusable items: the test is that every call ends as a sample or a ledger line.
    assert manifest["counts"]["attempts"] == len(samples) + len(rejected) == 2
    assert all(s["generator"]["model"] == "smollm2-135m" for s in samples)
