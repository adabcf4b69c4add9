"""The task taxonomy: `taxonomy.yaml` loaded, validated and printed as a capability tree.

    >>> tax = load_taxonomy(check_prompts=False)
    >>> list(tax.tasks)[:2]
    ['precise_retrieval', 'comprehension']
    >>> tax.tasks["graded_ranking"].route["reward_mode"]
    'T1.1 Global Cohesive Retrieval'

Every task type names a reward metric (a key of `golong_data.rewards.REWARDS`), the official GoLongRL
router keys its samples carry (`route`), the answer-format instruction appended to each question, the
LLM synthesis prompt file, and a default share of the mix. Validation errors say what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from golong_data.errors import ConfigError
from golong_data.resources import data_dir
from golong_data.rewards import REWARDS
from golong_data.rewards.router import known_route

ROOT = data_dir()
DEFAULT_TAXONOMY = ROOT / "taxonomy.yaml"
SHARE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class TaskSpec:
    name: str
    capability: list[str]
    metric: str  # display name as written in taxonomy.yaml, e.g. "ROUGE-L"
    route: dict[str, str]  # {"data_source", "reward_mode"}: the official reward router's keys
    answer_format: str  # instruction appended to every question of this type
    prompt: str  # path of the synthesis prompt file (as written; resolved against the taxonomy's folder)
    share: float

    @property
    def metric_key(self) -> str:
        """The REWARDS registry key: "ROUGE-L" -> "rouge_l", "EM" -> "em"."""
        return metric_key(self.metric)


@dataclass
class Taxonomy:
    path: Path
    tasks: dict[str, TaskSpec]
    mix_size: int = 23000
    raw: dict[str, Any] = field(default_factory=dict)

    def task(self, name: str) -> TaskSpec:
        if name not in self.tasks:
            raise ConfigError(f"unknown task type {name!r}", f"expected one of: {', '.join(self.tasks)}")
        return self.tasks[name]

    def prompt_path(self, name: str) -> Path:
        return (self.path.parent / self.task(name).prompt).resolve()

    def tree(self) -> str:
        """The capability tree as text: capability -> sub-capability -> task type, metric, share."""
        lines = [f"taxonomy {self.path} ({len(self.tasks)} task types, mix of {self.mix_size})"]
        groups: dict[str, list[TaskSpec]] = {}
        for t in self.tasks.values():
            groups.setdefault(t.capability[0] if t.capability else "-", []).append(t)
        width = max((len(t.name) for t in self.tasks.values()), default=10)
        for gi, (cap, specs) in enumerate(groups.items()):
            last_group = gi == len(groups) - 1
            lines.append(f"{'└── ' if last_group else '├── '}{cap}")
            for si, t in enumerate(specs):
                branch = ("    " if last_group else "│   ") + ("└── " if si == len(specs) - 1 else "├── ")
                sub = "/".join(t.capability[1:]) or t.name
                n = round(t.share * self.mix_size)
                lines.append(
                    f"{branch}{sub:<13} {t.name:<{width}}  {t.metric:<11} {100 * t.share:5.1f}%  ~{n:>5}  "
                    f"[{t.route['data_source']} / {t.route['reward_mode']}]"
                )
        return "\n".join(lines)


def metric_key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_").replace(" ", "_")


def load_taxonomy(path: Path | str | None = None, check_prompts: bool = True) -> Taxonomy:
    """Load and validate a taxonomy file (None: the repository's taxonomy.yaml)."""
    p = Path(path) if path is not None else DEFAULT_TAXONOMY
    if not p.exists():
        raise ConfigError(f"taxonomy file {p} not found", "pass --taxonomy PATH, or restore taxonomy.yaml")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})", "fix the YAML syntax") from e
    return parse_taxonomy(data, p, check_prompts=check_prompts)


def parse_taxonomy(data: Any, path: Path, check_prompts: bool = True) -> Taxonomy:
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict) or not data["tasks"]:
        raise ConfigError(f"{path}: expected a mapping with a non-empty 'tasks:' mapping", "see taxonomy.yaml")
    tasks: dict[str, TaskSpec] = {}
    required = ("capability", "metric", "route", "answer_format", "prompt", "share")
    for name, spec in data["tasks"].items():
        where = f"{path}: task {name!r}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a mapping of fields", f"give it: {', '.join(required)}")
        missing = [k for k in required if k not in spec]
        if missing:
            raise ConfigError(
                f"{where}: missing field(s) {', '.join(missing)}", f"every task needs: {', '.join(required)}"
            )
        key = metric_key(spec["metric"])
        if key not in REWARDS:
            raise ConfigError(
                f"{where}: unknown metric {spec['metric']!r}", f"expected one of: {', '.join(sorted(REWARDS))}"
            )
        route = spec["route"]
        if not isinstance(route, dict) or set(route) != {"data_source", "reward_mode"}:
            raise ConfigError(f"{where}: route must be {{data_source: ..., reward_mode: ...}}", "see taxonomy.yaml")
        route = {k: str(v) for k, v in route.items()}
        routed = known_route(route["data_source"], route["reward_mode"])
        if routed is None:
            raise ConfigError(
                f"{where}: route {route} is not one the official reward router knows",
                "use data_source EM, selection, math_longcot_math_verify, multitableqa_pretraining, or "
                "longbench_pro with a LongBench-Pro subtask name as reward_mode",
            )
        if routed != key:
            raise ConfigError(
                f"{where}: metric {spec['metric']!r} but route {route} scores with {routed!r}",
                "make the metric and the route agree",
            )
        capability = spec["capability"]
        if isinstance(capability, str):
            capability = [capability]
        if not isinstance(capability, list) or not capability:
            raise ConfigError(f"{where}: capability must be a non-empty list", "e.g. [retrieval, precise]")
        try:
            share = float(spec["share"])
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: share {spec['share']!r} is not a number", "e.g. share: 0.1") from None
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"{where}: share {share} outside [0, 1]", "shares are fractions of the mix")
        prompt = str(spec["prompt"])
        if check_prompts and not (path.parent / prompt).is_file():
            raise ConfigError(
                f"{where}: prompt file {path.parent / prompt} not found",
                f"create {prompt} (the synthesis prompt for {name}) or fix the 'prompt:' path",
            )
        tasks[str(name)] = TaskSpec(
            name=str(name),
            capability=[str(c) for c in capability],
            metric=str(spec["metric"]),
            route=route,
            answer_format=str(spec["answer_format"]).strip(),
            prompt=prompt,
            share=share,
        )
    total = math.fsum(t.share for t in tasks.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise ConfigError(
            f"{path}: task shares sum to {total:.6g}, not 1",
            "adjust the 'share:' values so they add up to 1 (e.g. scale each by 1/" + f"{total:.6g})",
        )
    mix = data.get("mix_size", 23000)
    if not isinstance(mix, int) or mix <= 0:
        raise ConfigError(f"{path}: mix_size {mix!r} must be a positive integer", "e.g. mix_size: 23000")
    return Taxonomy(path=path, tasks=tasks, mix_size=mix, raw=data)
