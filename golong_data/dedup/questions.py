"""Near-duplicate questions: one matcher for `dedup --questions`, synthesize's slot selection and export's mix.

rapidfuzz token_set_ratio over normalised questions (rapidfuzz's default_process: case and punctuation ignored)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, utils

from golong_data.config import DedupConfig
from golong_data.dedup.stage import rejection_detail
from golong_data.errors import ConfigError, GolongError
from golong_data.pipeline.stage import StageRun
from golong_data.records import line_offsets


def duplicate_questions(questions: list[str]) -> list[int]:
    """Indices of questions that repeat an earlier one (`near_duplicate_questions`). Empty questions never match."""
    idx = [i for i, q in enumerate(questions) if q.strip()]  # equal empty strings are not duplicates
    return [idx[j] for j in near_duplicate_questions([questions[i] for i in idx])]


DEFAULT_QUESTION_THRESHOLD = DedupConfig.question_threshold  # rapidfuzz token_set_ratio, 0-100 (declared once)


# ------------------------------------------------------------------ question near-duplicates
def question_duplicates(
    questions: Sequence[str], threshold: float = DEFAULT_QUESTION_THRESHOLD
) -> list[tuple[int, int, float]]:
    """(dropped index, kept index, score) for each question scoring >= `threshold` against an earlier kept one.

    Score: rapidfuzz `token_set_ratio` after `default_process` (lower-case, punctuation to spaces): word order
    and repeats do not matter, and a question whose words are all in a kept one scores 100.

    Not all n^2 pairs are scored (cdist over 23K questions takes ~20 min on 2 cores). token_set_ratio is the
    best of three Indel ratios; the two that compare the shared words S with one side A reach t only when
    |S| >= t/(200-t) |A| (0.82 |A| at t=90, lengths in characters). Prefix filtering (as in set-similarity
    joins): order each question's words rarest first; a prefix holding more than 1 - 0.82 of its characters
    must then share a word with the other side. So candidates are earlier questions that contain one of this
    question's prefix words, or whose prefix contains one of its words; candidates are scored exactly. Missed:
    pairs that reach t only through the third ratio with few shared words, i.e. spelling variants of most
    words ("colour of Emmas hat" / "color of Emma hat"), which paraphrasing LLMs rarely produce.
    """
    if not 0 < threshold <= 100:
        raise ConfigError(f"question threshold must be in (0, 100] (a token_set_ratio), got {threshold}")
    procs = [utils.default_process(q) for q in questions]
    first: dict[str, int] = {}
    for i, p in enumerate(procs):
        first.setdefault(p, i)
    unique = sorted(first.values())  # one index per distinct processed question, in input order
    texts = [procs[i] for i in unique]
    toks = [sorted(set(t.split())) for t in texts]
    df = Counter(w for ts in toks for w in ts)
    alpha = threshold / (200 - threshold)
    postings: dict[str, list[int]] = defaultdict(list)  # word -> kept questions containing it
    prefix_postings: dict[str, list[int]] = defaultdict(list)  # word -> kept questions with it in their prefix
    kept_by: dict[int, tuple[int, float]] = {}  # unique position -> (kept unique position, score)
    for r, ts in enumerate(toks):
        if not ts:
            continue  # an empty question matches nothing (token_set_ratio gives 0)
        weight = sum(len(w) + 1 for w in ts)
        prefix, acc = [], 0
        for w in sorted(ts, key=lambda w: (df[w], w)):
            prefix.append(w)
            acc += len(w) + 1
            if acc > (1 - alpha) * weight:
                break
        cands = {c for w in prefix for c in postings.get(w, ())}
        cands.update(c for w in ts for c in prefix_postings.get(w, ()))
        best: tuple[float, int] | None = None
        for c in sorted(cands):
            score = fuzz.token_set_ratio(texts[r], texts[c], processor=None, score_cutoff=threshold)
            if score >= threshold and (best is None or score > best[0]):
                best = (score, c)
        if best is not None:
            kept_by[r] = (best[1], round(best[0], 2))
            continue
        for w in ts:
            postings[w].append(r)
        for w in prefix:
            prefix_postings[w].append(r)
    pos = {i: r for r, i in enumerate(unique)}
    out: list[tuple[int, int, float]] = []
    for i, p in enumerate(procs):
        r = pos[first[p]]
        if first[p] != i:  # equal after processing: a duplicate of whatever its first copy became
            out.append((i, unique[kept_by[r][0]] if r in kept_by else first[p], 100.0))
        elif r in kept_by:
            out.append((i, unique[kept_by[r][0]], kept_by[r][1]))
    return out


def near_duplicate_questions(questions: list[str], threshold: float = DEFAULT_QUESTION_THRESHOLD) -> list[int]:
    """Indices of questions to drop: each is a near duplicate (token_set_ratio >= threshold) of an earlier
    kept question; the first of each group is kept. Sorted ascending."""
    return [i for i, _, _ in question_duplicates(questions, threshold)]


def _question_of(sample: dict[str, Any]) -> str:
    """The sample's question: meta.question when synthesis recorded it, else its last user message."""
    q = (sample.get("meta") or {}).get("question")
    if isinstance(q, str) and q.strip():
        return q
    for msg in reversed(sample.get("prompt") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return str(msg.get("content", ""))
    return ""


def run_question_dedup(in_dir: Path, out_dir: Path, threshold: float = DEFAULT_QUESTION_THRESHOLD) -> str:
    """`dedup --questions`: DIR/samples.jsonl -> OUT/samples.jsonl without near-duplicate questions."""
    DedupConfig(question_threshold=threshold)  # range check
    in_dir = Path(in_dir)
    path = in_dir / "samples.jsonl"
    if not path.is_file():
        raise GolongError(f"{path} not found", "point --in at the output directory of `golong-data synthesize`")
    # Samples carry their whole long context: stream them twice, holding only ids and questions.
    ids, questions = [], []
    for i, (_, obj) in enumerate(line_offsets(path)):
        ids.append(str(obj.get("id", f"line {i + 1}")))
        questions.append(_question_of(obj))
    dropped = {i: (k, score) for i, k, score in question_duplicates(questions, threshold)}
    with StageRun("dedup", out_dir, inputs=[path], config={"questions": True, "question_threshold": threshold}) as run:
        w = run.writer("samples.jsonl")
        for i, (_, obj) in enumerate(line_offsets(path)):
            if i in dropped:
                k, score = dropped[i]
                run.reject(ids[i], "near_duplicate_question", rejection_detail(kept=ids[k], score=score,
                                                                      question=questions[i][:200]))
            else:
                w.write(obj)
    return run.summary(what=f"kept {w.count} of {len(ids)} samples")
