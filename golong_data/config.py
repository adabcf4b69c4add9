"""The pipeline config that `golong-data run` reads: one YAML file, one section per stage.

Declared once (TRL's `field(metadata={"help": ...})` practice): the same dataclasses feed the YAML
loader, its validation errors and the `verify` / `export` command defaults. Sections of stages owned
elsewhere (ingest, chunk, dedup, synthesize) are passed through as keyword options of that stage's
library function and validated against its signature when `run` calls it.

    work_dir: work/demo
    corpus: [tests/fixtures]
    corpus_optional: [$GOLONG_CACHE/corpus]   # used when present
    seed: 0
    chunk: {...}
    verify: {checks: [gold, band], k: 8, band: "1-6"}
    export: {size: 23000, val_per_type: 16}
    shards: {n: 8, executor: ray, ray_address: auto}   # optional: same outputs, shard tasks on Ray
"""

from __future__ import annotations

import os
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from golong_data.errors import ConfigError

ALL_CHECKS = ("gold", "shortcut", "reanswer", "nocontext", "robustness", "band")
LOADER_FIELDS = ("base_dir", "source", "config_path")
STAGES = ("ingest", "chunk", "dedup", "synthesize", "verify", "export")


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class VerifyConfig:
    checks: list[str] = _help(
        "Checks to run, in order: gold and shortcut (no LLM), reanswer, nocontext, robustness, band.",
        default_factory=lambda: list(ALL_CHECKS),
    )
    solver: str | None = _help("Solver model name at the endpoint (None: the local SmolLM2 server).", default=None)
    base_url: str | None = _help("OpenAI-compatible endpoint (None: start the local SmolLM2 server).", default=None)
    api_key_env: str = _help("Environment variable holding the endpoint's API key.", default="OPENAI_API_KEY")
    k: int = _help("Rollouts per sample for the difficulty band and the robustness pass@k.", default=8)
    band: str = _help(
        "Kept pass counts 'lo-hi' of k for binary metrics (continuous ones keep 0 < mean < 1 with variance).",
        default="1-6",
    )
    thresholds: dict[str, float] = _help(
        "Re-answer reward threshold per metric key (e.g. {iou: 0.5}); 1.0 for binary metrics, 0.5 otherwise.",
        default_factory=dict,
    )
    leak_threshold: float = _help("A no-context reward at or above this means the answer leaks.", default=1.0)
    profile: str = _help("Reward profile for every score verify takes (golongrl: the official quirks; strict).",
                         default="golongrl")
    think_gate: bool = _help("Zero solver replies without </think> (off for solvers that do not think, e.g. "
                             "SmolLM2; blind and gold answers always carry an empty think block).", default=True)
    max_blind: float = _help("Shortcut check: reject a sample when a content blind strategy scores >= its chance "
                             "level + this (capped at 1.0).", default=0.3)
    max_in_flight: int = _help("Concurrent LLM requests.", default=8)
    max_tokens: int = _help("Completion budget per solver call.", default=512)
    max_cost: float | None = _help("Stop when the run's LLM spend reaches this many USD.", default=None)
    cache_path: str | None = _help("SQLite cache of LLM calls (None: the LLM layer's default).", default=None)
    documents: str | None = _help(
        "Directory or documents.jsonl used to resolve evidence spans (None: found through the manifests).",
        default=None,
    )


@dataclass
class ExportConfig:
    size: int = _help("Target number of training rows (the paper's mix: 23,000).", default=23000)
    val_per_type: int = _help("Held-out validation rows per task type (at most a fifth of its pool).", default=16)
    imports: list[str] = _help(
        "Official-schema RLVR files (parquet / JSONL) to mix in, deduplicated against the synthetic pool.",
        default_factory=list,
    )
    taxonomy: str | None = _help("taxonomy.yaml giving the per-type shares (None: the bundled one).", default=None)
    plots: bool = _help("Draw the PNG plots of the dataset card (needs matplotlib: the [card] extra).", default=True)
    profile: str = _help("Reward profile the card's shortcut table is measured under (golongrl, or strict for "
                         "training with the strict rewards); rows verified under another profile are re-measured.",
                         default="golongrl")


@dataclass
class ShardsConfig:
    n: int = _help("Shards per stage: ingest, chunk, dedup, synthesize and verify run as n tasks each, then merge "
                   "into the bytes of one run (1: no sharding).", default=1)
    executor: str = _help("Where shard tasks run: local (a process pool here) or ray (pip install "
                          "'golong-data[ray]').", default="local")
    workers: int | None = _help("Parallel tasks (local: default CPU cores, at most 8; ray: CPUs of a local Ray).",
                                default=None)
    ray_address: str | None = _help("Ray cluster address (e.g. auto); None: a local Ray instance.", default=None)


@dataclass
class PipelineConfig:
    corpus: list[str] = _help("Input files or directories for ingest (relative to the config file).")
    corpus_optional: list[str] = _help(
        "More inputs, used only when they exist (e.g. $GOLONG_CACHE/corpus fetched by `make demo`).",
        default_factory=list,
    )
    work_dir: str = _help("Where each stage writes <work_dir>/<stage>/ (relative to the config file).", default="work")
    seed: int = _help("Seed for every stage that samples.", default=0)
    ingest: dict[str, Any] = _help("Options of golong_data.ingest.run_ingest.", default_factory=dict)
    chunk: dict[str, Any] = _help("Options of the chunk stage (see `golong-data chunk --help`).", default_factory=dict)
    dedup: dict[str, Any] = _help("Options of the dedup stage (see `golong-data dedup --help`).", default_factory=dict)
    synthesize: dict[str, Any] = _help(
        "Options of the synthesize stage (see `golong-data synthesize --help`).", default_factory=dict
    )
    verify: VerifyConfig = _help("Verify checks and solver (see VerifyConfig).", default_factory=VerifyConfig)
    export: ExportConfig = _help(
        "Mix size, validation split, imports (see ExportConfig).", default_factory=ExportConfig
    )
    shards: ShardsConfig = _help("Run the stages as shard tasks (see ShardsConfig); the outputs do not change.",
                                 default_factory=ShardsConfig)
    base_dir: Path = field(default=Path("."), metadata={"help": "(set by the loader) the config file's folder"})
    source: str = field(default="", metadata={"help": "(set by the loader) the config file's text"})
    config_path: str = field(default="", metadata={"help": "(set by the loader) the config file's path as given"})

    def resolve(self, p: str) -> Path:
        """A path from the config: env vars expanded, relative to the config file's folder."""
        # $GOLONG_CACHE defaults as in the Makefile, so the demo config works outside `make` too.
        env = {"GOLONG_CACHE": str(Path.home() / ".cache" / "golong-data"), **os.environ}
        q = Path(_expand(os.path.expanduser(p), env))
        return q if q.is_absolute() else (self.base_dir / q)

    def corpus_paths(self) -> list[Path]:
        paths = [self.resolve(p) for p in self.corpus]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise ConfigError(f"corpus path(s) not found: {', '.join(missing)}", "fix `corpus:` in the config")
        paths += [q for q in (self.resolve(p) for p in self.corpus_optional) if q.exists()]
        return paths

    def stage_settings(self, stage: str) -> dict[str, Any]:
        """What a stage's up-to-date check compares: its section plus the shared seed."""
        sec = getattr(self, stage)
        d = asdict(sec) if not isinstance(sec, dict) else dict(sec)
        return {"seed": self.seed, **d}


def _expand(text: str, env: dict[str, str]) -> str:
    import re

    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def help_text(cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in fields(cls)}


def _build(cls: type, data: Any, where: str) -> Any:
    """A dataclass from a YAML mapping; unknown or mistyped keys are errors that list the choices."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}", f"write `{where}:` as key: value")
    known = {f.name: f for f in fields(cls) if f.name not in LOADER_FIELDS}
    unknown = sorted(set(data) - set(known))
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
        if f.type in ("VerifyConfig",):
            v = _build(VerifyConfig, v, f"{where}.{name}" if where != "config" else name)
        elif f.type in ("ExportConfig",):
            v = _build(ExportConfig, v, f"{where}.{name}" if where != "config" else name)
        elif f.type in ("ShardsConfig",):
            v = _build(ShardsConfig, v, f"{where}.{name}" if where != "config" else name)
        else:
            v = _check_type(v, str(f.type), f"{where}.{name}", f.metadata.get("help", ""))
        kwargs[name] = v
    return cls(**kwargs)


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


def validate(cfg: PipelineConfig) -> PipelineConfig:
    bad = [c for c in cfg.verify.checks if c not in ALL_CHECKS]
    if bad:
        raise ConfigError(
            f"verify.checks: unknown check(s) {', '.join(bad)}", f"expected some of: {', '.join(ALL_CHECKS)}"
        )
    if "band" in cfg.verify.checks:
        parse_band(cfg.verify.band, cfg.verify.k)
    if cfg.verify.k < 1:
        raise ConfigError(f"verify.k = {cfg.verify.k}", "set verify.k to the number of rollouts, e.g. 8")
    if cfg.shards.n < 1 or cfg.shards.executor not in ("local", "ray"):
        raise ConfigError(f"shards: n = {cfg.shards.n}, executor = {cfg.shards.executor!r}",
                          "set shards.n >= 1 and shards.executor to local or ray")
    if cfg.export.size < 1 or cfg.export.val_per_type < 0:
        raise ConfigError("export.size must be >= 1 and export.val_per_type >= 0", "e.g. size: 23000, val_per_type: 16")
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
    cfg = _build(PipelineConfig, data, "config")
    cfg.base_dir = p.resolve().parent
    cfg.source = text
    cfg.config_path = str(path)
    return validate(cfg)
