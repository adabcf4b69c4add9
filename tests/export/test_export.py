"""export: the mix, the verl rows (scored by the real reward router), imports, quotas, byte-identical reruns."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from factory import ROUTES, make_samples, perfect  # noqa: E402

from golong_data.config import ExportConfig  # noqa: E402
from golong_data.export.mix import choose_mix, largest_remainder, water_fill  # noqa: E402
from golong_data.export.stage import run_export
from golong_data.records import write_jsonl  # noqa: E402
from golong_data.rewards import compute_score  # noqa: E402


def _pool(tmp_path: Path, **kw: object) -> tuple[Path, dict[str, str]]:
    samples = make_samples(**kw)  # type: ignore[arg-type]
    d = tmp_path / "verify"
    write_jsonl(d / "verified.jsonl", samples)
    return d, {s.id: s.answer for s in samples}


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def test_every_exported_row_scores_full_reward_with_its_gold(tmp_path: Path) -> None:
    src, answers = _pool(tmp_path, per_type=5)
    res = run_export(src, tmp_path / "out", ExportConfig(size=40, val_per_type=1, plots=False))
    rows = _rows(tmp_path / "out" / "train.parquet") + _rows(tmp_path / "out" / "val.parquet")
    assert len(rows) == len(res.train) + len(res.val) > 0
    assert {r["extra_info"]["task_type"] for r in rows} == set(ROUTES)  # all nine types made it
    for r in rows:
        ei = r["extra_info"]
        score = compute_score(r["data_source"], perfect(answers[ei["sample_id"]]), r["reward_model"]["ground_truth"],
                              ei)
        floor = 0.8 if ei["task_type"] == "summarization" else 1.0
        assert score >= floor, (ei["task_type"], score)
        # and a wrong answer does not: the check can fail
        assert compute_score(r["data_source"], perfect("[Answer]\nnothing"), r["reward_model"]["ground_truth"],
                             ei) < floor
    # JSONL mirror holds the same rows in the same order
    jl = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert jl == _rows(tmp_path / "out" / "train.parquet")
    assert [r["extra_info"]["index"] for r in jl] == list(range(len(jl)))


def test_quotas_follow_shares_and_shortfalls_are_reported(tmp_path: Path) -> None:
    # 12 per type, size 30: exact quotas 9, 8.4, 5.4, 4.8, 1.35, .3, .3, .24, .21 -> floors sum to 27; the 3 left go
    # to the largest remainders .8 (numerical), .4 (comprehension), .4 (exhaustive) -> 9, 9, 6, 5, 1, 0, 0, 0, 0.
    src, _ = _pool(tmp_path, per_type=12)
    res = run_export(src, tmp_path / "out", ExportConfig(size=30, val_per_type=2, plots=False))
    got = Counter(e.task_type for e in res.train)
    assert got == {"precise_retrieval": 9, "comprehension": 9, "exhaustive_retrieval": 6, "numerical_reasoning": 5,
                   "structured_extraction": 1}
    assert Counter(e.task_type for e in res.val) == {t: 2 for t in ROUTES}
    # now ask for more than the pool holds: nothing padded, the shortfall named in the notes and in the card
    res = run_export(src, tmp_path / "big", ExportConfig(size=1000, val_per_type=2, plots=False))
    got = Counter(e.task_type for e in res.train)
    # quotas 300, 280, 180, 160, 45, 10, 10, 8, 7: a type gives min(quota, its 10 left after val), no more
    assert [got[t] for t in ROUTES] == [10, 10, 10, 10, 10, 10, 10, 8, 7]
    assert any("precise_retrieval: quota 300, pool has 10 -> short by 290" in n for n in res.notes())
    assert "short by 290" in (tmp_path / "big" / "README.md").read_text()


def test_equal_draws_per_difficulty_band(tmp_path: Path) -> None:
    # pass rates cycle hard / medium / easy / unrated
    src, _ = _pool(tmp_path, per_type=24, tasks=["precise_retrieval"], pass_rates=[0.125, 0.5, 0.875, None])
    tax_path = tmp_path / "tax.yaml"
    text = (Path(__file__).resolve().parents[2] / "taxonomy.yaml").read_text()
    # give precise_retrieval the whole mix so the quota is exactly `size`
    import yaml

    data = yaml.safe_load(text)
    for name, spec in data["tasks"].items():
        spec["share"] = 1.0 if name == "precise_retrieval" else 0.0
    tax_path.write_text(yaml.safe_dump(data))
    res = run_export(src, tmp_path / "out", ExportConfig(size=12, val_per_type=0, taxonomy=str(tax_path), plots=False))
    cells = Counter((e.bucket, e.band) for e in res.train)
    # 3 buckets x 4 bands, 12 rows -> one per cell (the pool has 2 per cell)
    assert len(cells) == 12 and set(cells.values()) == {1}


def test_water_fill_and_largest_remainder() -> None:
    assert water_fill({"a": 1, "b": 10, "c": 10}, 9) == {"a": 1, "b": 4, "c": 4}
    assert water_fill({"a": 1, "b": 2}, 10) == {"a": 1, "b": 2}
    assert largest_remainder(10, {"x": 0.5, "y": 0.3, "z": 0.2}) == {"x": 5, "y": 3, "z": 2}
    assert sum(largest_remainder(23000, {"a": 0.3, "b": 0.28, "c": 0.42}).values()) == 23000


def test_choose_mix_is_seeded(tmp_path: Path) -> None:
    from golong_data.export.mix import Entry

    def pool() -> list[Entry]:
        return [Entry(f"s{i}", "t", "2k", "unrated", 10, 0, i, 1, "synthetic", "g") for i in range(50)]

    a = [e.id for e in choose_mix(pool(), {"t": 1.0}, 10, 0, seed=1)[0]]
    b = [e.id for e in choose_mix(pool()[::-1], {"t": 1.0}, 10, 0, seed=1)[0]]
    c = [e.id for e in choose_mix(pool(), {"t": 1.0}, 10, 0, seed=2)[0]]
    assert a == b and a != c


def _official_rows(answers_by_q: dict[str, str]) -> list[dict]:
    """Rows in the released GoLongRL / verl schema, written by hand (not by our exporter)."""
    ctx = "Anne Elliot walked to Uppercross. Captain Wentworth arrived later that day."
    return [
        {"data_source": "EM", "prompt": [{"role": "user", "content": ctx + "\nWho arrived later?"}], "ability": "qa",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": [], "golden_label": "Captain Wentworth",
                                                           "summary": ""}},
         "extra_info": {"reward_mode": "EM", "question": "Who arrived later?", "index": 0}},
        {"data_source": "longbench_pro", "prompt": [{"role": "user", "content": ctx + "\nList the places."}],
         "ability": "qa",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": ["Uppercross"], "golden_label": "",
                                                           "summary": ""}},
         "extra_info": {"reward_mode": "T6.2 Targeted Subset Cluster Identification", "question": "List the places.",
                        "index": 1}},
        # a duplicate of a synthetic sample's question: must be dropped
        {"data_source": "EM", "prompt": [{"role": "user", "content": "dup"}], "ability": "qa",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": [], "golden_label": "x", "summary": ""}},
         "extra_info": {"reward_mode": "EM", "question": next(iter(answers_by_q)).upper() + "  ", "index": 2}},
        # a route no task type has: ledgered, not guessed
        {"data_source": "longbench_pro", "prompt": [{"role": "user", "content": "x"}], "ability": "qa",
         "reward_model": {"style": "rule", "ground_truth": {"doc_ids": ["a"], "golden_label": "", "summary": ""}},
         "extra_info": {"reward_mode": "T3.1 Something Else", "question": "q", "index": 3}},
    ]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_import_official_schema_rows(tmp_path: Path, fmt: str) -> None:
    samples = make_samples(per_type=3, tasks=["precise_retrieval", "exhaustive_retrieval"])
    write_jsonl(tmp_path / "v" / "verified.jsonl", samples)
    rows = _official_rows({s.meta["question"]: s.answer for s in samples if s.task_type == "precise_retrieval"})
    imp = tmp_path / f"official.{fmt}"
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), imp)
    else:
        imp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run_export(tmp_path / "v", tmp_path / "out",
                     ExportConfig(size=100, val_per_type=0, imports=[str(imp)], plots=False))
    out = _rows(tmp_path / "out" / "train.parquet")
    imported = [r for r in out if r["extra_info"]["origin"].startswith("import:")]
    assert len(imported) == 2 and len(out) == 8
    by_mode = {r["extra_info"]["reward_mode"]: r for r in imported}
    assert by_mode["EM"]["extra_info"]["task_type"] == "precise_retrieval"
    assert compute_score("EM", perfect("Captain Wentworth"), by_mode["EM"]["reward_model"]["ground_truth"]) == 1.0
    lb = by_mode["T6.2 Targeted Subset Cluster Identification"]
    assert lb["extra_info"]["task_type"] == "exhaustive_retrieval"
    assert compute_score("longbench_pro", perfect("[Answer]\nUppercross"), lb["reward_model"]["ground_truth"],
                         lb["extra_info"]) == 1.0
    rej = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert sorted(r["reason"] for r in rej) == ["import_duplicate", "import_unmapped_route"]
    assert res.import_counts["kept"] == 2


def test_reruns_are_byte_identical(tmp_path: Path) -> None:
    src, _ = _pool(tmp_path, per_type=4, pass_rates=[0.25, 0.5, None])
    cfg = ExportConfig(size=20, val_per_type=1, plots=True)
    run_export(src, tmp_path / "a", cfg, seed=3, command="golong-data export")
    run_export(src, tmp_path / "b", cfg, seed=3, command="golong-data export")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert {"train.parquet", "val.parquet", "train.jsonl", "val.jsonl", "README.md", "token_lengths.png",
            "task_shares.png", "manifest.json"} <= set(names)
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes(), n
    # a different seed draws a different mix
    run_export(src, tmp_path / "c", cfg, seed=4, command="golong-data export")
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (tmp_path / "a" / "train.jsonl").read_bytes()


def test_card_has_the_promised_sections(tmp_path: Path) -> None:
    src, _ = _pool(tmp_path, per_type=3)
    run_export(src, tmp_path / "out", ExportConfig(size=20, val_per_type=0, plots=False), command="golong-data x")
    card = (tmp_path / "out" / "README.md").read_text()
    assert card.startswith("---\n") and "configs:" in card.split("---")[1]
    for heading in ("## Mixture", "## Reward spec", "## Provenance", "## Rejection ledger", "## How it was made"):
        assert heading in card
    assert "T4.1 Global-Coverage Constrained Summary" in card and "golong-data x" in card


def test_index_pass_reads_everything_but_the_prompt() -> None:
    from golong_data.export.stage import index_fields

    hostile = 'a "prompt":[ ],"ground_truth": {"x": 1} \\ \u2028 é'  # the cut patterns inside the text itself
    s = make_samples(per_type=1, tasks=["precise_retrieval"])[0]
    s.prompt = [{"role": "user", "content": hostile}]
    from golong_data.records import dumps, to_dict

    line = dumps(s).encode()
    got = index_fields(line)
    full = to_dict(s)
    assert got.pop("prompt") is True and {k: v for k, v in full.items() if k != "prompt"} == got
    s.prompt = []
    assert index_fields(dumps(s).encode())["prompt"] is False
