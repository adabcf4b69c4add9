"""Question near-duplicates: hand-checked cases, equality with brute-force rapidfuzz cdist, `dedup --questions`."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz, process, utils
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.dedup.questions import near_duplicate_questions, question_duplicates
from golong_data.errors import ConfigError
from golong_data.records import Document, Sample, write_jsonl


def test_hand_checked_groups() -> None:
    qs = [
        "Who is Anne Elliot's father?",
        "who is anne elliot s father",  # equal after lower-casing and punctuation removal
        "Anne Elliot's father: who is he?",  # a superset of q0's words: token_set_ratio 100
        "Where does Captain Wentworth live?",
        "Where does Captain Wentworth live now?",  # superset of q3
        "What is the name of Sir Walter's house?",
        "",
        "Where does Captain Harville live?",  # one word differs from q3: 'harville' vs 'wentworth'
    ]
    harville = fuzz.token_set_ratio(utils.default_process(qs[3]), utils.default_process(qs[7]))
    assert 80 <= harville < 90
    assert near_duplicate_questions(qs) == [1, 2, 4]
    assert question_duplicates(qs) == [(1, 0, 100.0), (2, 0, 100.0), (4, 3, 100.0)]
    assert question_duplicates(qs, threshold=80)[-1] == (7, 3, round(harville, 2))


def brute_force(qs: list[str], threshold: float) -> list[int]:
    """The definition, spelled out with plain rapidfuzz: every pair scored, first of each group kept."""
    p = [utils.default_process(q) for q in qs]
    m = process.cdist(p, p, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=-1)  # unrounded scores
    kept: list[int] = []
    drop = []
    for i in range(len(p)):
        if p[i] and any(m[i, k] >= threshold for k in kept):
            drop.append(i)
        elif p[i]:
            kept.append(i)
    return drop


@pytest.mark.parametrize("threshold", [90, 80])
def test_equals_brute_force_on_questions_from_a_real_book(persuasion_doc: Document, threshold: float) -> None:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", persuasion_doc.text) if 6 <= len(s.split()) <= 25]
    rng = random.Random(7)
    qs: list[str] = []
    for s in sentences[200:560]:
        qs.append(s)
        w = s.split()
        r = rng.random()
        if r < 0.15:
            rng.shuffle(w)
            qs.append(" ".join(w))  # reordered: 100
        elif r < 0.3:
            del w[rng.randrange(len(w))]
            qs.append(" ".join(w))  # a word dropped: a subset, 100
        elif r < 0.4:
            w[rng.randrange(len(w))] = "Wentworth"
            qs.append(" ".join(w))  # a word replaced: near the threshold
    expected = brute_force(qs, threshold)
    assert len(expected) > 60
    assert near_duplicate_questions(qs, threshold) == expected


def test_bad_threshold() -> None:
    with pytest.raises(ConfigError):
        near_duplicate_questions(["a"], threshold=150)


def test_dedup_questions_command(tmp_path: Path) -> None:
    def sample(i: int, question: str) -> Sample:
        return Sample(
            id=f"s{i}", task_type="precise_retrieval", capability=["retrieval"], metric="EM",
            route={"data_source": "EM", "reward_mode": "EM"},
            prompt=[{"role": "user", "content": f"<long context {i}>\n\n{question}\nAnswer in one line."}],
            ground_truth={"doc_ids": [], "golden_label": "x", "summary": ""}, meta={"question": question},
        )

    qs = ["Who is Anne Elliot's father?", "Where does Captain Wentworth live?", "who is anne elliot's father",
          "Where does Captain Wentworth live now?", "What is the name of Sir Walter's house?"]
    src = tmp_path / "synth"
    write_jsonl(src / "samples.jsonl", [sample(i, q) for i, q in enumerate(qs)])
    r = CliRunner().invoke(app, ["dedup", "--questions", "--in", str(src), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    kept = [json.loads(x)["id"] for x in (tmp_path / "o" / "samples.jsonl").read_text().splitlines()]
    assert kept == ["s0", "s1", "s4"]
    rejected = [json.loads(x) for x in (tmp_path / "o" / "rejected.jsonl").read_text().splitlines()]
    assert [(x["source"], x["reason"], json.loads(x["detail"])["kept"]) for x in rejected] == [
        ("s2", "near_duplicate_question", "s0"), ("s3", "near_duplicate_question", "s1")]
    assert "kept 3 of 5 samples" in r.output
