"""The synthesize stage: documents -> verifiable long-context samples of all nine task types.

    summary = run_synthesize(Path("work/dedup"), Path("work/synth"), SynthConfig(per_type=20, buckets=["32k"]))

For each task type and length bucket it makes up to `per_type` samples. Each attempt picks a document (a
seeded shuffle of the input, so reruns are identical), asks the type's program constructor for a Plan (the
question and its gold answer, computed from the text), pads the evidence with distractors to the bucket
(golong_data.synth.context), checks the answer is still unambiguous in the final context, and writes a Sample.
An attempt that fails becomes a Rejection with the reason; nothing is dropped silently.
With `llm=True` the LLM constructors (golong_data.synth.llm) run instead, through the one LLM layer.
"""

from __future__ import annotations

import functools
import random
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from golong_data.config import SynthConfig
from golong_data.errors import ConfigError, GolongError
from golong_data.pipeline.shard import in_shard, parse_shard
from golong_data.pipeline.stage import StageRun
from golong_data.pipeline.stages import StageResult
from golong_data.progress import progress
from golong_data.records import Chunk, Document, Sample, content_id, read_records, stage_file
from golong_data.resources import data_dir
from golong_data.synth.context import OPAQUE_ID, PIECE_SEP, Context, Library, assemble, evidence_stats
from golong_data.synth.llm import run_llm_bucket
from golong_data.synth.select import (
    DOC_LEVEL_REASONS,
    DROP,
    KEEP,
    Built,
    Outcome,
    derive_seed,
    interleave_kinds,
    sample_detail,
    select,
    slot_key,
    where,
)
from golong_data.tasks import TASK_BUILDERS, VERSION, Focus, Plan, get_builder
from golong_data.taxonomy import Taxonomy, load_taxonomy
from golong_data.tokens import get_tokenizer

STAGE = "synthesize"
PROMPTS_DIR = data_dir() / "prompts"
# Evidence may take at most this share of a bucket (the rest is distractors); a summary needs its whole paper.
EVIDENCE_SHARE = {"summarization": 0.95}
DEFAULT_EVIDENCE_SHARE = 0.6


def parse_bucket(spec: str) -> int:
    """'32k' -> 32768 tokens (k = 1024, as model context sizes are counted); '3000' -> 3000."""
    s = spec.strip().lower()
    m = re.fullmatch(r"(\d+)(k?)", s)
    if not m:
        raise ConfigError(f"bad bucket {spec!r}", "write buckets like 8k,16k,32k (k = 1024 tokens) or plain numbers")
    n = int(m.group(1)) * (1024 if m.group(2) else 1)
    if n < 512:
        raise ConfigError(f"bucket {spec!r} is below 512 tokens", "contexts that short cannot hold a question")
    return n




@dataclass
class SynthSummary:
    made: Counter[tuple[str, str]]
    rejected: dict[tuple[str, str], Counter[str]]
    out: Path
    line: str = ""
    table: str = ""


def load_documents(in_dir: Path) -> list[Document]:
    path = stage_file(in_dir, "documents.jsonl")
    docs = list(read_records(path, Document))
    chunks_path = Path(in_dir) / "chunks.jsonl"
    if chunks_path.exists():
        # After dedup, only documents that kept at least one chunk are used (a dropped near-duplicate book
        # would otherwise come back as a distractor).
        kept = {c.doc_id for c in read_records(chunks_path, Chunk)}
        docs = [d for d in docs if d.id in kept]
    return [d for d in docs if d.text.strip()]


def contaminated_documents(docs: list[Document]) -> tuple[list[Document], list[Document]]:
    """(clean, contaminated): dedup marks a document whose chunks quote a benchmark (quality.contaminated).

    Contexts are built from whole documents, so such a document is kept out of every context and every
    evidence span; otherwise the benchmark text that decontamination dropped would come back in the prompt.
    """
    bad = [d for d in docs if d.quality.get("contaminated")]
    return [d for d in docs if not d.quality.get("contaminated")], bad


@functools.lru_cache(maxsize=4)
def solve_template(path: Path = PROMPTS_DIR / "solve.md") -> str:
    """prompts/solve.md: the one prompt a solver sees (synthesize writes it, verify re-asks with it)."""
    if not path.exists():
        raise GolongError(f"{path} not found", "restore prompts/solve.md from the repository")
    return path.read_text(encoding="utf-8").rstrip("\n")


def build_prompt(context_text: str, question: str, answer_format: str) -> str:
    # One pass over the template only (not str.format): documents and questions contain braces.
    values = {"context": context_text, "question": question, "answer_format": answer_format}
    return _SLOT.sub(lambda m: values[m.group(1)], solve_template())


_SLOT = re.compile(r"\{(context|question|answer_format)\}")


class Synthesizer:
    """Turns Plans into Samples for one run (holds the library of documents and the taxonomy)."""

    def __init__(self, lib: Library, taxonomy: Any, cfg: SynthConfig) -> None:
        self.lib = lib
        self.tax = taxonomy
        self.cfg = cfg

    def budget(self, bucket_tokens: int) -> tuple[int, int]:
        # Aim a little under the bucket: the additive count can differ from a real tokenisation by a few tokens
        # per piece, and a context should not overflow the model window it was sized for.
        margin = int(bucket_tokens * self.cfg.tolerance * 0.25)
        tol = int(bucket_tokens * self.cfg.tolerance * 0.5)
        return bucket_tokens - margin, tol

    def overhead(self, question: str, answer_format: str) -> int:
        """Prompt tokens outside the context. The context's count already includes the blank line after its
        last piece, which is the template's separator before the question."""
        head, tail = build_prompt("\x00", question, answer_format).split("\x00")
        sep = self.lib.count(PIECE_SEP) if tail.startswith(PIECE_SEP) else 0
        return self.lib.count(head) + self.lib.count(tail) - sep

    def max_piece(self, bucket_tokens: int) -> int:
        # About six pieces per bucket: whole chapters from 32K up, paragraph-aligned parts below, so even a
        # 4K context can hold the three or more sections a list question needs.
        return max(256, min(8192, bucket_tokens // 6))

    def focus(self, doc: Document, task: str, bucket_tokens: int) -> Focus:
        mp = self.max_piece(bucket_tokens)
        pieces = self.lib.pieces(doc.id, mp)
        share = EVIDENCE_SHARE.get(task, DEFAULT_EVIDENCE_SHARE)
        return Focus(doc, pieces, [self.lib.piece_cost(p) for p in pieces], int(bucket_tokens * share))

    def realise(self, task: str, bucket: str, bucket_tokens: int, plan: Plan, doc: Document, rng: random.Random,
                generator: dict[str, Any], sample_key: str, slot: int) -> Built:
        """Plan -> context -> checked Sample (or the reason it could not be made)."""
        spec = self.tax.task(task)
        evidence = plan.evidence
        if plan.whole_cut is not None:
            evidence = [self.lib.whole(doc.id, plan.whole_cut)]
            if OPAQUE_ID.search(self.lib.body(evidence[0])):  # as Library.pieces() never offers such a piece
                return Built(None, "opaque_identifier", where(task, bucket, slot, plan.constructor))
        content_overhead = self.overhead(plan.question, spec.answer_format)
        target, tol = self.budget(bucket_tokens)
        budget = target - content_overhead
        # A fixed --depth keeps the evidence together at that depth; otherwise it is sometimes scattered.
        spread = self.cfg.depth is None and plan.spread_ok and len(evidence) > 1 and rng.random() < self.cfg.spread_prob
        ctx = assemble(self.lib, evidence, budget, rng, max_piece=self.max_piece(bucket_tokens), forbid=plan.forbid,
                       near_ratio=self.cfg.near_ratio, spread=spread, tolerance=tol, depth=self.cfg.depth,
                       exclude_docs=[doc.id] if plan.exclude_doc else [])
        if isinstance(ctx, str):
            return Built(None, ctx, where(task, bucket, slot, plan.constructor))
        problem = self.check(plan, ctx, evidence)
        if problem:
            return Built(None, problem[0], where(task, bucket, slot, f"{plan.constructor}: {problem[1]}"))
        content = build_prompt(ctx.text, plan.question, spec.answer_format)
        n_tokens = ctx.n_tokens + content_overhead
        stats = evidence_stats(ctx, self.lib)
        sample = Sample(
            id=content_id("smp", sample_key, content),
            task_type=task,
            capability=list(spec.capability),
            metric=spec.metric,
            route=dict(spec.route),
            prompt=[{"role": "user", "content": content}],
            ground_truth={"doc_ids": list(plan.gold_items), "golden_label": plan.golden_label, "summary": ""},
            evidence=[{"doc_id": d, "start": a, "end": b} for d, a, b in plan.spans],
            n_tokens=n_tokens,
            bucket=bucket,
            generator=generator,
            answer=plan.answer,
            meta={"slot": slot, "question": plan.question, "constructor": plan.constructor, "focus_doc": doc.id,
                  "focus_kind": doc.kind, "scattered": spread, **stats, **plan.meta},
        )
        return Built(sample)

    def check(self, plan: Plan, ctx: Context, evidence: list[Any]) -> tuple[str, str] | None:
        """Is the gold still the only right answer in this exact context? (reason, detail) when not."""
        for s in plan.unique:
            n = ctx.text.count(s)
            if n != 1:
                return "not_unique_in_context", f"{s[:60]!r} occurs {n} times"
        shown = {(p.doc_id, p.start, p.end): h for p, h in zip(ctx.pieces, ctx.headings, strict=True)}
        for p in evidence:
            if shown.get((p.doc_id, p.start, p.end)) != p.heading:
                return "heading_collision", p.heading
        for d, a, b in plan.spans:
            loc = ctx.locate(d, a, b)
            if loc is None or ctx.text[loc[0] : loc[1]] != self.lib.docs[d].text[a:b]:
                return "evidence_not_in_context", f"{d}[{a}:{b}]"
        return None


if TYPE_CHECKING:
    from golong_data.pipeline.stage import _StreamWriter


def _tasks_and_buckets(cfg: SynthConfig, tax: Taxonomy) -> tuple[list[str], list[tuple[str, int]]]:
    """The task types and (bucket name, tokens) to synthesize, checked before any work."""
    tasks = cfg.tasks or [t for t in TASK_BUILDERS if t in tax.tasks]
    for t in tasks:
        get_builder(t)
        tax.task(t)
    if cfg.per_type < 0 or (cfg.total is not None and cfg.total < 0):
        raise ConfigError("--per-type / --total must not be negative", "give a count >= 0")
    buckets = [(b.strip().lower(), parse_bucket(b)) for b in cfg.buckets if b.strip()]
    if not buckets:
        raise ConfigError("no buckets given", "e.g. --buckets 8k,16k,32k")
    return tasks, buckets


def _synth_settings(cfg: SynthConfig, tax: Taxonomy, tasks: list[str], plan: list[tuple[str, str, int]]
              ) -> dict[str, Any]:
    """The config written to the manifest: merge synthesize checks the shards by it and selects by its plan."""
    config = cfg.resolved()
    # The bundled taxonomy by name, not path: a Ray worker reads the copy shipped to its node, at a path that
    # differs per node, and merge requires every shard's settings to agree.
    bundled = Path(tax.path).resolve() == (data_dir() / "taxonomy.yaml").resolve()
    config["taxonomy"] = "<golong-data>/taxonomy.yaml" if bundled else str(tax.path)
    config["plan"] = [list(x) for x in plan]  # merge synthesize orders and selects by it
    config["per_doc_constructors"] = sorted({c.name for t in tasks for c in get_builder(t).constructors
                                             if c.once_per_doc})
    return config


def _ledger_contaminated(run: StageRun, contaminated: list[Document], shard: tuple[int, int] | None) -> None:
    """One ledger line per document (of this shard) that quotes a benchmark."""
    for d in sorted(contaminated, key=lambda d: d.id):
        if not in_shard(d.id, shard):
            continue
        spans = d.quality["contaminated"]
        run.reject(d.id, "contaminated_document", f"{len(spans)} span(s) quote {sorted({b for *_, b in spans})}")


def _attempt_bucket(syn: Synthesizer, task: str, bucket: str, btok: int, docs: list[Document],
                    shard: tuple[int, int] | None, quota: int) -> list[tuple[int, str, Built]]:
    """Every attempt of this shard's slots of one type in one bucket, by an LLM or by the programs."""
    if syn.cfg.llm:
        return run_llm_bucket(syn, task, bucket, btok, docs, shard, quota)
    return program_bucket(syn, task, bucket, btok, docs, shard, quota)


def _record_bucket(run: StageRun, out: _StreamWriter, results: list[tuple[int, str, Built]],
                   decisions: list[str | tuple[str, str]], rej: Counter[str], made: Counter[tuple[str, str]],
                   key: tuple[str, str], bar: Any) -> None:
    """Write the kept samples and ledger the rest: every attempt ends as a sample or a ledger line (or is dropped
    as a repeat of a document's ledger line)."""
    for (_, src, built), d in zip(results, decisions, strict=True):
        if d == DROP:
            continue
        if d != KEEP:
            run.reject(src, d[0], d[1])
            rej[d[0]] += 1
        elif built.sample is not None:
            out.write(built.sample)
            made[key] += 1
            bar.update(1)
        else:
            run.reject(src, built.reason, built.detail)
            rej[built.reason] += 1


def run_synthesize(in_dir: Path, out_dir: Path, cfg: SynthConfig, taxonomy_path: Path | None = None) -> SynthSummary:
    tax = load_taxonomy(taxonomy_path)
    tasks, buckets = _tasks_and_buckets(cfg, tax)
    shard = parse_shard(cfg.shard)
    docs, contaminated = contaminated_documents(load_documents(in_dir))
    if not docs:
        raise GolongError(f"{in_dir}/documents.jsonl holds no documents with text", "run ingest on some files first")
    lib = Library(docs, get_tokenizer(cfg.tokenizer))
    syn = Synthesizer(lib, tax, cfg)
    inputs = [Path(in_dir) / "documents.jsonl"] + (
        [Path(in_dir) / "chunks.jsonl"] if (Path(in_dir) / "chunks.jsonl").exists() else []
    )
    made: Counter[tuple[str, str]] = Counter()
    rejected: dict[tuple[str, str], Counter[str]] = {}
    attempts = 0
    plan = [(task, bucket, quota_for(cfg, tax, task, len(buckets))) for task in tasks for bucket, _ in buckets]
    config = _synth_settings(cfg, tax, tasks, plan)
    per_doc = set(config["per_doc_constructors"])
    btoks = dict(buckets)
    with StageRun(STAGE, out_dir, inputs=inputs, config=config) as run:
        out = run.writer("samples.jsonl")
        _ledger_contaminated(run, contaminated, shard)
        for task in tasks:
            task_plan = [(b, q) for t, b, q in plan if t == task]
            bar = progress(total=sum(q for _, q in task_plan), desc=f"synthesize {task:<22}", unit="slot",
                           leave=False)
            for bucket, quota in task_plan:
                rej = rejected.setdefault((task, bucket), Counter())
                results = _attempt_bucket(syn, task, bucket, btoks[bucket], docs, shard, quota)
                attempts += len(results)
                # A whole run selects here; a shard writes its raw attempts and the merge (synth/merge.py) selects.
                decisions = [KEEP] * len(results) if shard else select(
                    [_outcome(slot, src, b) for slot, src, b in results], cfg.llm, quota, per_doc)
                _record_bucket(run, out, results, decisions, rej, made, (task, bucket), bar)
            bar.close()
        # Every attempt ends as a sample or a ledger line (or is a repeat of a document's ledger line).
        run.counts["attempts"] = attempts
        run.counts.update({f"made.{t}.{b}": n for (t, b), n in sorted(made.items())})
        summary = SynthSummary(made, rejected, Path(out_dir))
        summary.table = summary_table(tasks, [b for b, _ in buckets], made, rejected)
        summary.line = run.summary("made" if shard is None else f"shard {cfg.shard}: raw attempts (merge selects);"
                                   " made")
    return summary


def _outcome(slot: int, src: str, built: Built) -> Outcome:
    s = built.sample
    if s is None:
        return Outcome(slot, src, built.reason, built.detail)
    return Outcome(slot, src, "", sample_detail(s.task_type, s.bucket, slot, str(s.generator.get("name", ""))),
                   str(s.meta.get("question", "")), str(s.meta.get("constructor", "")))


def quota_for(cfg: SynthConfig, tax: Any, task: str, n_buckets: int) -> int:
    """Samples of `task` per bucket: --per-type, or the task's taxonomy share of --total spread over the buckets."""
    if cfg.total is None:
        return cfg.per_type
    return round(tax.task(task).share * cfg.total / max(n_buckets, 1))


def program_bucket(syn: Synthesizer, task: str, bucket: str, btok: int, docs: list[Document],
                   shard: tuple[int, int] | None, quota: int) -> list[tuple[int, str, Built]]:
    """Every attempt of this shard's slots of one type in one bucket: (slot, document, sample or failure).

    Slot s tries up to attempts_per_sample documents: attempt j takes global attempt number a = s + j*quota
    and the document at a in a seeded interleaving of all candidates (so the first attempts of the slots
    spread over distinct documents), with a random stream derived from a alone. Nothing is shared between
    slots except `dead`, a cache of failures that depend on the document only -- skipping a cached one or
    calling it again gives the same control flow, so a slot's outcome is the same on any shard."""
    builder = get_builder(task)
    cfg = syn.cfg
    # (a document under a sentence, e.g. a one-word chat, gives no piece to ask about or pad with)
    cands = [d for d in sorted(docs, key=lambda d: d.id)
             if builder.for_kind(d.kind) and syn.lib.doc_has_a_sentence(d.id)]
    out: list[tuple[int, str, Built]] = []
    if not cands or quota == 0:
        return out
    cands = interleave_kinds(cands, random.Random(derive_seed(cfg.seed, task, bucket, "order")))
    dead: set[tuple[str, str]] = set()  # (doc, constructor): its failure depends on the document alone
    for slot in range(quota):
        if not in_shard(slot_key(task, bucket, slot), shard):
            continue
        for j in range(cfg.attempts_per_sample):
            attempt = slot + j * quota
            doc = cands[attempt % len(cands)]
            rng = random.Random(derive_seed(cfg.seed, task, bucket, attempt))
            ctors = builder.for_kind(doc.kind)
            ctors = [ctors[i] for i in rng.sample(range(len(ctors)), len(ctors))]
            focus = syn.focus(doc, task, btok)
            plan: Plan | str = "no_constructor"
            for ctor in ctors:
                if (doc.id, ctor.name) in dead:
                    continue  # ledgered at its first attempt (select keeps only the first such line)
                # Each constructor draws from its own stream: whether an earlier one was skipped or called
                # cannot change what this one draws.
                plan = ctor.fn(focus, random.Random(derive_seed(cfg.seed, task, bucket, attempt, ctor.name)))
                if isinstance(plan, Plan):
                    break
                out.append((slot, doc.id, Built(None, plan, where(task, bucket, slot, ctor.name))))
                if plan in DOC_LEVEL_REASONS or ctor.once_per_doc:
                    dead.add((doc.id, ctor.name))
                    continue  # the document cannot give this constructor anything: try the next one
                break  # a failed draw (no suitable term, ...): the next attempt draws again
            if not isinstance(plan, Plan):
                continue
            generator = {"kind": "program", "name": f"{task}.{ctor.name}", "version": VERSION, "model": None,
                         "prompt_sha": None, "seed": cfg.seed}
            built = syn.realise(task, bucket, btok, plan, doc, rng, generator, f"{cfg.seed}/{task}/{bucket}/{attempt}",
                                slot)
            out.append((slot, doc.id, built))
            if built.sample is not None:
                break
    return out




def summary_table(tasks: list[str], buckets: list[str], made: Counter[tuple[str, str]],
                  rejected: dict[tuple[str, str], Counter[str]]) -> str:
    """type x bucket: made, and the ledger by reason (for stderr)."""
    w = max(len(t) for t in tasks) if tasks else 10
    lines = [f"{'task type':<{w}}  " + "  ".join(f"{b:>8}" for b in buckets) + "  ledgered (by reason)"]
    for t in tasks:
        cells = "  ".join(f"{made[(t, b)]:>8}" for b in buckets)
        reasons: Counter[str] = Counter()
        for b in buckets:
            reasons.update(rejected.get((t, b), Counter()))
        why = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))) or "-"
        lines.append(f"{t:<{w}}  {cells}  {why}")
    total = sum(made.values())
    lines.append(f"{'total':<{w}}  " + "  ".join(f"{sum(made[(t, b)] for t in tasks):>8}" for b in buckets)
                 + f"  = {total} samples")
    return "\n".join(lines)


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Path, out_dir: Path, cfg: SynthConfig, shard: str | None = None) -> StageResult:
    taxonomy = Path(cfg.taxonomy) if cfg.taxonomy else None
    summary = run_synthesize(inputs, out_dir, replace(cfg, shard=shard or cfg.shard), taxonomy_path=taxonomy)
    return StageResult(summary.line, [summary.table] if summary.table else [], summary)

