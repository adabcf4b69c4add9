"""The pipeline config that `golong-data run` reads: one YAML file, one section per stage.

Declared once (TRL's `field(metadata={"help": ...})` practice): one dataclass per stage feeds the YAML
loader and its validation errors, the stage's CLI options (golong_data.cli.opt) and the stage's `run`
(golong_data.pipeline.stages: every stage is `run(inputs, out_dir, cfg, shard)`). Each default is written once,
here. A field marked `path=True` is resolved relative to the config file by the loader. Fields marked
`shared=KEY` come from the top-level KEY (`seed:`, and `llm:`, the one endpoint block every stage that calls a
model uses) and `internal=True` fields are set by the caller, so neither is a key of a stage's section.

    work_dir: work/demo
    corpus: [tests/fixtures]
    corpus_optional: [$GOLONG_HOME/corpus]   # used when present
    seed: 0
    chunk: {max_tokens: 2048}
    verify: {checks: [gold, band], k: 8, band: "1-6"}
    export: {size: 23000, val_per_type: 16}
    llm: {base_url: http://127.0.0.1:8000/v1, model: Qwen/Qwen3-8B, max_cost: 20}   # optional
    shards: {n: 8, executor: ray, ray_address: auto}   # optional: same outputs, shard tasks on Ray
"""

from __future__ import annotations

import os
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from golong_data import paths
from golong_data.errors import ConfigError
from golong_data.llm.contract import LLMConfig

ALL_CHECKS = ("gold", "shortcut", "reanswer", "nocontext", "robustness", "band")
LOADER_FIELDS = ("base_dir", "source", "config_path")


def setting(text: str, *, range: tuple[float | None, float | None] | None = None,  # noqa: A002
            path: bool = False, internal: bool = False, shared: str | None = None, **kw: Any) -> Any:
    """A config field declared once: its help text, its default, and (for numbers) the range it must lie in.
    Constructing the dataclass checks the range (check_ranges in __post_init__), so the CLI, `run`'s YAML and
    library callers all get the same error; the CLI's --help shows the range (help_of). `path`: a file path the
    YAML loader resolves relative to the config file; `internal`: set by the caller, never a YAML key; `shared`:
    in a `run` config, taken from this top-level key (one seed, one LLM endpoint), never a section's key."""
    return field(metadata={"help": text, "range": range, "path": path, "internal": internal, "shared": shared},
                 **kw)


def range_text(r: tuple[float | None, float | None]) -> str:
    lo, hi = r
    return f"{lo:g}-{hi:g}" if lo is not None and hi is not None else f">= {lo:g}" if lo is not None else f"<= {hi:g}"


def help_of(cls: type, name: str) -> str:
    """The field's help text, with its range when it has one (what --help prints)."""
    f = {f.name: f for f in fields(cls)}[name]
    r = f.metadata.get("range")
    return f.metadata.get("help", "") + (f" [{range_text(r)}]" if r else "")


def default_of(cls: type, name: str) -> Any:
    f = {f.name: f for f in fields(cls)}[name]
    return f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]


def check_ranges(obj: Any) -> None:
    """ConfigError for the first numeric field outside its declared range (None is 'not set', always fine)."""
    for f in fields(obj):
        r, v = f.metadata.get("range"), getattr(obj, f.name)
        if r is None or v is None or isinstance(v, bool):
            continue
        lo, hi = r
        if not isinstance(v, (int, float)) or (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{f.name} = {v!r} is outside {range_text(r)}",
                              f"set {f.name} within {range_text(r)}: {f.metadata.get('help', '')}")


MIN_MAX_TOKENS = 4  # a chunk must hold a word or two of any tokenizer
_LLM = LLMConfig  # the LLM layer's defaults, written once there


@dataclass
class EndpointConfig:
    """The LLM endpoint of every stage that calls a model: a `run` config's top-level `llm:` block."""

    base_url: str | None = setting("OpenAI-compatible endpoint (None: $OPENAI_BASE_URL, else OpenAI when the key "
                                   "variable is set, else the local SmolLM2 server).", default=None)
    model: str | None = setting("Model name at the endpoint (None: $OPENAI_MODEL, else the local model).",
                                default=None)
    api_key_env: str = setting("Environment variable holding the endpoint's API key (the key is never stored).",
                               default=_LLM.api_key_env)
    max_in_flight: int = setting("Concurrent LLM requests.", default=_LLM.max_in_flight, range=(1, 1024))
    max_cost: float | None = setting("Stop when a stage's new LLM calls reach this many USD (cache hits are free).",
                                     default=None, range=(0, None))
    cache_path: str | None = setting("SQLite cache of LLM calls (None: $GOLONG_HOME/llm_cache.sqlite).",
                                     default=None, path=True)

    def __post_init__(self) -> None:
        check_ranges(self)

    def llm_config(self, model: str | None = None) -> LLMConfig:
        """The LLM layer's config for this endpoint; `model` overrides the block's model (verify's solver)."""
        return LLMConfig(base_url=self.base_url, model=model or self.model, api_key_env=self.api_key_env,
                         max_in_flight=self.max_in_flight, max_cost=self.max_cost, cache_path=self.cache_path)


def endpoint_setting() -> Any:
    return setting("The LLM endpoint (in a `run` config: the top-level llm: block).", default_factory=EndpointConfig,
                   shared="llm")


@dataclass
class IngestConfig:
    workers: int | None = setting("Parallel reader processes (default: CPU cores, max 8; a shard task: 1); the "
                                  "output is the same for any value.", default=None, range=(1, None))

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class ChunkConfig:
    max_tokens: int = setting("Most tokens per chunk (exact, never exceeded).", default=2048,
                              range=(MIN_MAX_TOKENS, None))
    tokenizer: str | None = setting("Path of a Hugging Face tokenizer.json (default: the Qwen BPE vocabulary, "
                                    "offline).", default=None, path=True)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class VerifyConfig:
    checks: list[str] = setting(
        "Checks to run, in order: gold and shortcut (no LLM), reanswer, nocontext, robustness, band.",
        default_factory=lambda: list(ALL_CHECKS),
    )
    solver: str | None = setting("Solver model at the endpoint (None: the llm block's model, else the local "
                                 "SmolLM2 server's).", default=None)
    endpoint: EndpointConfig = endpoint_setting()
    k: int = setting("Rollouts per sample for the difficulty band and the robustness pass@k.", default=8,
               range=(1, 256))
    band: str = setting(
        "Kept pass counts 'lo-hi' of k for binary metrics (continuous ones keep 0 < mean < 1 with variance).",
        default="1-6",
    )
    thresholds: dict[str, float] = setting(
        "Re-answer reward threshold per metric key (e.g. {iou: 0.5}); 1.0 for binary metrics, 0.5 otherwise.",
        default_factory=dict,
    )
    leak_threshold: float = setting("A no-context reward at or above this means the answer leaks.", default=1.0,
                                    range=(0, 1))
    profile: str = setting("Reward profile for every score verify takes (golongrl: the official quirks; strict).",
                           default="golongrl")
    think_gate: bool = setting("Zero solver replies without </think> (off for solvers that do not think, e.g. "
                               "SmolLM2; blind and gold answers always carry an empty think block).", default=True)
    max_blind: float = setting("Shortcut check: reject a sample when a content blind strategy scores >= its chance "
                               "level + this (capped at 1.0).", default=0.3, range=(0, 1))
    max_tokens: int = setting("Completion budget per solver call.", default=512, range=(1, None))
    documents: str | None = setting(
        "Directory or documents.jsonl used to resolve evidence spans (None: found through the manifests).",
        default=None, path=True,
    )
    seed: int = setting("First rollout seed; rollout i uses seed + i.", default=0, shared="seed")

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class ExportConfig:
    size: int = setting("Target number of training rows (the paper's mix: 23,000).", default=23000, range=(1, None))
    val_per_type: int = setting("Held-out validation rows per task type (at most a fifth of its pool).", default=16,
                              range=(0, None))
    imports: list[str] = setting(
        "Official-schema RLVR files (parquet / JSONL) to mix in, deduplicated against the synthetic pool.",
        default_factory=list, path=True,
    )
    taxonomy: str | None = setting("taxonomy.yaml giving the per-type shares (None: the bundled one).", default=None,
                                   path=True)
    plots: bool = setting("Draw the PNG plots of the dataset card (needs matplotlib: golong-data's card extra).",
                          default=True)
    profile: str = setting("Reward profile the card's shortcut table is measured under (golongrl, or strict for "
                           "training with the strict rewards); rows verified under another profile are re-measured.",
                           default="golongrl")
    seed: int = setting("Seed of the mix's draw.", default=0, shared="seed")
    command: str = setting("The command line the card records.", default="", internal=True)
    config_text: str = setting("The pipeline config the card records.", default="", internal=True)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class ShardsConfig:
    n: int = setting("Shards per stage: ingest, chunk, dedup, synthesize and verify run as n tasks each, then merge "
                   "into the bytes of one run (1: no sharding).", default=1, range=(1, None))
    executor: str = setting("Where shard tasks run: local (a process pool here) or ray (needs golong-data's ray "
                            "extra).", default="local")
    workers: int | None = setting("Parallel tasks (local: default CPU cores, at most 8; ray: CPUs of a local Ray).",
                                default=None, range=(1, None))
    ray_address: str | None = setting("Ray cluster address (e.g. auto); None: a local Ray instance.", default=None)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass
class DedupConfig:
    """Near-duplicate and contamination settings, shared by `dedup`, `shard dedup` and `run`."""

    threshold: float = setting("Jaccard similarity (MinHash estimate) at which texts are near duplicates.",
                             default=0.8, range=(0.01, 1))
    num_perm: int = setting("MinHash permutations.", default=128, range=(2, 4096))
    ngram: int = setting("Words per shingle.", default=5, range=(1, 64))
    against: list[str] = setting("Benchmark files (JSONL or parquet; every string field is read) to "
                                 "decontaminate against.", default_factory=list, path=True)
    contam_ngram: int = setting("A chunk sharing one word n-gram of this length with a benchmark is dropped.",
                                default=13, range=(1, 256))
    question_threshold: float = setting("With --questions: rapidfuzz token_set_ratio at which questions are near "
                                      "duplicates.", default=90.0, range=(0, 100))

    def __post_init__(self) -> None:
        check_ranges(self)


DEFAULT_BUCKETS = ["8k", "16k", "32k", "64k", "128k"]


@dataclass
class SynthConfig:
    per_type: int = setting("Samples per task type per bucket.", default=20, range=(1, None))
    total: int | None = setting("Instead of per_type: N samples split by the taxonomy's shares and the buckets.",
                              default=None, range=(1, None))
    buckets: list[str] = setting("Context lengths in Qwen tokens (k = 1024).",
                               default_factory=lambda: list(DEFAULT_BUCKETS))
    seed: int = setting("Same inputs + settings + seed -> byte-identical samples.jsonl.", default=0, shared="seed")
    tasks: list[str] | None = setting("Only these task types (default: all nine).", default=None)
    near_ratio: float = setting("Share of the distractor tokens taken from the evidence's own document.", default=0.3,
                              range=(0, 1))
    spread_prob: float = setting("Chance that several evidence pieces are scattered instead of kept together.",
                               default=0.3, range=(0, 1))
    depth: float | None = setting("Evidence position, 0 (top) to 1 (bottom); default: uniform per sample.",
                                default=None, range=(0, 1))
    tolerance: float = setting("A context's total tokens lie within +-tolerance of its bucket.", default=0.02,
                             range=(0, 0.5))
    attempts_per_sample: int = setting("Documents each wanted sample (slot) may try.", default=4, range=(1, None))
    llm: bool = setting("Use the LLM constructors (prompts/synth_<type>.md) instead of the programs.", default=False)
    endpoint: EndpointConfig = endpoint_setting()
    ground_threshold: float = setting("rapidfuzz partial_ratio an LLM evidence quote must reach in its source.",
                                    default=90.0, range=(0, 100))
    llm_source_tokens: int = setting("The most source tokens an LLM constructor is shown (small local windows).",
                                   default=1500, range=(64, None))
    llm_max_tokens: int = setting("Completion budget per LLM constructor call.", default=600, range=(1, None))
    llm_json_schema: bool = setting("Send the answer schema (structured output); off: parse JSON out of the text.",
                                  default=True)
    shard: str | None = setting("Make only shard i/N of the sample slots.", default=None, internal=True)
    tokenizer: str | None = setting("tokenizer.json to count with (default: Qwen).", default=None, path=True)
    taxonomy: str | None = setting("Task taxonomy YAML (default: the bundled taxonomy.yaml).", default=None,
                                   path=True)

    def __post_init__(self) -> None:
        check_ranges(self)

    def resolved(self) -> dict[str, Any]:
        # lazy: config is read by `--help`, which must not load the nine task modules
        from golong_data.tasks import VERSION  # the constructors' version: a new one is a different output

        d = asdict(self)
        d["version"] = VERSION
        return d


@dataclass
class PipelineConfig:
    corpus: list[str] = setting("Input files or directories for ingest (relative to the config file).")
    corpus_optional: list[str] = setting(
        "More inputs, used only when they exist (e.g. $GOLONG_HOME/corpus fetched by `make demo`).",
        default_factory=list,
    )
    work_dir: str = setting("Where each stage writes <work_dir>/<stage>/ (relative to the config file).",
                            default="work")
    seed: int = setting("Seed for every stage that samples.", default=0)
    llm: EndpointConfig = setting("The LLM endpoint every stage that calls a model uses (see EndpointConfig).",
                                  default_factory=EndpointConfig)
    ingest: IngestConfig = setting("Ingest settings (see IngestConfig).", default_factory=IngestConfig)
    chunk: ChunkConfig = setting("Chunk settings (see ChunkConfig).", default_factory=ChunkConfig)
    dedup: DedupConfig = setting("Dedup settings (see DedupConfig).", default_factory=DedupConfig)
    synthesize: SynthConfig = setting("Synthesize settings (see SynthConfig).", default_factory=SynthConfig)
    verify: VerifyConfig = setting("Verify checks and solver (see VerifyConfig).", default_factory=VerifyConfig)
    export: ExportConfig = setting(
        "Mix size, validation split, imports (see ExportConfig).", default_factory=ExportConfig
    )
    shards: ShardsConfig = setting("Run the stages as shard tasks (see ShardsConfig); the outputs do not change.",
                                 default_factory=ShardsConfig)
    base_dir: Path = field(default=Path("."), metadata={"help": "(set by the loader) the config file's folder"})
    source: str = field(default="", metadata={"help": "(set by the loader) the config file's text"})
    config_path: str = field(default="", metadata={"help": "(set by the loader) the config file's path as given"})

    def resolve(self, p: str) -> Path:
        """A path from the config: env vars expanded, relative to the config file's folder."""
        return resolve_path(p, self.base_dir)

    def corpus_paths(self) -> list[Path]:
        paths = [self.resolve(p) for p in self.corpus]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise ConfigError(f"corpus path(s) not found: {', '.join(missing)}", "fix `corpus:` in the config")
        paths += [q for q in (self.resolve(p) for p in self.corpus_optional) if q.exists()]
        return paths

    def section(self, stage: str) -> Any:
        """The stage's config as its `run` takes it: the section with the top-level seed, and the run's command
        and config text where the stage records them (export's card)."""
        sec = getattr(self, stage)
        given = {f.name: getattr(self, f.metadata["shared"]) for f in fields(sec) if f.metadata.get("shared")}
        names = {f.name for f in fields(sec)}
        provenance = {"command": f"golong-data run {self.config_path}", "config_text": self.source}
        return replace(sec, **given, **{k: v for k, v in provenance.items() if k in names})

    def stage_settings(self, stage: str) -> dict[str, Any]:
        """What a stage's up-to-date check compares: its settings, the shared ones included (not the provenance
        fields: an edit elsewhere in the YAML does not make a stage stale)."""
        sec = self.section(stage)
        return {"seed": self.seed, **{f.name: asdict(v) if is_dataclass(v := getattr(sec, f.name)) else v
                                      for f in fields(sec) if not f.metadata.get("internal") and f.name != "seed"}}


def resolve_path(p: str, base: Path) -> Path:
    """A path from a config file: env vars expanded, relative to the config file's folder (`base`)."""
    # $GOLONG_HOME defaults as in golong_data.paths, so the demo config works outside `make` too;
    # $GOLONG_CACHE (its older name) means the same folder.
    env = {**os.environ, "GOLONG_HOME": str(paths.home()), "GOLONG_CACHE": str(paths.home())}
    q = Path(_expand(os.path.expanduser(p), env))
    return q if q.is_absolute() else (base / q)


def _expand(text: str, env: dict[str, str]) -> str:
    import re

    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def yaml_keys(cls: type) -> dict[str, Any]:
    """The fields a YAML mapping may set: not the loader's, not internal ones, not shared ones (a stage section
    takes the top-level `seed:` and `llm:`)."""
    return {f.name: f for f in fields(cls) if f.name not in LOADER_FIELDS and not f.metadata.get("internal")
            and not f.metadata.get("shared")}


def from_mapping(cls: type, data: Any, where: str, base: Path | None = None) -> Any:
    """A dataclass from a YAML mapping; unknown or mistyped keys are errors that list the choices. Fields marked
    `path` are resolved against `base` (the config file's folder; env vars expanded)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}", f"write `{where}:` as key: value")
    known = yaml_keys(cls)
    unknown = sorted(set(data) - set(known))
    shared = {k for k in unknown if any(f.metadata.get("shared") == "llm" for f in fields(cls))
              and k in {f.name for f in fields(EndpointConfig)}}
    if shared:
        raise ConfigError(f"{where}: {', '.join(sorted(shared))} belong(s) in the top-level llm: block",
                          "one endpoint for every stage that calls a model: llm: {base_url: ..., model: ...}")
    if unknown:
        choices = "; ".join(f"{k}: {known[k].metadata.get('help', '')}" for k in known)
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}", f"expected one of -- {choices}")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        if name not in data:
            if f.default is MISSING and f.default_factory is MISSING:  # type: ignore[misc]
                raise ConfigError(f"{where}: `{name}` is required", f"set {name}: {f.metadata.get('help', '')}")
            continue
        v = data[name]
        if str(f.type) in SECTIONS:
            v = from_mapping(SECTIONS[str(f.type)], v, f"{where}.{name}" if where != "config" else name, base)
        else:
            v = _check_type(v, str(f.type), f"{where}.{name}", f.metadata.get("help", ""))
            if f.metadata.get("path") and base is not None and v is not None:
                v = [str(resolve_path(p, base)) for p in v] if isinstance(v, list) else str(resolve_path(v, base))
        kwargs[name] = v
    try:
        return cls(**kwargs)
    except ConfigError as e:  # a range check in __post_init__: say where in the YAML
        raise ConfigError(f"{where}.{e.message}" if where != "config" else e.message, e.hint) from None


def _check_type(v: Any, typ: str, where: str, help_: str) -> Any:
    ok = {
        "int": lambda x: isinstance(x, int) and not isinstance(x, bool),
        "float": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
        "str": lambda x: isinstance(x, str),
        "bool": lambda x: isinstance(x, bool),
        "list[str]": lambda x: isinstance(x, list) and all(isinstance(i, str) for i in x),
        "dict[str, Any]": lambda x: isinstance(x, dict),
        "dict[str, float]": lambda x: isinstance(x, dict) and all(isinstance(i, (int, float)) for i in x.values()),
    }
    base = typ.replace(" | None", "")
    if v is None and "None" in typ:
        return None
    if base == "list[str]" and isinstance(v, str):
        v = [s.strip() for s in v.split(",") if s.strip()]
    check = ok.get(base)
    if check is not None and not check(v):
        raise ConfigError(f"{where}: expected {typ}, got {v!r}", f"set it to: {help_}")
    return float(v) if base == "float" else v


SECTIONS: dict[str, type] = {c.__name__: c for c in (IngestConfig, ChunkConfig, DedupConfig, SynthConfig,
                                                     VerifyConfig, ExportConfig, ShardsConfig, EndpointConfig)}


def validate(cfg: PipelineConfig) -> PipelineConfig:
    bad = [c for c in cfg.verify.checks if c not in ALL_CHECKS]
    if bad:
        raise ConfigError(
            f"verify.checks: unknown check(s) {', '.join(bad)}", f"expected some of: {', '.join(ALL_CHECKS)}"
        )
    if "band" in cfg.verify.checks:
        parse_band(cfg.verify.band, cfg.verify.k)
    if cfg.shards.executor not in ("local", "ray"):
        raise ConfigError(f"shards.executor = {cfg.shards.executor!r}", "set shards.executor to local or ray")
    return cfg


def parse_band(spec: str, k: int) -> tuple[int, int]:
    """'1-6' -> (1, 6): the kept range of correct rollouts out of k."""
    try:
        lo, hi = (int(x) for x in str(spec).split("-"))
    except ValueError:
        raise ConfigError(f"band {spec!r} is not 'lo-hi'", "e.g. --band 1-6 keeps 1 to 6 correct of 8") from None
    if not 0 <= lo <= hi <= k:
        raise ConfigError(f"band {spec!r} outside 0..{k}", f"need 0 <= lo <= hi <= k (k = {k})")
    return lo, hi


def load_config(path: Path | str) -> PipelineConfig:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found", "pass the path of a YAML config, e.g. examples/demo.yaml")
    text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})", "fix the YAML syntax") from e
    cfg = from_mapping(PipelineConfig, data, "config", p.resolve().parent)
    cfg.base_dir = p.resolve().parent
    cfg.source = text
    cfg.config_path = str(path)
    return validate(cfg)
