"""The dataset card written next to the exported data: a Hugging Face README.md with a YAML header.

It says what is in the mix (task type x bucket x difficulty, plots), how each row is rewarded, where
the rows came from (source files with sha256, constructors, prompt hashes, models), what every upstream
stage dropped and why, and the exact command and config. No wall-clock times: reruns write the same bytes.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from golong_data.stage import MANIFEST, REJECTED, read_manifest

PROFILE_NOTE = {
    "rouge_l": "ROUGE-L F against the reference summary; the golongrl profile scores the whole completion "
    "(thinking included), so a perfect answer scores >= 0.8 rather than 1.0",
}


def upstream_stage_dirs(start: Path, limit: int = 32) -> list[Path]:
    """Stage directories reachable from `start` through the manifests' input paths, nearest first."""
    out: list[Path] = []
    todo = [Path(start)]
    while todo and len(out) < limit:
        d = todo.pop(0).resolve()
        if d in out or read_manifest(d) is None:
            continue
        out.append(d)
        for inp in read_manifest(d).get("inputs", []):  # type: ignore[union-attr]
            parent = Path(inp.get("path", "")).parent
            if (parent / MANIFEST).exists():
                todo.append(parent)
    return out


def source_files(stage_dirs: list[Path]) -> list[dict[str, str]]:
    """The raw inputs (with sha256) of the ingest stage among `stage_dirs`."""
    files: dict[str, str] = {}
    for d in stage_dirs:
        m = read_manifest(d) or {}
        if m.get("stage") == "ingest":
            for inp in m.get("inputs", []):
                files[inp["path"]] = inp["sha256"]
    return [{"path": p, "sha256": h} for p, h in sorted(files.items())]


def rejection_ledger(stage_dirs: list[Path]) -> dict[tuple[str, str], int]:
    """(stage, reason) -> count over the rejected.jsonl of every reachable stage."""
    counts: Counter[tuple[str, str]] = Counter()
    for d in stage_dirs:
        p = d / REJECTED
        if not p.exists():
            continue
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    counts[(str(r.get("stage", d.name)), str(r.get("reason", "?")))] += 1
    return dict(counts)


def bucket_order(bucket: str) -> tuple[int, str]:
    """'2k' < '16k' < '128k' < anything unsized ('imported'): buckets read smallest first."""
    m = re.fullmatch(r"(\d+)([kK]?)", bucket)
    if not m:
        return (1 << 62, bucket)
    return (int(m.group(1)) * (1024 if m.group(2) else 1), bucket)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _plots(out_dir: Path, result: Any, tasks: list[str]) -> list[str]:
    """token_lengths.png and task_shares.png (matplotlib, Agg: no display, same bytes every run)."""
    try:
        import matplotlib
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from golong_data.records import atomic_open

    written = []
    meta = {"Software": None}  # no version string in the PNG: the same data gives the same bytes
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    lengths = [e.n_tokens for e in result.train]
    ax.hist(lengths or [0], bins=40, color="#4c72b0")
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("train rows")
    ax.set_title("Token length of the training rows")
    fig.tight_layout()
    with atomic_open(out_dir / "token_lengths.png", "wb") as f:
        fig.savefig(f, format="png", metadata=meta)
    plt.close(fig)
    written.append("token_lengths.png")

    counts = Counter(e.task_type for e in result.train)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.barh(tasks[::-1], [counts.get(t, 0) for t in tasks[::-1]], color="#55a868")
    ax.set_xlabel("train rows")
    ax.set_title("Rows per task type")
    fig.tight_layout()
    with atomic_open(out_dir / "task_shares.png", "wb") as f:
        fig.savefig(f, format="png", metadata=meta)
    plt.close(fig)
    written.append("task_shares.png")
    return written


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def render_card(
    result: Any,
    tax: Any,
    stage_dirs: list[Path],
    own_rejections: dict[str, int],
    settings: dict[str, Any],
    command: str,
    config_text: str,
    plots: list[str],
) -> str:
    tasks = list(tax.tasks)
    n_train, n_val = len(result.train), len(result.val)
    header = [
        "---",
        "license: other",
        "language:",
        "- en",
        "task_categories:",
        "- question-answering",
        "- summarization",
        "- text-generation",
        "tags:",
        "- long-context",
        "- rlvr",
        "- golongrl",
        "size_categories:",
        f"- {_size_category(n_train + n_val)}",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: train.parquet",
        "  - split: validation",
        "    path: val.parquet",
        "---",
        "",
    ]
    out = header + [
        "# Long-context RLVR mix (GoLongRL recipe)",
        "",
        f"{n_train} training and {n_val} validation rows over {len(tasks)} capability-oriented task types, "
        "built by golong-data from the sources listed below. Rows follow the verl schema (`data_source`, `prompt`, "
        "`ability`, `reward_model`, `extra_info`) with the official GoLongRL reward-router keys, so "
        "`golong-data score` and the official reward code give the same reward.",
        "",
        "## Mixture",
        "",
    ]
    # task x bucket x band counts of the train split
    cells: Counter[tuple[str, str, str]] = Counter((e.task_type, e.bucket, e.band) for e in result.train)
    bands = ["hard", "medium", "easy", "unrated"]
    rows = []
    for t in tasks:
        buckets = sorted({b for (tt, b, _) in cells if tt == t}, key=bucket_order)
        for b in buckets:
            row = [t, b] + [cells.get((t, b, k), 0) for k in bands]
            rows.append(row + [sum(row[2:])])
    out.append(_table(["task type", "bucket", *bands, "rows"], rows) if rows else "(no training rows)")
    out += ["", "Difficulty bands from the verify stage's pass rate over k rollouts: hard <= 0.25 < medium < 0.75 "
            "<= easy; unrated: no pass rate recorded.", ""]
    by_type = Counter(e.task_type for e in result.train)
    val_type = Counter(e.task_type for e in result.val)
    share_rows = [
        [t, f"{100 * tax.tasks[t].share:.1f}%", by_type.get(t, 0),
         f"{100 * by_type.get(t, 0) / max(1, n_train):.1f}%", val_type.get(t, 0)]
        for t in tasks
    ]
    out.append(_table(["task type", "target share", "train rows", "actual share", "val rows"], share_rows))
    out += ["", "### Quota shortfalls", ""]
    if result.shortfalls:
        out += [f"- {s.line()}" for s in result.shortfalls]
    else:
        out.append("None: every quota was met.")
    if plots:
        out += ["", "### Plots", ""] + [f"![{p[:-4]}]({p})" for p in plots]
    out += ["", "## Reward spec", ""]
    spec_rows = []
    for t in tasks:
        s = tax.tasks[t]
        note = PROFILE_NOTE.get(s.metric_key, "perfect answer scores 1.0")
        spec_rows.append([t, s.metric, f"`{s.route['data_source']}` / `{s.route['reward_mode']}`",
                          s.answer_format.replace("\n", " ").replace("|", "\\|"), note])
    out.append(_table(["task type", "metric", "data_source / reward_mode", "answer format", "profile"], spec_rows))
    out += ["", "## Provenance", ""]
    origins = Counter(e.origin for e in (*result.train, *result.val))
    out.append(_table(["origin", "rows"], [[o, n] for o, n in sorted(origins.items())]))
    gens = Counter(e.generator for e in (*result.train, *result.val))
    out += ["", "Constructors (kind/name@version, model, prompt hash):", ""]
    out += [f"- `{g}`: {n} rows" for g, n in sorted(gens.items())]
    vers = Counter(e.verifier or "unverified" for e in (*result.train, *result.val))
    out += ["", "Verify checks passed (and solver models):", ""]
    out += [f"- `{v}`: {n} rows" for v, n in sorted(vers.items())]
    srcs = source_files(stage_dirs)
    out += ["", f"Source files ({len(srcs)}, sha256 from the ingest manifest):", ""]
    if srcs:
        out.append(_table(["file", "sha256"], [[s["path"], f"`{s['sha256']}`"] for s in srcs]))
    else:
        out.append("(ingest manifest not reachable from the input directory)")
    out += ["", "## Rejection ledger", ""]
    ledger = rejection_ledger(stage_dirs)
    for reason, n in own_rejections.items():
        ledger[("export", reason)] = ledger.get(("export", reason), 0) + n
    if ledger:
        out.append(_table(["stage", "reason", "count"], [[s, r, n] for (s, r), n in sorted(ledger.items())]))
    else:
        out.append("No stage rejected anything.")
    out += ["", "Stages read: " + ", ".join(f"`{d.name}`" for d in stage_dirs), ""]
    out += ["## How it was made", "", "```", command or "golong-data export", "```", "", "Export settings:", "",
            "```json", json.dumps(settings, indent=2, sort_keys=True), "```", ""]
    if config_text:
        out += ["Pipeline config:", "", "```yaml", config_text.rstrip(), "```", ""]
    return "\n".join(out)


def write_card(
    out_dir: Path,
    result: Any,
    tax: Any,
    in_dir: Path,
    settings: dict[str, Any],
    command: str,
    config_text: str,
    plots: bool,
    own_rejections: dict[str, int] | None = None,
) -> list[str]:
    """Write README.md (+ PNG plots) into out_dir; returns the file names written."""
    from golong_data.records import atomic_open

    names = _plots(out_dir, result, list(tax.tasks)) if plots else []
    stage_dirs = [d for d in upstream_stage_dirs(in_dir) if d != Path(out_dir).resolve()]
    text = render_card(result, tax, stage_dirs, own_rejections or {}, settings, command, config_text, names)
    with atomic_open(Path(out_dir) / "README.md") as f:
        f.write(text)
    return [*names, "README.md"]
