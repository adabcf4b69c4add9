"""Pipeline-built samples sized for a small model's window: ingest -> synthesize at short buckets -> fit.

    path = build_fitted_samples([corpus/books, ...], work, tokenizer, max_prompt_tokens=7168, buckets=["1k", "2k"])

The samples are the real program constructors' (golong_data.synth.stage), just at short length buckets; each is
then measured with the *target model's* tokenizer and chat template (the buckets count Qwen tokens), and those
over `max_prompt_tokens` go to fit_rejected.jsonl with the reason, never dropped silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from golong_data.ingest.stage import run_ingest
from golong_data.records import Rejection, Sample, read_records, write_jsonl
from golong_data.synth.stage import SynthConfig, run_synthesize
from golong_data.train.data import prompt_ids


def build_fitted_samples(corpus: list[Path], work: Path, tokenizer: Any, max_prompt_tokens: int,
                         buckets: list[str], per_type: int = 4, seed: int = 0,
                         tasks: list[str] | None = None) -> Path:
    """work/samples.jsonl: synthesized samples whose chat prompt fits `max_prompt_tokens` of `tokenizer`."""
    work = Path(work)
    run_ingest([Path(p) for p in corpus], work / "ingest")
    run_synthesize(work / "ingest", work / "synthesize", SynthConfig(per_type=per_type, buckets=buckets, seed=seed,
                                                                     tasks=tasks))
    kept: list[Sample] = []
    rejected: list[Rejection] = []
    for s in read_records(work / "synthesize" / "samples.jsonl", Sample):
        n = len(prompt_ids(tokenizer, s.prompt))
        if n <= max_prompt_tokens:
            kept.append(s)
        else:
            rejected.append(Rejection(stage="fit", source=s.id, reason="prompt_over_model_window",
                                      detail=f"{n} tokens > {max_prompt_tokens}"))
    out = work / "samples.jsonl"
    write_jsonl(out, kept)
    write_jsonl(work / "fit_rejected.jsonl", rejected)
    return out
