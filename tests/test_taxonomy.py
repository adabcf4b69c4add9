"""taxonomy.yaml: the nine task types, their routes and shares; validation errors that name the fix."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.errors import ConfigError
from golong_data.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

ORDER = [
    "precise_retrieval", "comprehension", "exhaustive_retrieval", "numerical_reasoning", "structured_extraction",
    "structured_matching", "graded_ranking", "sequence_ordering", "summarization",
]
ROUTES = {
    "precise_retrieval": ("EM", "EM", "EM"),
    "comprehension": ("Accuracy", "selection", "selection"),
    "exhaustive_retrieval": ("F1", "longbench_pro", "T6.2 Targeted Subset Cluster Identification"),
    "numerical_reasoning": ("math_verify", "math_longcot_math_verify", "math_verify"),
    "structured_extraction": ("IoU", "multitableqa_pretraining", "IoU"),
    "structured_matching": ("SubEM", "longbench_pro", "T8.2 Single-Source Targeted Aggregation"),
    "graded_ranking": ("NDCG", "longbench_pro", "T1.1 Global Cohesive Retrieval"),
    "sequence_ordering": ("Pairwise", "longbench_pro", "T2.1 Global Timeline Reconstruction"),
    "summarization": ("ROUGE-L", "longbench_pro", "T4.1 Global-Coverage Constrained Summary"),
}


def test_repo_taxonomy_has_the_nine_types_in_order_with_official_routes() -> None:
    tax = load_taxonomy(check_prompts=False)
    assert list(tax.tasks) == ORDER
    for name, (metric, ds, mode) in ROUTES.items():
        t = tax.tasks[name]
        assert (t.metric, t.route["data_source"], t.route["reward_mode"]) == (metric, ds, mode)
        assert t.prompt == f"prompts/synth_{name}.md"
        assert t.answer_format and t.capability


def test_default_shares_follow_the_paper() -> None:
    shares = [t.share for t in load_taxonomy(check_prompts=False).tasks.values()]
    assert math.isclose(math.fsum(shares), 1.0)
    assert math.fsum(shares[:4]) > 0.90  # first four types: over 90 % of the mix
    assert math.fsum(shares[-4:]) < 0.04  # last four: under 4 %


def test_answer_formats_name_the_markers() -> None:
    tax = load_taxonomy(check_prompts=False)
    assert "The correct answer is (X)" in tax.tasks["comprehension"].answer_format
    assert "\\boxed{}" in tax.tasks["numerical_reasoning"].answer_format
    assert "<answer>" in tax.tasks["structured_extraction"].answer_format
    for name in ORDER[5:] + ["exhaustive_retrieval"]:
        assert "[Answer]" in tax.tasks[name].answer_format, name


def _write(tmp_path: Path, mutate=None, prompts: bool = True) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(DEFAULT_TAXONOMY.read_text())
    if mutate:
        mutate(data)
    if prompts:
        for t in data["tasks"].values():
            (tmp_path / t["prompt"]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / t["prompt"]).write_text("prompt")
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_tmp_taxonomy_with_prompts_loads_and_resolves_prompt_paths(tmp_path: Path) -> None:
    tax = load_taxonomy(_write(tmp_path))
    assert tax.prompt_path("summarization") == (tmp_path / "prompts" / "synth_summarization.md").resolve()
    assert list(tax.tasks) == ORDER


def test_missing_prompt_file_is_named(tmp_path: Path) -> None:
    p = _write(tmp_path)
    (tmp_path / "prompts" / "synth_graded_ranking.md").unlink()
    with pytest.raises(ConfigError) as e:
        load_taxonomy(p)
    assert "synth_graded_ranking.md" in str(e.value) and "create" in str(e.value)


def test_unknown_metric_lists_the_choices(tmp_path: Path) -> None:
    def bad(d):  # type: ignore[no-untyped-def]
        d["tasks"]["summarization"]["metric"] = "BLEU"

    with pytest.raises(ConfigError) as e:
        load_taxonomy(_write(tmp_path, bad))
    assert "BLEU" in str(e.value) and "rouge_l" in str(e.value) and "ndcg" in str(e.value)


def test_shares_must_sum_to_one(tmp_path: Path) -> None:
    def bad(d):  # type: ignore[no-untyped-def]
        d["tasks"]["comprehension"]["share"] = 0.5

    with pytest.raises(ConfigError) as e:
        load_taxonomy(_write(tmp_path, bad))
    assert "sum to 1.22" in str(e.value)


def test_metric_and_route_must_agree(tmp_path: Path) -> None:
    def bad(d):  # type: ignore[no-untyped-def]
        d["tasks"]["graded_ranking"]["route"]["reward_mode"] = "T2.1 Global Timeline Reconstruction"

    with pytest.raises(ConfigError) as e:
        load_taxonomy(_write(tmp_path, bad))
    assert "pairwise" in str(e.value)

    def unknown(d):  # type: ignore[no-untyped-def]
        d["tasks"]["graded_ranking"]["route"]["data_source"] = "gsm8k"

    with pytest.raises(ConfigError):
        load_taxonomy(_write(tmp_path, unknown))


def test_cli_prints_the_tree(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["taxonomy", "--taxonomy", str(_write(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "retrieval" in result.output and "graded_ranking" in result.output and "ROUGE-L" in result.output
    bad = CliRunner().invoke(app, ["taxonomy", "--taxonomy", str(tmp_path / "nope.yaml")])
    assert bad.exit_code == 1 and "not found" in bad.output
