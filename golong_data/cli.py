"""The `golong-data` command line: one thin function per command.

Each stage command builds its stage's config from its options (declared once, in golong_data.config), runs
the stage through the registry (golong_data.pipeline.stages: modules load lazily, so `golong-data --help` stays
instant), prints what the stage returned, and turns a GolongError into one red line that names the fix
(tracebacks only with --debug).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

# Plain dataclasses (no heavy imports): options take their defaults, help and ranges from them.
from golong_data.config import (
    ChunkConfig,
    DedupConfig,
    EndpointConfig,
    ExportConfig,
    IngestConfig,
    ShardsConfig,
    SynthConfig,
    VerifyConfig,
    default_of,
    from_mapping,
    help_of,
)
from golong_data.errors import ConfigError, GolongError
from golong_data.pipeline.stages import STAGES, get_stage  # light: the registry names stage modules, loads none
from golong_data.train.config import TrainConfig  # plain dataclasses: nothing heavy

app = typer.Typer(
    help="Build long-context RLVR training data (the GoLongRL recipe) and train on it.\n\n"
    "Stages: ingest -> chunk -> dedup -> synthesize -> verify -> export; then score / train. "
    "`golong-data run CONFIG` runs them all and skips what is up to date.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    _state["debug"] = debug


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GolongError (and bad option values) into one red line and exit code 1 (2 for usage)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except GolongError as e:
            if _state["debug"]:
                raise
            _fail(str(e))
        except (ValueError, FileNotFoundError) as e:
            if _state["debug"]:
                raise
            _fail(str(e), 2)
        except KeyboardInterrupt:
            _fail("interrupted; rerun the same command to resume", 130)

    return wrapper


def opt(cls: type, name: str, *flags: str) -> Any:
    """A Typer option whose default, help and range come from a config dataclass field (declared once there;
    constructing the dataclass is what checks the range)."""
    return typer.Option(default_of(cls, name), *flags, help=help_of(cls, name))


def echo(line: str) -> None:
    """Summaries go to stderr so stdout stays clean for data (e.g. `score` without --out)."""
    typer.echo(line, err=True)


def run_stage(name: str, inputs: Any, out: Path, cfg: Any, shard: str | None = None) -> Any:
    """Run one stage through the registry and print what it returned (notes, then its line)."""
    res = STAGES[name].run(inputs, out, cfg, shard)
    for note in res.notes:
        echo(note)
    echo(res.line)
    return res


def csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


# ---------------------------------------------------------------- ingest (issue 2)
@app.command(help=STAGES["ingest"].help)
@handle_errors
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or directories (recursive): EPUB, PDF, JSON/JSONL dialogues, "
                                       "transcripts, .txt/.md."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes documents.jsonl + rejected.jsonl."),
    strict: bool = typer.Option(False, help="Exit non-zero when any input was rejected."),
    shard: str | None = typer.Option(None, help="Process only shard i/N of the inputs (e.g. 0/4)."),
    workers: int | None = opt(IngestConfig, "workers"),
) -> None:
    res = run_stage("ingest", paths, out, IngestConfig(workers=workers), shard)
    if strict and res.detail.rejected:
        raise typer.Exit(1)


# ---------------------------------------------------------------- chunk (issue 4)
@app.command(help=STAGES["chunk"].help)
@handle_errors
def chunk(
    in_dir: Path = typer.Option(..., "--in", "-i", help="Directory holding documents.jsonl (ingest's output)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes chunks.jsonl + documents.jsonl."),
    max_tokens: int = opt(ChunkConfig, "max_tokens", "--max-tokens", "-n"),
    tokenizer: str | None = opt(ChunkConfig, "tokenizer"),
    shard: str | None = typer.Option(None, help="Process only shard i/N of the documents (e.g. 0/4)."),
) -> None:
    run_stage("chunk", in_dir, out, ChunkConfig(max_tokens=max_tokens, tokenizer=tokenizer), shard)


# ---------------------------------------------------------------- dedup (issue 4)
@app.command(help=STAGES["dedup"].help)
@handle_errors
def dedup(
    in_dir: Path = typer.Option(..., "--in", "-i", help="Directory holding chunks.jsonl + documents.jsonl (chunk's "
                                "output), or samples.jsonl with --questions."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes the kept records + rejected.jsonl."),
    threshold: float = opt(DedupConfig, "threshold"),
    num_perm: int = opt(DedupConfig, "num_perm"),
    ngram: int = opt(DedupConfig, "ngram"),
    against: list[Path] = typer.Option([], help="Benchmark file (JSONL or parquet; every string field is read) to "
                                       "decontaminate against; repeat for several."),
    contam_ngram: int = opt(DedupConfig, "contam_ngram"),
    questions: bool = typer.Option(False, "--questions", help="Dedup synthesized samples by question instead "
                                   "(rapidfuzz token_set_ratio)."),
    question_threshold: float = opt(DedupConfig, "question_threshold"),
    shard: str | None = typer.Option(None, help="i/N: --in is chunk shard i (`chunk --shard i/N`'s output); write its "
                                     "MinHash signatures, which `shard dedup --merge-only` clusters."),
) -> None:
    if questions:
        from golong_data.dedup.questions import run_question_dedup

        echo(run_question_dedup(in_dir, out, question_threshold))
    else:
        cfg = DedupConfig(threshold=threshold, num_perm=num_perm, ngram=ngram, against=[str(p) for p in against],
                          contam_ngram=contam_ngram)
        run_stage("dedup", in_dir, out, cfg, shard)


# ---------------------------------------------------------------- taxonomy + score (issue 3)
@app.command()
@handle_errors
def taxonomy(
    taxonomy_path: Path | None = typer.Option(None, "--taxonomy", help="A taxonomy YAML (default: the repo's "
                                              "taxonomy.yaml)."),
    check_prompts: bool = typer.Option(True, "--check-prompts/--no-check-prompts",
                                       help="Require every task's synthesis prompt file to exist."),
) -> None:
    """Print the capability tree: task types with metric, share of the mix and reward route."""
    from golong_data.taxonomy import load_taxonomy

    typer.echo(load_taxonomy(taxonomy_path, check_prompts=check_prompts).tree())


@app.command()
@handle_errors
def score(
    data: Path = typer.Option(..., "--data", help="Samples: samples.jsonl / verified.jsonl (file or stage dir), "
                              "or verl rows (parquet or JSONL)."),
    completions: Path = typer.Option(..., "--completions", help="JSONL of {id, completion}; id = sample id "
                                     "(verl rows: extra_info.sample_id or extra_info.index)."),
    profile: str = opt(TrainConfig, "profile", "--profile"),
    no_think_gate: bool = opt(TrainConfig, "no_think_gate", "--no-think-gate"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write {id, task_type, score} JSONL here "
                                    "(default: stdout)."),
    strict_routes: bool = typer.Option(False, "--strict-routes", help="Stop with an error on a row the official "
                                       "reward router cannot score (default: 0.0 and one warning per route)."),
) -> None:
    """Score completions with the GoLongRL reward router; a per-task summary goes to stderr."""
    from golong_data.score import score_completions

    summary = score_completions(data, completions, out=out, profile=profile,
                                think_gate=False if no_think_gate else None, strict_routes=strict_routes)
    echo(summary.table())
    echo(f"score: scored {summary.n_scored} completion(s)" + (f" -> {out}" if out else ""))


# ---------------------------------------------------------------- serve-local (issue 5)
@app.command("serve-local")
@handle_errors
def serve_local(
    stop: bool = typer.Option(False, "--stop", help="Stop the running local server (by the pid in its pid file)."),
    port: int | None = typer.Option(None, "--port", help="Port on 127.0.0.1 (default: a free one)."),
) -> None:
    """Start (or stop) the embedded SmolLM2-135M server; stages reuse it instead of starting their own."""
    from golong_data.llm import local_server

    if stop:
        echo("stopped the local LLM" if local_server.stop() else "no local LLM was running")
        return
    srv, started = local_server.start(port=port, owner="serve-local")
    typer.echo(srv.base_url)  # stdout: for scripts, e.g. OPENAI_BASE_URL=$(golong-data serve-local)
    echo(f"{'started' if started else 'already running:'} {srv.model} at {srv.base_url} (pid {srv.pid}); "
         "stop it with `golong-data serve-local --stop`")


# ---------------------------------------------------------------- synthesize (issue 6)
@app.command(help=STAGES["synthesize"].help)
@handle_errors
def synthesize(
    in_dir: Path = typer.Option(..., "--in", "-i", help="Directory with documents.jsonl (+ chunks.jsonl after dedup)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes samples.jsonl + rejected.jsonl."),
    taxonomy: Path | None = typer.Option(None, help="Task taxonomy YAML (default: the repository's taxonomy.yaml)."),
    per_type: int = opt(SynthConfig, "per_type"),
    total: int | None = opt(SynthConfig, "total"),
    buckets: str = typer.Option(",".join(default_of(SynthConfig, "buckets")), help=help_of(SynthConfig, "buckets")),
    tasks: str | None = typer.Option(None, help="Only these task types, comma-separated (default: all nine)."),
    seed: int = opt(SynthConfig, "seed"),
    near_ratio: float = opt(SynthConfig, "near_ratio"),
    depth: float | None = opt(SynthConfig, "depth"),
    llm: bool = opt(SynthConfig, "llm", "--llm"),
    base_url: str | None = opt(EndpointConfig, "base_url"),
    model: str | None = opt(EndpointConfig, "model"),
    api_key_env: str = opt(EndpointConfig, "api_key_env"),
    max_in_flight: int = opt(EndpointConfig, "max_in_flight"),
    max_cost: float | None = opt(EndpointConfig, "max_cost"),
    shard: str | None = typer.Option(None, help="Make only shard i/N of the sample slots (e.g. 0/4), from "
                                      "the whole library; `shard synthesize --merge-only` joins the shards."),
) -> None:
    cfg = SynthConfig(
        per_type=per_type, total=total, buckets=csv(buckets) or [], seed=seed, tasks=csv(tasks),
        near_ratio=near_ratio, depth=depth, llm=llm, taxonomy=str(taxonomy) if taxonomy else None,
        endpoint=EndpointConfig(base_url=base_url, model=model, api_key_env=api_key_env, max_in_flight=max_in_flight,
                                max_cost=max_cost),
    )
    run_stage("synthesize", in_dir, out, cfg, shard)


# ---------------------------------------------------------------- verify (issue 7)
@app.command(help=STAGES["verify"].help)
@handle_errors
def verify(
    in_dir: Path = typer.Option(..., "--in", "-i", help="Synthesize output directory (holds samples.jsonl)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes verified.jsonl + rejected.jsonl."),
    checks: str = typer.Option(",".join(default_of(VerifyConfig, "checks")), help="Comma-separated. "
                               + help_of(VerifyConfig, "checks")),
    solver: str | None = opt(VerifyConfig, "solver"),
    base_url: str | None = opt(EndpointConfig, "base_url"),
    api_key_env: str = opt(EndpointConfig, "api_key_env"),
    max_cost: float | None = opt(EndpointConfig, "max_cost"),
    k: int = opt(VerifyConfig, "k"),
    band: str = opt(VerifyConfig, "band"),
    seed: int = opt(VerifyConfig, "seed"),
    documents: Path | None = typer.Option(None, help="documents.jsonl (or its dir) to resolve evidence spans; "
                                          "default: found through the manifests."),
    max_in_flight: int = opt(EndpointConfig, "max_in_flight"),
    shard: str | None = typer.Option(None, help="Verify only shard i/N of the samples (e.g. 0/4)."),
    profile: str = opt(VerifyConfig, "profile", "--profile"),
    no_think_gate: bool = typer.Option(False, "--no-think-gate", help="Score solver replies without requiring "
                                       "</think> (for solvers that do not think, e.g. SmolLM2)."),
    max_blind: float = opt(VerifyConfig, "max_blind", "--max-blind"),
) -> None:
    endpoint = EndpointConfig(base_url=base_url, api_key_env=api_key_env, max_in_flight=max_in_flight,
                              max_cost=max_cost)
    cfg = VerifyConfig(checks=csv(checks) or [], solver=solver, endpoint=endpoint, k=k, band=band,
                       documents=str(documents) if documents else None, profile=profile,
                       think_gate=not no_think_gate, max_blind=max_blind, seed=seed)
    run_stage("verify", in_dir, out, cfg, shard)


# ---------------------------------------------------------------- export + run (issue 8)
@app.command(help=STAGES["export"].help)
@handle_errors
def export(
    in_dir: Path = typer.Option(..., "--in", "-i", help="Verify output directory (verified.jsonl) or synthesize's."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: train/val parquet + JSONL + README.md card."),
    size: int = opt(ExportConfig, "size"),
    val_per_type: int = opt(ExportConfig, "val_per_type"),
    seed: int = opt(ExportConfig, "seed"),
    import_: list[Path] = typer.Option([], "--import", help="Official-schema RLVR rows (parquet / JSONL) to mix in; "
                                       "repeatable."),
    taxonomy: Path | None = typer.Option(None, help="taxonomy.yaml with the per-type shares (default: bundled)."),
    profile: str = opt(ExportConfig, "profile", "--profile"),
) -> None:
    import shlex

    command = "golong-data " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    cfg = ExportConfig(size=size, val_per_type=val_per_type, imports=[str(p) for p in import_],
                       taxonomy=str(taxonomy) if taxonomy else None, profile=profile, seed=seed, command=command)
    run_stage("export", in_dir, out, cfg)
    echo(f"dataset: {out / 'train.parquet'}  card: {out / 'README.md'}")


@app.command()
@handle_errors
def run(
    config: Path = typer.Argument(..., help="Pipeline YAML (see examples/demo.yaml): corpus, work_dir, one section "
                                  "per stage."),
    force: list[str] = typer.Option([], "--force", help="Re-run this stage (and what follows) even if up to date; "
                                    "repeatable."),
) -> None:
    """Run ingest -> chunk -> dedup -> synthesize -> verify -> export; stages that are up to date are skipped."""
    from golong_data.pipeline.run import run_pipeline

    result = run_pipeline(config, force=force)
    echo(result.line)


# ---------------------------------------------------------------- train (issue 9)
# Help texts and defaults come from TrainConfig's fields (opt, as for the stages); torch/TRL load inside the
# command only.

@app.command()
@handle_errors
def train(
    data: Path = typer.Option(..., "--data", help=help_of(TrainConfig, "data")),
    algo: str = opt(TrainConfig, "algo"),
    model: str | None = opt(TrainConfig, "model"),
    tiny: bool = opt(TrainConfig, "tiny", "--tiny"),
    backend: str = opt(TrainConfig, "backend"),
    emit: Path | None = opt(TrainConfig, "emit"),
    output_dir: Path = opt(TrainConfig, "output_dir"),
    resume: bool = opt(TrainConfig, "resume", "--resume"),
    max_steps: int = opt(TrainConfig, "max_steps"),
    learning_rate: float = opt(TrainConfig, "learning_rate"),
    num_generations: int = opt(TrainConfig, "num_generations"),
    prompts_per_step: int = opt(TrainConfig, "prompts_per_step"),
    max_prompt_tokens: int = opt(TrainConfig, "max_prompt_tokens"),
    max_completion_length: int = opt(TrainConfig, "max_completion_length"),
    temperature: float = opt(TrainConfig, "temperature"),
    epsilon: float = opt(TrainConfig, "epsilon"),
    epsilon_high: float = opt(TrainConfig, "epsilon_high"),
    beta: float = opt(TrainConfig, "beta"),
    alpha: float = opt(TrainConfig, "alpha"),
    gamma: float = opt(TrainConfig, "gamma"),
    scale_rewards: str = opt(TrainConfig, "scale_rewards"),
    save_steps: int = opt(TrainConfig, "save_steps"),
    seed: int = opt(TrainConfig, "seed"),
    device: str = opt(TrainConfig, "device"),
    profile: str = opt(TrainConfig, "profile", "--profile"),
    no_think_gate: bool = opt(TrainConfig, "no_think_gate", "--no-think-gate"),
    eval_split: float = opt(TrainConfig, "eval_split"),
    eval_data: Path | None = opt(TrainConfig, "eval_data"),
    eval_steps: int = opt(TrainConfig, "eval_steps"),
    eval_max_new_tokens: int = opt(TrainConfig, "eval_max_new_tokens"),
    generation: str = opt(TrainConfig, "generation"),
    zero_reward_steps: int = opt(TrainConfig, "zero_reward_steps"),
) -> None:
    """Train with GRPO, TMN or TMN-Reweight: TRL on one GPU, or write a verl run (--backend verl --emit DIR)."""
    from dataclasses import fields

    values = dict(locals())
    cfg = TrainConfig(**{f.name: values[f.name] for f in fields(TrainConfig) if f.name in values}).validate()
    if cfg.backend == "verl":
        from golong_data.train.verl_emit import emit_verl

        for line in emit_verl(cfg):
            echo(line)
        return
    try:
        from golong_data.train.trl_backend import train_trl
    except ImportError as e:
        raise GolongError(f"the TRL backend needs the [train] extra ({e.name} is missing)",
                          "pip install torch==2.13.0 && pip install -e '.[train]'") from None
    s = train_trl(cfg, echo=echo)
    echo(f"train: {s['global_step']} steps in {s['train_seconds']:.0f}s ({cfg.algo}); "
         f"model in {s['output_dir']}/final, metrics in {s['output_dir']}/metrics.jsonl")
    if s["eval"]:
        first, last = min(s["eval"]), max(s["eval"])
        echo(f"train: held-out greedy reward {s['eval'][first].mean:.4f} (step {first}) -> "
             f"{s['eval'][last].mean:.4f} (step {last}); curves in {s['output_dir']}/eval_curves.png")


@app.command("eval")
@handle_errors
def eval_(
    model: str = typer.Option(..., "--model", help="An HF model directory (e.g. a run's final/), a .gguf file, "
                              "or smollm2-135m; loaded as `train --model` is."),
    data: Path = typer.Option(..., "--data", help="Held-out samples: samples.jsonl / verified.jsonl / "
                              "train.parquet, or a stage directory."),
    profile: str = opt(TrainConfig, "profile", "--profile"),
    no_think_gate: bool = opt(TrainConfig, "no_think_gate", "--no-think-gate"),
    max_new_tokens: int = typer.Option(256, help="Greedy tokens per answer."),
    batch_size: int = typer.Option(16, help="Prompts per generate call (sorted by length first)."),
    limit: int | None = typer.Option(None, help="Evaluate only the first N samples."),
    device: str = opt(TrainConfig, "device"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write {sample_id, task_type, score, completion} "
                                    "JSONL here."),
) -> None:
    """Greedy held-out reward per task type of a model (HF dir, .gguf or smollm2-135m) on samples."""
    from golong_data.train.evaluate import run_eval

    r = run_eval(model, data, out=out, profile=profile, think_gate=False if no_think_gate else None,
                 max_new_tokens=max_new_tokens, batch_size=batch_size, limit=limit, device=device, echo=echo)
    echo(r.table())
    echo(f"eval: {r.n} samples, mean {r.mean:.4f}, {r.tokens} tokens in {r.seconds:.1f}s"
         + (f" -> {out}" if out else ""))


# ---------------------------------------------------------------- sharding (issues 11, 17)
_STAGE_HELP = "ingest, chunk, dedup, synthesize or verify; llm-cache (with --merge-only) folds nodes' LLM caches."


def _executor(executor: str, workers: int | None, ray_address: str | None) -> Any:
    from golong_data.pipeline.executor import get_executor

    cfg = ShardsConfig(executor=executor, workers=workers, ray_address=ray_address)  # checks the ranges
    return get_executor(cfg.executor, workers=cfg.workers, address=cfg.ray_address)


def stage_config(name: str, settings: list[str]) -> Any:
    """The stage's config from `key=value` pairs, values read as YAML, checked like a `run` config section."""
    import yaml

    data: dict[str, Any] = {}
    for item in settings:
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"--set {item!r} is not key=value", "e.g. --set max_tokens=2048")
        data[key.strip()] = yaml.safe_load(value)
    return from_mapping(get_stage(name).config, data, name, Path.cwd())


def shard_stage(name: str, inputs: list[Path], out: Path, n: int, settings: list[str], executor: Any) -> None:
    from golong_data.pipeline.sharded import run_sharded
    stage = get_stage(name)
    res = run_sharded(stage, executor, n, inputs if stage.reads == "corpus" else inputs[0], out,
                      stage_config(name, settings))
    for note in res.notes:
        echo(note)
    echo(res.line)


def merge_stage(name: str, shard_dirs: list[Path], out: Path, shard_inputs: list[Path], settings: list[str]) -> None:
    if name == "llm-cache":
        from golong_data.llm.cache import merge_llm_caches

        echo(merge_llm_caches(shard_dirs, out))
        return
    echo(get_stage(name).merge(shard_dirs, out, stage_config(name, settings), shard_inputs).line)


@app.command()
@handle_errors
def shard(
    stage: str = typer.Argument(..., help=_STAGE_HELP),
    inputs: list[Path] = typer.Argument(..., help="What the stage reads: corpus paths (ingest) or the upstream "
                                        "stage's directory; with --merge-only, the shard directories, all N."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: the bytes one unsharded run writes there "
                             "(shard i writes OUT.shards/i)."),
    n: int = typer.Option(4, "--shards", "-n", min=1, help="Shard tasks (more than workers is fine)."),
    settings: list[str] = typer.Option([], "--set", help="A stage setting as key=value (the keys of the stage's "
                                       "section in a `run` config, e.g. max_tokens=2048); repeatable."),
    merge_only: bool = typer.Option(False, "--merge-only", help="Only merge shard directories made elsewhere "
                                    "(`golong-data STAGE --shard i/N` on other machines)."),
    shard_inputs: list[Path] = typer.Option([], "--shard-inputs", help="With --merge-only: what the shards read. "
                                            "ingest: the corpus paths (their order is the output order); dedup: the "
                                            "chunk shard dirs, in order; chunk/verify: the upstream file, if not the "
                                            "one their manifests name. Repeatable."),
    executor: str = opt(ShardsConfig, "executor"),
    workers: int | None = opt(ShardsConfig, "workers"),
    ray_address: str | None = opt(ShardsConfig, "ray_address"),
) -> None:
    """Run a stage as N shard tasks on a process pool or Ray, then merge: the same bytes as the single stage.

    dedup shards over the chunk stage's shards (run `shard chunk` first with the same N): MinHash signatures per
    shard, then one clustering pass. export is not sharded (one global mix)."""
    if merge_only:
        merge_stage(stage, inputs, out, shard_inputs, settings)
    else:
        shard_stage(stage, inputs, out, n, settings, _executor(executor, workers, ray_address))


# The spellings before `shard` (kept for one release; hidden from --help).
@app.command(hidden=True)
@handle_errors
def merge(
    stage: str = typer.Argument(..., help=_STAGE_HELP),
    shard_dirs: list[Path] = typer.Argument(..., help="The --out directories of the `--shard i/N` runs, all N."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory."),
    corpus: list[Path] = typer.Option([], "--corpus", help="ingest: the corpus paths the shards were given."),
    order_from: Path | None = typer.Option(None, "--order-from", help="chunk/verify: the upstream file."),
) -> None:
    """Old spelling of `golong-data shard STAGE --merge-only`."""
    merge_stage(stage, shard_dirs, out, corpus or ([order_from] if order_from else []), [])


@app.command("dedup-shards", hidden=True)
@handle_errors
def dedup_shards(
    shard_dirs: list[Path] = typer.Argument(..., help="The --out directories of `chunk --shard i/N`, all N."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory: what `dedup` writes for the merged chunks."),
    threshold: float = opt(DedupConfig, "threshold"),
    num_perm: int = opt(DedupConfig, "num_perm"),
    ngram: int = opt(DedupConfig, "ngram"),
    against: list[Path] = typer.Option([], help="Benchmark file to decontaminate against; repeatable."),
    contam_ngram: int = opt(DedupConfig, "contam_ngram"),
    order_from: Path | None = typer.Option(None, "--order-from", help="The documents.jsonl the chunk shards read."),
    executor: str = opt(ShardsConfig, "executor"),
    workers: int | None = opt(ShardsConfig, "workers"),
    ray_address: str | None = opt(ShardsConfig, "ray_address"),
) -> None:
    """Old spelling of `golong-data shard dedup` over chunk shard directories made by hand."""
    from golong_data.dedup.shards import run_dedup_shards

    cfg = DedupConfig(threshold=threshold, num_perm=num_perm, ngram=ngram, contam_ngram=contam_ngram)
    echo(run_dedup_shards(shard_dirs, out, cfg.threshold, cfg.num_perm, cfg.ngram, against, cfg.contam_ngram,
                          order_from, executor=_executor(executor, workers, ray_address)))


@app.command(hidden=True)
@handle_errors
def shards(
    paths: list[Path] = typer.Argument(..., help="Corpus files or directories (as for ingest)."),
    work: Path = typer.Option(..., "--work", "-w", help="Work directory: ingest/, chunk/, dedup/ + shard outputs."),
    n: int = typer.Option(4, "--shards", "-n", min=1, help="Shards per stage."),
    max_tokens: int = typer.Option(..., "--max-tokens", help="Most tokens per chunk."),
    threshold: float = opt(DedupConfig, "threshold"),
    executor: str = opt(ShardsConfig, "executor"),
    workers: int | None = opt(ShardsConfig, "workers"),
    ray_address: str | None = opt(ShardsConfig, "ray_address"),
) -> None:
    """Old spelling of `golong-data shard ingest`, `shard chunk`, `shard dedup` in a row."""
    ex = _executor(executor, workers, ray_address)
    shard_stage("ingest", paths, work / "ingest", n, [], ex)
    shard_stage("chunk", [work / "ingest"], work / "chunk", n, [f"max_tokens={max_tokens}"], ex)
    shard_stage("dedup", [work / "chunk"], work / "dedup", n, [f"threshold={threshold}"], ex)
    echo(f"next: golong-data synthesize --in {work / 'dedup'} --out {work / 'synthesize'}")

def main() -> None:  # console-script entry point
    app(prog_name="golong-data")


if __name__ == "__main__":
    sys.exit(main())
