"""`golong-data verify`: keep only samples that are right, need their context, and teach something.

Runs the checks of golong_data.verify.checks in order over samples.jsonl; each check runs only on the samples
that passed the previous ones (so a wrong gold costs no LLM call), and a sample leaves at its first
failing check. The stage runner -- this module, not the checks -- writes the rejections, with the check's
numbers. Every LLM call goes through the LLM layer's SQLite cache, so rerunning with a different band or
threshold re-decides from cached rollouts and sends nothing.

Sharding (`--shard i/N`): the input is read in global chunks of CHUNK lines; a shard verifies the samples of
each chunk that are its own (golong_data.pipeline.shard.in_shard by id), while the robustness check draws distractors
from every valid sample of the chunk. Both output files are in input order (rejections are buffered per chunk
and written by input position), so a shard writes a subsequence of the single run's lines and
golong_data.verify.merge.merge_verify gives back the single run's bytes.

verification block of a sample (enough to recompute the verdict, see checks.recompute_verdict):
    {"checks": {"gold": {...}, "reanswer": {"model", "prompt_sha", "seeds", "temperature", "rewards",
                "threshold", "verdict"}, ...}, "skipped": {"robustness": "why"}, "pass_rate": 0.5,
     "verdict": "kept"}
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from golong_data.config import ALL_CHECKS, VerifyConfig, parse_band
from golong_data.errors import GolongError
from golong_data.llm import LLMRequest, run_batch
from golong_data.llm.contract import LOCAL_MODEL
from golong_data.pipeline.shard import in_shard, parse_shard
from golong_data.pipeline.stage import StageRun, upstream_stage_dirs
from golong_data.pipeline.stages import StageResult
from golong_data.records import Sample, iter_jsonl, read_records, stage_file
from golong_data.rewards import get_profile, score_sample
from golong_data.rewards.accuracy import extract_choice
from golong_data.rewards.common import after_think, passes_think_gate
from golong_data.rewards.profiles import Profile
from golong_data.taxonomy import Taxonomy, load_taxonomy, metric_key
from golong_data.verify import checks as C
from golong_data.verify.shortcuts import THINK_PREFIX, measure, split_prompt

LLM_CHECKS = ("reanswer", "nocontext", "robustness", "band")
# Input lines held at once. The chunk, not the shard or what passed earlier checks, is also the robustness
# check's pool of distractor contexts: the same for every shard, so a sample's distractors never depend on N.
CHUNK = 512


@dataclass
class VerifySummary:
    out_dir: Path
    kept: int = 0
    rejected: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    table: str = ""
    requests: int = 0
    cached: int = 0
    inconclusive: dict[str, int] = field(default_factory=dict)  # check -> samples kept on no evidence

    @property
    def line(self) -> str:
        s = f"verify: kept {self.kept}, rejected {self.rejected}"
        if self.requests:
            s += f"; {self.requests} LLM requests ({self.cached} from cache)"
        if self.inconclusive:
            s += "; inconclusive (kept, not passed) " + ", ".join(f"{k} {v}" for k, v in self.inconclusive.items())
        if self.skipped:
            s += "; skipped " + ", ".join(f"{k} ({v})" for k, v in self.skipped.items())
        if self.rejected:
            s += f"; see {self.out_dir / 'rejected.jsonl'}"
        return s


def prompt_sha(messages: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _gold_strings(s: Sample) -> list[str]:
    gt = s.ground_truth or {}
    items = [str(gt.get("golden_label", ""))] + [str(x) for x in gt.get("doc_ids", []) or []]
    return [x for x in items if len(x) >= 3]


def _doc_lengths(in_dir: Path, documents: str | None) -> dict[str, int] | None:
    """{doc_id: len(text)} from documents.jsonl (given, or found upstream through the manifests)."""
    cand: list[Path] = []
    if documents:
        p = Path(documents)
        cand.append(p / "documents.jsonl" if p.is_dir() else p)
    else:
        cand += [d / "documents.jsonl" for d in upstream_stage_dirs(in_dir)]
    for p in cand:
        if p.is_file():
            return {str(o["id"]): len(o.get("text", "")) for o in iter_jsonl(p)}
    if documents:
        raise GolongError(f"--documents {documents}: no documents.jsonl there", "point it at the ingest output")
    return None


def distractor_prompt(s: Sample, others: list[Sample], key: str) -> tuple[list[dict[str, str]], list[str]] | None:
    """The sample's prompt with other documents' contexts put in front: about twice the context (next bucket).

    Distractors come from samples over other documents whose context mentions none of this sample's gold
    strings, so the gold stays uniquely supported. None when the sample gives no way to split its prompt.
    """
    split = split_prompt(s)
    if split is None:
        return None
    own_ctx, _ = split
    golds = _gold_strings(s)
    mine = set((s.ground_truth or {}).get("doc_ids", []) or []) | {e.get("doc_id") for e in s.evidence}
    added, used, pieces = 0, [], []
    # Deterministic choice: other samples ordered by a hash of (this sample's key, their id).
    for o in sorted(others, key=lambda o: hashlib.sha256(f"{key}:{o.id}".encode()).hexdigest()):
        if o.id == s.id or (mine & ({e.get("doc_id") for e in o.evidence} - {None})):
            continue
        osplit = split_prompt(o)
        if osplit is None or any(g in osplit[0] for g in golds):
            continue
        pieces.append(osplit[0])
        used.append(o.id)
        added += len(osplit[0])
        if added >= len(own_ctx):
            break
    if not pieces or added < len(own_ctx) // 2:
        return None
    content = "\n\n".join(pieces) + "\n\n" + str(s.prompt[-1]["content"])
    return [*s.prompt[:-1], {**s.prompt[-1], "content": content}], used


def unreadable(metric: str, text: str, prof: Any) -> bool:
    """Whether the reward cannot read any answer in this reply, whatever it says: no "The correct answer is (X)"
    for a multiple choice, no digit for a number, no JSON object for a table. Such a reply scores 0 for its
    format, not its content (graded list metrics read any line, so they always have an answer)."""
    area = after_think(text) if metric in ("accuracy", "em", "math_verify") or prof.answer_after_think else text
    if metric == "accuracy":
        return extract_choice(area) is None
    if metric == "math_verify":
        return not any(c.isdigit() for c in area)
    if metric == "iou":
        return "{" not in area
    return False


class _Solver:
    """One place that turns (sample, messages, seeds, temperature) into rewards via the LLM layer."""

    def __init__(self, cfg: VerifyConfig) -> None:
        self.cfg = cfg
        self.llm = cfg.endpoint.llm_config(cfg.solver)
        self.model = (self.llm.model or os.environ.get("OPENAI_MODEL")
                      or (LOCAL_MODEL if self.llm.base_url is None else "?"))
        self.requests = 0
        self.cached = 0
        tax = load_taxonomy(check_prompts=False)
        self._metric = {t: metric_key(spec.metric) for t, spec in tax.tasks.items()}

    def metric(self, s: Sample) -> str:
        return self._metric.get(s.task_type, "")

    def rollouts(self, jobs: list[tuple[Sample, list[dict[str, Any]], list[int], float]], desc: str
                 ) -> list[tuple[list[float], list[str | None], list[bool], str]]:
        """For each job: (rewards, errors, blind, prompt_sha), scoring each completion against the sample's gold
        under the configured profile and think gate; blind[i]: reply i was cut by the token limit or cannot
        score above 0 for its format (empty, failing the think gate, or `unreadable`) -- see checks.inconclusive."""
        prof = get_profile(self.cfg.profile, self.cfg.think_gate)

        reqs = []
        for s, msgs, seeds, temp in jobs:
            # The solver sees what the policy sees in training: the sample's own messages, no system prompt.
            for sd in seeds:
                reqs.append(LLMRequest(key=f"{s.id}:{sd}", messages=msgs, temperature=temp,
                                       max_tokens=self.cfg.max_tokens, seed=sd, task_type=s.task_type))
        results = run_batch(reqs, self.llm, stage="verify", desc=desc) if reqs else []
        self.requests += len(results)
        self.cached += sum(1 for r in results if r.cached)
        out, i = [], 0
        for s, msgs, seeds, _ in jobs:
            rewards, errors, blind = [], [], []
            for _ in seeds:
                r = results[i]
                i += 1
                errors.append(None if r.ok else (r.error or "error"))
                # A truncated completion ("length") is still the model's answer and is scored as such.
                rewards.append(float(score_sample(s, r.text, profile=prof)) if r.text else 0.0)
                blind.append(r.error == "length" or not (r.text or "").strip()
                             or (prof.think_gate and not passes_think_gate(r.text or ""))
                             or unreadable(self.metric(s), r.text or "", prof))
            out.append((rewards, errors, blind, prompt_sha(msgs)))
        return out


_Job = tuple[Sample, list[dict[str, Any]], list[int], float]  # (sample, messages, seeds, temperature)


@dataclass
class _Setup:
    """What every check of one run reads, resolved once: config, seed, taxonomy, reward profile, band, doc lengths."""

    cfg: VerifyConfig
    seed: int
    tax: Taxonomy
    prof: Profile
    lo: int
    hi: int
    doc_len: dict[str, int] | None

    def metric(self, s: Sample) -> str:
        """The reward key of the sample's task type (it decides thresholds and binary-ness)."""
        return metric_key(self.tax.tasks[s.task_type].metric)


@dataclass
class _Book:
    """The run's verdict counts and the current chunk's verification blocks and rejections."""

    table: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rates: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> verification block being built
    # The chunk's rejections as (input position, id, reason, detail), written sorted at the chunk's end: checks
    # reject in check order, the file lists them in input order (what merge_verify merges by).
    pending: list[tuple[int, str, str, str]] = field(default_factory=list)
    at: dict[str, int] = field(default_factory=dict)  # id -> input position of the chunk's active samples

    def fail(self, s: Sample, check: str, reason: str, ev: dict[str, Any]) -> None:
        """Ledger the sample at this check."""
        self.state[s.id]["checks"][check] = {**ev, "verdict": "fail"}
        self.pending.append((self.at[s.id], s.id, reason,
                             json.dumps({"check": check, **ev}, sort_keys=True, ensure_ascii=False)))
        self.table[(s.task_type, check)]["rejected"] += 1

    def passed(self, s: Sample, check: str, ev: dict[str, Any]) -> None:
        """Record a pass (the sample goes on to the next check)."""
        self.state[s.id]["checks"][check] = {**ev, "verdict": "pass"}
        self.table[(s.task_type, check)]["kept"] += 1

    def unsure(self, s: Sample, check: str, ev: dict[str, Any]) -> None:
        """Kept, but never reported as passed: the card and the verifier key list passes only."""
        self.state[s.id]["checks"][check] = {**ev, "verdict": "inconclusive"}
        self.table[(s.task_type, check)]["inconclusive"] += 1

    def skip(self, s: Sample, check: str, reason: str) -> None:
        """The check cannot run on this sample: kept, with why."""
        self.state[s.id]["checks"][check] = {"verdict": "skipped", "reason": reason}

    def judge(self, s: Sample, check: str, ok: bool, reason: str, ev: dict[str, Any], kept: list[Sample]) -> None:
        """A local check's verdict: kept (and passed on to the next check) or ledgered."""
        if ok:
            self.passed(s, check, ev)
            kept.append(s)
        else:
            self.fail(s, check, reason, ev)

    def rejections(self) -> list[tuple[str, str, str]]:
        """The chunk's (id, reason, detail) in input order: one line per input at most."""
        return [(rid, reason, detail) for _, rid, reason, detail in sorted(self.pending, key=lambda r: r[0])]


def _verify_settings(cfg: VerifyConfig, seed: int, shard: str | None) -> dict[str, Any]:
    """The config written to the manifest; merge_verify checks the shards by it."""
    settings = {**asdict(cfg), "seed": seed, "shard": shard}
    # How fast and where answers are kept, not what: they do not change the outputs, and shards on several
    # nodes each keep their own cache (merge_verify requires one config across the shards).
    settings["endpoint"].pop("max_in_flight")
    settings["endpoint"].pop("cache_path")
    return settings


def _admit(chunk: list[Sample], base: int, part: tuple[int, int] | None, seen: set[str], su: _Setup, book: _Book,
           skipped: dict[str, str]) -> tuple[list[Sample], list[Sample]]:
    """Start a chunk: ledger duplicate and unknown-type samples; return (distractor pool, this shard's samples)."""
    book.state = {}
    book.pending.clear()
    book.at.clear()
    pool: list[Sample] = []  # the chunk's valid samples, whatever their shard: the distractor pool
    active: list[Sample] = []
    for i, s in enumerate(chunk, base):
        # malformed or duplicate samples leave first, so every input is accounted for (by its shard: the
        # same id is always in the same shard, so a shard sees all of an id's lines)
        mine = in_shard(s.id, part)
        if s.id in seen:
            if mine:
                book.pending.append((i, s.id, "duplicate_id", "a sample with this id came earlier in samples.jsonl"))
            continue
        seen.add(s.id)
        if s.task_type not in su.tax.tasks:
            if mine:
                book.pending.append((i, s.id, "unknown_task_type", f"{s.task_type!r} is not in {su.tax.path}"))
            continue
        pool.append(s)
        if mine:
            book.at[s.id] = i
            book.state[s.id] = {"checks": {}, "skipped": dict(skipped)}
            active.append(s)
    return pool, active


def _check_gold(active: list[Sample], su: _Setup, book: _Book) -> list[Sample]:
    """The gold check: the sample's own answer scores under its reward, and its evidence spans exist."""
    nxt: list[Sample] = []
    for s in active:
        reward = float(score_sample(s, THINK_PREFIX + s.answer, profile=su.prof)) if s.answer else 0.0
        spans = C.span_errors(s.evidence, su.doc_len)
        ok, reason, ev = C.check_gold(reward, C.gold_threshold(su.metric(s)), s.answer, spans)
        ev["spans_checked"] = len(s.evidence) if su.doc_len is not None else 0
        ev["answer_present"] = bool(s.answer.strip())
        book.judge(s, "gold", ok, reason, ev, nxt)
    return nxt


def _check_shortcut(active: list[Sample], su: _Setup, book: _Book) -> list[Sample]:
    """The shortcut check: blind baselines (no context, wrong context) must not score like the gold."""
    nxt: list[Sample] = []
    for s in active:
        b = measure(s, su.metric(s), su.prof, su.seed)
        if b is None:
            book.skip(s, "shortcut", "prompt has no meta.question to split at")
            nxt.append(s)
            continue
        ok, reason, ev = C.check_shortcut(b.record()["scores"], round(b.chance, 6), su.cfg.max_blind)
        ev.update(profile=b.profile, think_gate=su.prof.think_gate, gold=round(b.gold, 6))
        book.judge(s, "shortcut", ok, reason, ev, nxt)
    return nxt


def _llm_jobs(check: str, active: list[Sample], pool: list[Sample], su: _Setup, book: _Book
              ) -> tuple[list[_Job], dict[str, dict[str, Any]], list[Sample]]:
    """The solver jobs of an LLM check, the extra record per sample, and the samples it cannot run on (kept)."""
    seed, k = su.seed, su.cfg.k
    jobs: list[_Job] = []
    extra: dict[str, dict[str, Any]] = {}
    keep_without: list[Sample] = []
    for s in active:
        if check == "reanswer":
            jobs.append((s, s.prompt, [seed], 0.0))
        elif check == "nocontext":
            q = str((s.meta or {}).get("question", ""))
            if not q:
                book.skip(s, check, "sample has no meta.question")
                keep_without.append(s)
                continue
            fmt = su.tax.tasks[s.task_type].answer_format
            jobs.append((s, [{"role": "user", "content": f"{q}\n\n{fmt}"}], [seed], 0.0))
        elif check == "robustness":
            dp = distractor_prompt(s, pool, f"{seed}:{s.id}")
            if dp is None:
                book.skip(s, check, "no way to enlarge the context: prompt has no meta.question to split at, "
                          "or no other documents' contexts to add")
                keep_without.append(s)
                continue
            extra[s.id] = {"distractors": dp[1]}
            jobs.append((s, dp[0], [seed + i for i in range(k)], 1.0))
        else:  # band
            jobs.append((s, s.prompt, [seed + i for i in range(k)], 1.0))
    return jobs, extra, keep_without


def _llm_verdict(check: str, s: Sample, rewards: list[float], su: _Setup, book: _Book
                 ) -> tuple[bool, str, dict[str, Any]]:
    """The check's verdict on the sample's rewards; the band check also records the pass rate."""
    mk = su.metric(s)
    if check == "reanswer":
        return C.check_reanswer(rewards, C.solve_threshold(mk, su.cfg.thresholds))
    if check == "nocontext":
        return C.check_nocontext(rewards, su.cfg.leak_threshold)
    if check == "robustness":
        return C.check_robustness(rewards, C.solve_threshold(mk, su.cfg.thresholds))
    ok, reason, ev = C.check_band(rewards, C.is_binary(mk), su.lo, su.hi)
    book.state[s.id]["pass_rate"] = ev["mean"]
    book.rates[s.task_type].append(ev["mean"])
    return ok, reason, ev


def _settle(check: str, s: Sample, verdict: tuple[bool, str, dict[str, Any]], rec: dict[str, Any],
            errors: list[str | None], blind: list[bool], book: _Book, nxt: list[Sample]) -> None:
    """Book an LLM check's outcome for one sample; kept samples go to nxt."""
    ok, reason, ev = verdict
    # A failed call (HTTP 4xx/5xx after retries, timeout) means the check has no evidence: the
    # sample is rejected (retried next run), never passed -- a no-context call that failed must not
    # certify that the sample needs its context. Replies that came back but could not show a solve
    # (cut at max_tokens, no </think> under the gate) make the check inconclusive, not passed.
    if any(e not in (None, "length") for e in errors):
        book.fail(s, check, "solver_error", {**rec, **ev})
    elif check != "band" and C.inconclusive(ok, blind, passes_when_solved=check != "nocontext"):
        # every reply was cut short or unscorable: no evidence either way (the band keeps
        # training's view, where a truncated rollout earns 0)
        book.unsure(s, check, {**rec, **ev, "reason": "every reply truncated or unscorable for format"})
        nxt.append(s)
    elif ok:
        book.passed(s, check, {**rec, **ev})
        nxt.append(s)
    else:
        book.fail(s, check, reason, {**rec, **ev})


def _check_llm(check: str, active: list[Sample], pool: list[Sample], solver: _Solver, su: _Setup, book: _Book
               ) -> list[Sample]:
    """One LLM check over the chunk's active samples, as one batch of requests; returns the kept, in input order."""
    jobs, extra, keep_without = _llm_jobs(check, active, pool, su, book)
    outs = solver.rollouts(jobs, desc=f"verify: {check}")
    nxt = list(keep_without)
    for (s, _, seeds, temp), (rewards, errors, blind, psha) in zip(jobs, outs, strict=True):
        rec = {"model": solver.model, "prompt_sha": psha, "seeds": seeds, "temperature": temp,
               "profile": su.prof.name, "think_gate": su.prof.think_gate, **extra.get(s.id, {})}
        if any(errors):
            rec["errors"] = errors
        verdict = _llm_verdict(check, s, rewards, su, book)
        if any(blind):
            rec["blind"] = blind
        _settle(check, s, verdict, rec, errors, blind, book, nxt)
    nxt_ids = {s.id for s in nxt}
    return [s for s in active if s.id in nxt_ids]  # input order, whatever the batching did


def run_verify(in_dir: Path, out_dir: Path, cfg: VerifyConfig | None = None, seed: int = 0,
               shard: str | None = None) -> VerifySummary:
    """Verify in_dir/samples.jsonl into out_dir/verified.jsonl (+ rejected.jsonl, manifest.json); with `shard`
    ('i/N') only the samples of that shard (see the module docstring)."""
    cfg = cfg or VerifyConfig()
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    bad = [c for c in cfg.checks if c not in ALL_CHECKS]
    if bad:
        raise GolongError(f"unknown check(s) {', '.join(bad)}", f"--checks takes some of: {', '.join(ALL_CHECKS)}")
    lo, hi = parse_band(cfg.band, cfg.k) if "band" in cfg.checks else (0, cfg.k)
    prof = get_profile(cfg.profile, cfg.think_gate)  # a bad profile name fails here, before any work
    part = parse_shard(shard)
    samples_path = stage_file(in_dir, "samples.jsonl")
    tax = load_taxonomy(check_prompts=False)
    doc_len = _doc_lengths(in_dir, cfg.documents) if "gold" in cfg.checks else None
    su = _Setup(cfg, seed, tax, prof, lo, hi, doc_len)
    summary = VerifySummary(out_dir)
    order = [c for c in ALL_CHECKS if c in cfg.checks]
    for c in ALL_CHECKS:
        if c not in order:
            summary.skipped[c] = "not in --checks"
    book = _Book()

    with StageRun("verify", out_dir, inputs=[samples_path], config=_verify_settings(cfg, seed, shard)) as run:
        verified = run.writer("verified.jsonl")
        seen: set[str] = set()  # every id read, in or out of this shard: duplicates are judged on the whole input
        solver: _Solver | None = None
        # Chunks of CHUNK samples, each taken through every check: memory stays bounded by the chunk (64K-token
        # prompts are ~256 KB each), while each check still sends one batch of requests per chunk.
        records = read_records(samples_path, Sample)
        base = 0  # input position of the chunk's first line
        while chunk := list(itertools.islice(records, CHUNK)):
            pool, active = _admit(chunk, base, part, seen, su, book, summary.skipped)
            base += len(chunk)
            if "gold" in order:
                active = _check_gold(active, su, book)
            if "shortcut" in order:
                active = _check_shortcut(active, su, book)
            for check in (c for c in order if c in LLM_CHECKS):
                if not active:
                    break
                solver = solver or _Solver(cfg)
                active = _check_llm(check, active, pool, solver, su, book)
            for s in active:
                s.verification = {**(s.verification or {}), **book.state[s.id], "verdict": "kept"}
                verified.write(s)
            for rid, reason, detail in book.rejections():
                run.reject(rid, reason, detail)
        summary.kept = verified.count
        summary.rejected = run.n_rejected
        if solver is not None:
            summary.requests, summary.cached = solver.requests, solver.cached
            run.counts.update({"llm_requests": solver.requests})
    for (_, c), cnt in sorted(book.table.items()):
        if cnt["inconclusive"]:
            summary.inconclusive[c] = summary.inconclusive.get(c, 0) + cnt["inconclusive"]
    summary.table = render_table(book.table, book.rates, order)
    return summary


def render_table(table: dict[tuple[str, str], Counter[str]], rates: dict[str, list[float]], order: list[str]) -> str:
    """task type x check -> kept/rejected, plus a pass-rate histogram (tenths) of the band check."""
    tasks = sorted({t for t, _ in table})
    head = f"{'task type':<24}" + "".join(f"{c:>14}" for c in order) + "   pass-rate histogram (0..1, tenths)"
    lines = [head]
    for t in tasks:
        row = f"{t:<24}"
        for c in order:
            k, r, u = table[(t, c)]["kept"], table[(t, c)]["rejected"], table[(t, c)]["inconclusive"]
            cell = f"{k}/{k + r + u}" + (f" ?{u}" if u else "")
            row += f"{cell:>14}" if k + r + u else f"{'-':>14}"
        hist = Counter(min(9, int(x * 10)) for x in rates.get(t, []))
        row += "   " + " ".join(str(hist.get(i, 0)) for i in range(10)) if rates.get(t) else ""
        lines.append(row)
    return "\n".join(lines) + "\n(passed/checked per check; ?n: n inconclusive -- kept, not passed)"


# ---------------------------------------------------------------- the stage contract (pipeline/stages.py)
def run(inputs: Path, out_dir: Path, cfg: VerifyConfig, shard: str | None = None) -> StageResult:
    summary = run_verify(inputs, out_dir, cfg, seed=cfg.seed, shard=shard)
    return StageResult(summary.line, [summary.table] if summary.table else [], summary)

