"""LLM constructors: a model writes the question, the gold answer and evidence quotes; a program checks them.

For each attempt a document section is the source; `prompts/synth_<type>.md` (its sha256 goes into
Sample.generator.prompt_sha) asks for JSON {question, answer, evidence_quotes}. What comes back is kept only
if it parses, the answer has the type's shape (`coerce`), and every evidence quote is found in the source
(rapidfuzz partial_ratio >= the threshold: the model may not invent its evidence). Everything else is
ledgered with the reason. The section the model saw is then the evidence of a padded context as usual.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from golong_data.llm import LLMRequest, resolve_endpoint, run_batch
from golong_data.pipeline.shard import in_shard
from golong_data.synth.select import Built, derive_seed, interleave_kinds, slot_key, where
from golong_data.tasks import VERSION, Plan, get_builder

if TYPE_CHECKING:
    from golong_data.records import Document
    from golong_data.synth.stage import Synthesizer

# The source shown to the model is at most cfg.llm_source_tokens: the default local SmolLM2 has a small
# window, and a question about one section is what an LLM constructor is for (long-range structure is the
# programs' job).
LIST_TYPES = ("exhaustive_retrieval", "structured_matching", "graded_ranking", "sequence_ordering")


def answer_schema(task: str) -> dict[str, Any]:
    if task in LIST_TYPES:
        ans: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    elif task == "structured_extraction":
        ans = {"type": "array", "items": {"type": "array", "items": {"type": ["string", "number"]}}, "minItems": 1}
    else:
        ans = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "question": {"type": "string"},
            "answer": ans,
            "evidence_quotes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["question", "answer", "evidence_quotes"],
    }


def _norm(s: str) -> str:
    return " ".join(s.lower().split())


def coerce(task: str, obj: Any) -> tuple[str, list[str], str] | str:
    """(question, gold_items, golden_label) in the task's ground-truth shape, or the reason it has none."""
    if not isinstance(obj, dict):
        return "not_a_json_object"
    q = obj.get("question")
    if not isinstance(q, str) or len(q.strip()) < 10:
        return "bad_question"
    q = q.strip()
    a = obj.get("answer")
    if task in LIST_TYPES:
        items = a.split("\n") if isinstance(a, str) else a
        if not isinstance(items, list) or not all(isinstance(x, (str, int, float)) for x in items):
            return "bad_answer_format"
        items = [" ".join(str(x).split()) for x in items if str(x).strip()]
        # The LongBench-Pro scorers compare lowercased, space-normalised lines: items must differ after that.
        if not items or len({_norm(x) for x in items}) != len(items):
            return "bad_answer_format"
        if task in ("graded_ranking", "sequence_ordering") and len(items) < 2:
            return "bad_answer_format"
        return q, items, ""
    if task == "structured_extraction":
        if not isinstance(a, list) or not a:
            return "bad_answer_format"
        rows = []
        for r in a:
            r = list(r.values()) if isinstance(r, dict) else r
            if not isinstance(r, list) or not r or not all(isinstance(c, (str, int, float)) for c in r):
                return "bad_answer_format"
            rows.append(r)
        return q, [], json.dumps({"data": rows}, ensure_ascii=False)
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        a = str(a)
    if not isinstance(a, str) or not a.strip():
        return "bad_answer_format"
    a = a.strip()
    if task == "comprehension":
        m = re.fullmatch(r"\(?([A-D])\)?[.):]?(\s.*)?", a, flags=re.S)
        if not m or not all(re.search(rf"(^|\n|\s){x}[.)]", q) for x in "ABCD"):
            return "bad_answer_format"
        return q, [], m.group(1)
    if task == "numerical_reasoning":
        num = a.replace(",", "").strip().rstrip(".")
        if not re.fullmatch(r"-?\d+(\.\d+)?", num):
            return "bad_answer_format"
        return q, [], num
    if task == "summarization":
        if len(a.split()) < 15:
            return "bad_answer_format"
        return q, [a], ""
    if "\n" in a:
        return "bad_answer_format"
    return q, [], a  # precise_retrieval


def ground(quotes: Any, source: str, threshold: float) -> list[tuple[int, int]] | str:
    """Where each evidence quote is in the source ((start, end) offsets), or "ungrounded"."""
    if not isinstance(quotes, list) or not quotes:
        return "no_evidence"
    spans = []
    for qt in quotes:
        if not isinstance(qt, str) or len(qt.strip()) < 10 or len(qt) > len(source):
            return "ungrounded"
        al = fuzz.partial_ratio_alignment(qt.strip(), source)
        if al is None or al.score < threshold:
            return "ungrounded"
        spans.append((al.dest_start, al.dest_end))
    return spans


def answer_in_source(answer: str, source: str, threshold: float) -> bool:
    """An exact-match answer must be readable in the passage (short answers: no minimum length here)."""
    return bool(answer.strip()) and fuzz.partial_ratio(answer.strip(), source) >= threshold


def prompt_text(syn: Synthesizer, task: str) -> str:
    return syn.tax.prompt_path(task).read_text(encoding="utf-8")


def run_llm_bucket(syn: Synthesizer, task: str, bucket: str, btok: int, docs: list[Document],
                   shard: tuple[int, int] | None, quota: int) -> list[tuple[int, str, Built]]:
    """One LLM call per attempt (2 * quota of them; this shard's share), then the same checks and padding as
    programs. Each attempt is a slot of its own: which questions are near duplicates and which fill the quota
    is decided over all attempts by golong_data.synth.select.select."""
    cfg = syn.cfg
    builder = get_builder(task)
    cands = sorted(docs, key=lambda d: d.id)
    if not cands or quota == 0:
        return []
    cands = interleave_kinds(cands, random.Random(derive_seed(cfg.seed, task, bucket, "llm-order")))
    template = prompt_text(syn, task)
    prompt_sha = hashlib.sha256(template.encode()).hexdigest()
    llm_cfg = cfg.endpoint.llm_config()
    model = resolve_endpoint(llm_cfg).model

    jobs: list[tuple[int, Document, Any, random.Random]] = []
    out: list[tuple[int, str, Built]] = []
    requests = []
    for attempt in range(quota * 2):
        if not in_shard(slot_key(task, bucket, attempt), shard):
            continue
        doc = cands[attempt % len(cands)]
        rng = random.Random(derive_seed(cfg.seed, task, bucket, "llm", attempt))
        focus = syn.focus(doc, task, btok)
        fits = [i for i, c in enumerate(focus.cost) if c <= focus.ev_budget]
        if not fits:
            out.append((attempt, doc.id, Built(None, "evidence_exceeds_bucket", where(task, bucket, attempt, "llm"))))
            continue
        piece = focus.pieces[rng.choice(fits)]
        if piece.n_tokens > cfg.llm_source_tokens:
            cut = syn.lib.truncate(piece, cfg.llm_source_tokens)
            if cut is None:
                out.append((attempt, doc.id, Built(None, "source_too_long", where(task, bucket, attempt, "llm"))))
                continue
            piece = cut
        source = syn.lib.body(piece)
        msg = template.replace("{heading}", piece.heading).replace("{source}", source)
        requests.append(LLMRequest(
            key=f"{task}/{bucket}/{attempt}", messages=[{"role": "user", "content": msg}], temperature=0.0,
            max_tokens=cfg.llm_max_tokens, seed=cfg.seed, task_type=task,
            json_schema=answer_schema(task) if cfg.llm_json_schema else None,
        ))
        jobs.append((attempt, doc, piece, rng))
    results = run_batch(requests, llm_cfg, stage="synthesize", desc=f"{task} {bucket} (llm)") if requests else []

    for (attempt, doc, piece, rng), res in zip(jobs, results, strict=True):
        at = where(task, bucket, attempt, "llm")
        if not res.ok:
            out.append((attempt, doc.id, Built(None, f"llm_{res.error or 'error'}", f"{at}: {res.detail[:200]}")))
            continue
        obj = res.parsed if res.parsed is not None else _json_from_text(res.text or "")
        got = coerce(task, obj)
        if isinstance(got, str):
            out.append((attempt, doc.id, Built(None, got, f"{at}: {str(res.text)[:200]}")))
            continue
        source = syn.lib.body(piece)
        spans = ground(obj.get("evidence_quotes"), source, cfg.ground_threshold)
        if isinstance(spans, str):
            out.append((attempt, doc.id, Built(None, spans, f"{at}: {json.dumps(obj.get('evidence_quotes'))[:200]}")))
            continue
        question, items, label = got
        if task == "precise_retrieval" and not answer_in_source(label, source, cfg.ground_threshold):
            out.append((attempt, doc.id, Built(None, "answer_not_in_source", f"{at}: {label[:100]}")))
            continue
        doc_spans = [(doc.id, piece.start + a, piece.start + b) for a, b in spans]
        plan = Plan("llm", question, [piece], items, label, builder.format_answer(items, label), doc_spans,
                    forbid=[syn.lib.docs[doc.id].text[a:b] for _, a, b in doc_spans if b - a >= 20],
                    meta={"source_heading": piece.heading})
        generator = {"kind": "llm", "name": f"{task}.llm", "version": VERSION, "model": model,
                     "prompt_sha": prompt_sha, "seed": cfg.seed}
        out.append((attempt, doc.id, syn.realise(task, bucket, btok, plan, doc, rng, generator,
                                                 f"{cfg.seed}/{task}/{bucket}/llm/{attempt}", attempt)))
    # The batch answers in request order; the attempts that failed before a request are interleaved by slot.
    out.sort(key=lambda t: t[0])
    return out


def _json_from_text(text: str) -> Any:
    """The first {...} object in a reply (small models wrap JSON in prose or code fences)."""
    m = re.search(r"\{.*\}", text, flags=re.S)
    if not m:
        return None
    try:
        return json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
