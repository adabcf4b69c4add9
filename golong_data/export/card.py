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

from golong_data.pipeline.stage import REJECTED, read_manifest, upstream_stage_dirs
from golong_data.records import atomic_open
from golong_data.verify.checks import RANDOM_EQUIVALENT

PROFILE_NOTE = {
    "rouge_l": "ROUGE-L F against the reference summary; the golongrl profile scores the whole completion "
    "(thinking included), so a perfect answer scores >= 0.8 rather than 1.0",
}


# Where a golongrl quirk pays a blind strategy (golong_data.rewards.profiles has the full table).
QUIRK_NOTE = {
    "subem": "golongrl's SubEM does not penalise extra answer lines, so listing every heading x every item number "
    "scores 1.0 without reading; verify's shortcut check rejects such samples under golongrl. To train on them, "
    "verify and export with `--profile strict` (hits / max(gold, lines)) and train with the strict rewards.",
    "pairwise": "golongrl's Pairwise ignores omissions: two labels in the right order score 1.0, so a blind pair "
    "(`label_pair`) scores 1.0 on about half the rows -- its mean is the 0.5 chance level of a random full order, "
    "but single rewards are noisier than the metric suggests. `--profile strict` divides by all pairs.",
    "ndcg": "NDCG with linear gains: a random order of k gold-only items scores ~0.87 (k=4) to ~0.82 (k=20), so "
    "rows list more sections than the gold holds, which lowers the chance level shown here.",
}
MAX_OVER_CHANCE = 0.05  # the card flags a type whose best content strategy beats chance by more than this


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


def _save_png(plt: Any, fig: Any, path: Path) -> str:
    """Write the figure atomically and close it; returns the file name."""
    fig.tight_layout()
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", metadata={"Software": None})  # no version string: same data, same bytes
    plt.close(fig)
    return path.name


def _plots(out_dir: Path, result: Any, tasks: list[str]) -> list[str]:
    """token_lengths.png and task_shares.png (matplotlib, Agg: no display, same bytes every run)."""
    try:
        import matplotlib  # lazy: matplotlib, an optional extra (no plots without it)
    except ImportError:
        return []
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    lengths = [e.n_tokens for e in result.train]
    ax.hist(lengths or [0], bins=40, color="#4c72b0")
    ax.set_xlabel("prompt tokens")
    ax.set_ylabel("train rows")
    ax.set_title("Token length of the training rows")
    written.append(_save_png(plt, fig, out_dir / "token_lengths.png"))

    counts = Counter(e.task_type for e in result.train)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.barh(tasks[::-1], [counts.get(t, 0) for t in tasks[::-1]], color="#55a868")
    ax.set_xlabel("train rows")
    ax.set_title("Rows per task type")
    written.append(_save_png(plt, fig, out_dir / "task_shares.png"))
    return written


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def _front_matter(n_rows: int) -> list[str]:
    """The Hugging Face dataset-card YAML header: license, tags, size and the two parquet splits."""
    return [
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
        f"- {_size_category(n_rows)}",
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


def _mixture_section(result: Any, tax: Any, plots: list[str]) -> list[str]:
    """The train split by task x bucket x band, shares against targets, quota shortfalls and the plots."""
    tasks = list(tax.tasks)
    n_train = len(result.train)
    out: list[str] = []
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
    return out


def _reward_spec_table(tax: Any) -> str:
    """Per task type: metric, reward-router keys, answer format and what the profile does to a perfect answer."""
    spec_rows = []
    for t in tax.tasks:
        s = tax.tasks[t]
        note = PROFILE_NOTE.get(s.metric_key, "perfect answer scores 1.0")
        spec_rows.append([t, s.metric, f"`{s.route['data_source']}` / `{s.route['reward_mode']}`",
                          s.answer_format.replace("\n", " ").replace("|", "\\|"), note])
    return _table(["task type", "metric", "data_source / reward_mode", "answer format", "profile"], spec_rows)


def _provenance_section(result: Any, stage_dirs: list[Path]) -> list[str]:
    """Where the rows come from: origins, constructors, verify checks passed and the hashed source files."""
    out = ["", "## Provenance", ""]
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
    return out


def _ledger_section(stage_dirs: list[Path], own_rejections: dict[str, int]) -> list[str]:
    """Every stage's rejections by reason, export's own included, and the stages read."""
    out = ["", "## Rejection ledger", ""]
    ledger = rejection_ledger(stage_dirs)
    for reason, n in own_rejections.items():
        ledger[("export", reason)] = ledger.get(("export", reason), 0) + n
    if ledger:
        out.append(_table(["stage", "reason", "count"], [[s, r, n] for (s, r), n in sorted(ledger.items())]))
    else:
        out.append("No stage rejected anything.")
    out += ["", "Stages read: " + ", ".join(f"`{d.name}`" for d in stage_dirs), ""]
    return out


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
    n_train, n_val = len(result.train), len(result.val)
    out = _front_matter(n_train + n_val) + [
        "# Long-context RLVR mix (GoLongRL recipe)",
        "",
        f"{n_train} training and {n_val} validation rows over {len(tax.tasks)} capability-oriented task types, "
        "built by golong-data from the sources listed below. Rows follow the verl schema (`data_source`, `prompt`, "
        "`ability`, `reward_model`, `extra_info`) with the official GoLongRL reward-router keys, so "
        "`golong-data score` and the official reward code give the same reward.",
        "",
        "## Mixture",
        "",
    ]
    out += _mixture_section(result, tax, plots)
    out += ["", "## Reward spec", ""]
    out.append(_reward_spec_table(tax))
    out += shortcut_section(result, tax, settings.get("profile", "golongrl"))
    out += _provenance_section(result, stage_dirs)
    out += _ledger_section(stage_dirs, own_rejections)
    out += ["## How it was made", "", "```", command or "golong-data export", "```", "", "Export settings:", "",
            "```json", json.dumps(settings, indent=2, sort_keys=True), "```", ""]
    if config_text:
        out += ["Pipeline config:", "", "```yaml", config_text.rstrip(), "```", ""]
    return "\n".join(out)


def shortcut_section(result: Any, tax: Any, profile: str) -> list[str]:
    """Per task type: chance level, each blind strategy's mean over the exported rows, the gold's score."""
    measured = getattr(result, "measured", None) or [e for e in (*result.train, *result.val) if e.blind]
    out = ["", "## Shortcuts (blind strategies)", "",
           f"Fixed answering rules that never see the gold or the evidence, scored with each row's own reward "
           f"under the `{profile}` profile over the {len(measured)} verified synthetic rows of the pool the mix was "
           "drawn from (every exported synthetic row among them). *chance*: mean score of "
           "a random answer of the right form (random letter, random order of the listed items, random subset of "
           "the headings, ...). Content strategies (all but `*` random-equivalent ones) must not beat chance by "
           f"more than {MAX_OVER_CHANCE}; verify's shortcut check rejects single rows where one beats it by "
           "`--max-blind`.", ""]
    per: dict[str, list[dict[str, Any]]] = {}
    for e in measured:
        per.setdefault(e.task_type, []).append(e.blind)
    rows = []
    notes = []
    for t in tax.tasks:
        bs = per.get(t, [])
        key = tax.tasks[t].metric_key
        if key in QUIRK_NOTE and (profile == "golongrl" or key == "ndcg"):
            notes.append(f"- {t} ({tax.tasks[t].metric}): {QUIRK_NOTE[key]}")
        if not bs:
            rows.append([t, 0, "-", "-", "-", "-", "no measured rows"])
            continue
        n = len(bs)
        chance = sum(b["chance"] for b in bs) / n
        names = sorted({k for b in bs for k in b["scores"]})
        means = {k: sum(b["scores"].get(k, 0.0) for b in bs) / n for k in names}
        content = {k: v for k, v in means.items() if k not in RANDOM_EQUIVALENT}
        worst = max(content, key=lambda k: (content[k], k)) if content else ""
        over = content.get(worst, 0.0) - chance
        cells = ", ".join(f"{k}{'*' if k in RANDOM_EQUIVALENT else ''} {means[k]:.3f}"
                          for k in sorted(names, key=lambda k: (-means[k], k)))
        rows.append([t, n, f"{chance:.3f}", f"{sum(b['gold'] for b in bs) / n:.3f}",
                     f"{worst} {over:+.3f}", "**over**" if over > MAX_OVER_CHANCE else "ok", cells])
    out.append(_table(["task type", "rows", "chance", "gold", "best content - chance", f"<= chance + {MAX_OVER_CHANCE}",
                       "strategy means (best first; * random-equivalent)"], rows))
    if notes:
        out += ["", "Profile notes:", "", *notes]
    return out


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
    names = _plots(out_dir, result, list(tax.tasks)) if plots else []
    stage_dirs = [d for d in upstream_stage_dirs(in_dir) if d != Path(out_dir).resolve()]
    text = render_card(result, tax, stage_dirs, own_rejections or {}, settings, command, config_text, names)
    with atomic_open(Path(out_dir) / "README.md") as f:
        f.write(text)
    return [*names, "README.md"]
