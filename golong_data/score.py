"""The score stage: judge completions against samples with the reward router.

    golong-data score --data work/verify --completions completions.jsonl --out scores.jsonl

Samples are our records (samples.jsonl / verified.jsonl, a file or a stage directory) or verl rows
(parquet or JSONL with data_source, reward_model.ground_truth, extra_info.reward_mode). Completions are
`{id, completion}` JSONL lines, several per id allowed; the id is the sample id, or for verl rows
extra_info.sample_id (else extra_info.index). Output: one `{id, task_type, score}` line per completion,
in the completions' order, plus a per-task summary table.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golong_data.errors import GolongError
from golong_data.records import atomic_open, iter_jsonl
from golong_data.rewards import compute_score, get_profile, known_route

SAMPLE_FILES = ("verified.jsonl", "samples.jsonl")


@dataclass(frozen=True)
class Target:
    """What a completion is scored against: the official router's inputs plus our task type."""

    id: str
    task_type: str
    data_source: str
    ground_truth: Any
    extra_info: dict[str, Any]


@dataclass
class ScoreSummary:
    n_scored: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    by_task: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def table(self) -> str:
        rows = [("task type", "n", "mean", "=1", "=0")]
        for task in sorted(self.by_task):
            s = self.by_task[task]
            rows.append((task, str(len(s)), f"{math.fsum(s) / len(s):.4f}", str(sum(x == 1.0 for x in s)),
                         str(sum(x == 0.0 for x in s))))
        allv = [x for s in self.by_task.values() for x in s]
        if allv:
            rows.append(("all", str(len(allv)), f"{math.fsum(allv) / len(allv):.4f}",
                         str(sum(x == 1.0 for x in allv)), str(sum(x == 0.0 for x in allv))))
        w = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows]
        lines.insert(1, "  ".join("-" * x for x in w))
        if self.unknown_ids:
            shown = ", ".join(self.unknown_ids[:5]) + (" ..." if len(self.unknown_ids) > 5 else "")
            lines.append(f"skipped {len(self.unknown_ids)} completion(s) whose id matches no sample: {shown}")
        return "\n".join(lines)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def target_of(row: dict[str, Any], where: str = "") -> Target:
    """A Target from one of our Sample dicts or one verl row."""
    if "route" in row and "ground_truth" in row:
        route = row["route"]
        return Target(str(row["id"]), str(row.get("task_type", "")), route["data_source"], row["ground_truth"],
                      {"reward_mode": route["reward_mode"]})
    if "data_source" in row and "reward_model" in row:
        extra = _maybe_json(row.get("extra_info")) or {}
        rm = _maybe_json(row["reward_model"]) or {}
        sid = extra.get("sample_id")
        if sid is None:
            sid = extra.get("index")
        if sid is None:
            raise GolongError(f"{where}: verl row without extra_info.sample_id or extra_info.index",
                              "export rows with one of them so completions can name their sample")

        task = extra.get("task_type") or known_route(row["data_source"], extra.get("reward_mode")) or row["data_source"]
        return Target(str(sid), str(task), row["data_source"], _maybe_json(rm.get("ground_truth")), extra)
    raise GolongError(f"{where}: neither a sample record (route, ground_truth) nor a verl row "
                      "(data_source, reward_model)", "point --data at samples/verified records or exported rows")


def _sample_paths(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise GolongError(f"{path} not found", "pass a samples/verified JSONL file, a parquet file, or a stage dir")
    for name in SAMPLE_FILES:
        if (path / name).is_file():
            return [path / name]
    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        return parquet
    raise GolongError(f"{path} holds no {' / '.join(SAMPLE_FILES)} and no *.parquet",
                      "point --data at the verify or synthesize output, or at exported parquet")


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # lazy: pyarrow, only for parquet input

        return pq.read_table(path).to_pylist()
    return list(iter_jsonl(path))


def load_targets(path: Path) -> dict[str, Target]:
    targets: dict[str, Target] = {}
    for p in _sample_paths(path):
        for i, row in enumerate(_rows(p), 1):
            t = target_of(row, f"{p}:{i}")
            targets[t.id] = t
    if not targets:
        raise GolongError(f"no samples in {path}", "check the --data path")
    return targets


def score_completions(
    data: Path,
    completions: Path,
    out: Path | None = None,
    profile: str = "golongrl",
    think_gate: bool | None = None,
    strict_routes: bool = False,
) -> ScoreSummary:
    """Score every completion; write `{id, task_type, score}` lines to `out` (None: stdout).

    A row the official reward router cannot score (it raises there) scores 0.0 with one warning per route;
    strict_routes=True makes it a ConfigError naming the route and why."""
    prof = get_profile(profile, think_gate)
    targets = load_targets(data)
    if not Path(completions).is_file():
        raise GolongError(f"{completions} not found", "pass a JSONL file of {id, completion} lines")
    summary = ScoreSummary()

    def lines() -> Any:
        for lineno, obj in enumerate(iter_jsonl(Path(completions)), 1):
            if "id" not in obj or not isinstance(obj.get("completion"), str):
                raise GolongError(f"{completions}:{lineno}: expected {{\"id\": ..., \"completion\": \"...\"}}",
                                  "write one JSON object per completion")
            t = targets.get(str(obj["id"]))
            if t is None:
                summary.unknown_ids.append(str(obj["id"]))
                continue
            s = compute_score(t.data_source, obj["completion"], t.ground_truth, t.extra_info, profile=prof,
                              strict_routes=strict_routes)
            summary.by_task[t.task_type].append(s)
            summary.n_scored += 1
            yield json.dumps({"id": t.id, "task_type": t.task_type, "score": s}, ensure_ascii=False,
                             separators=(",", ":")) + "\n"

    if out is None:
        for line in lines():
            sys.stdout.write(line)
        sys.stdout.flush()
    else:
        with atomic_open(Path(out)) as f:
            for line in lines():
                f.write(line)
    return summary
