"""The shortcut check and the inconclusive verdicts (issue 19): each check rejects a sample built to fail it.

Samples are built here from the real chitchat fixture (its messages are the passages); the expected scores
come from the reward rules worked by hand (F1, SubEM, letter counts), never from golong_data.verify.shortcuts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "export"))
sys.path.insert(0, str(HERE.parent / "llm"))
from factory import ROUTES, conversations, make_samples, perfect  # noqa: E402
from fake_openai_server import FakeOpenAIServer  # noqa: E402

from golong_data.config import EndpointConfig, VerifyConfig  # noqa: E402
from golong_data.records import Sample, content_id, write_jsonl  # noqa: E402
from golong_data.verify.checks import check_shortcut, recompute_verdict  # noqa: E402
from golong_data.verify.shortcuts import measure  # noqa: E402
from golong_data.verify.stage import run_verify  # noqa: E402


def _sample(task: str, sections: list[tuple[str, list[str]]], question: str, gt: dict, answer: str,
            key: str = "") -> Sample:
    ds, mode, metric = ROUTES[task]
    ctx = "\n\n".join(f"=== {h} ===\n" + "\n".join(body) for h, body in sections)
    full = {"doc_ids": gt.get("doc_ids", []), "golden_label": gt.get("golden_label", ""), "summary": ""}
    return Sample(id=content_id("smp", task, question, key), task_type=task, capability=[task], metric=metric,
                  route={"data_source": ds, "reward_mode": mode},
                  prompt=[{"role": "user", "content": f"{ctx}\n\nQuestion: {question}"}], ground_truth=full,
                  n_tokens=len(ctx) // 4, bucket="2k",
                  generator={"kind": "program", "name": "planted", "version": "1", "model": None,
                             "prompt_sha": None, "seed": 0},
                  answer=answer, meta={"question": question})


def _texts(conv: list[dict[str, str]]) -> list[str]:
    return [" ".join(m["text"].split()) for m in conv]


def _mcq(all_present: bool) -> Sample:
    """Which passage comes from section "Chat 0"? Gold B is a message of Chat 0; the three wrong options are
    messages of Chat 1, put in the context only when all_present."""
    convs = conversations()
    a, b = _texts(convs[0]), _texts(convs[1])
    sections = [("Chat 0", a)] + ([("Chat 1", b)] if all_present else [("Chat 2", _texts(convs[2]))])
    opts = {"A": b[1], "B": a[2], "C": b[3], "D": b[4]}
    q = 'Which of the following passages comes from the section "Chat 0"?\n\n' + "\n".join(
        f'{k}. "{v}"' for k, v in opts.items())
    return _sample("comprehension", sections, q, {"golden_label": "B"}, "The correct answer is (B)",
                   key=str(all_present))


def _matching() -> Sample:
    convs = conversations()
    secs = [(f"Chat {i}", _texts(convs[i])) for i in range(4)]
    picks = [(1, 0), (2, 2), (3, 1)]  # (quote number, section)
    lines = "\n".join(f'{n}. "{secs[i][1][1 + n]}"' for n, i in picks)
    q = f"For each numbered line below, name the section of the documents above it comes from.\n\n{lines}"
    gold = [f"{n}: {secs[i][0]}" for n, i in picks]
    return _sample("structured_matching", secs, q, {"doc_ids": gold}, "[Answer]\n" + "\n".join(gold))


def _exhaustive() -> Sample:
    convs = conversations()
    secs = [(f"Chat {i}", _texts(convs[i])) for i in range(4)]
    gold = ["Chat 0", "Chat 1", "Chat 2"]  # three of the four headings: "list them all" is nearly right
    q = 'List every section of the documents above whose text contains the word "x".'
    return _sample("exhaustive_retrieval", secs, q, {"doc_ids": gold}, "[Answer]\n" + "\n".join(gold))


def _run(tmp: Path, samples: list[Sample], **kw: object) -> tuple[dict, dict, object]:
    d = tmp / "synth"
    write_jsonl(d / "samples.jsonl", samples)
    out = tmp / "v"
    summary = run_verify(d, out, VerifyConfig(**kw))  # type: ignore[arg-type]
    kept = {json.loads(x)["id"]: json.loads(x) for x in (out / "verified.jsonl").read_text().splitlines()}
    rej = {json.loads(x)["source"]: json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()}
    assert set(kept) | set(rej) == {s.id for s in samples} and not set(kept) & set(rej)
    return kept, rej, summary


def test_option_presence_is_caught_and_all_options_in_context_pass(tmp_path: Path) -> None:
    leaky, fair = _mcq(all_present=False), _mcq(all_present=True)
    kept, rej, _ = _run(tmp_path, [leaky, fair], checks=["gold", "shortcut"])
    assert rej[leaky.id]["reason"] == "shortcut:present"
    d = json.loads(rej[leaky.id]["detail"])
    assert d["check"] == "shortcut" and d["score"] == 1.0 and d["chance"] == 0.25
    assert d["threshold"] == pytest.approx(0.55)
    rec = kept[fair.id]["verification"]["checks"]["shortcut"]
    # every option is in the context: presence names no option; each constant letter scores once in four
    assert rec["verdict"] == "pass" and rec["scores"]["present"] == 0.0 and rec["chance"] == 0.25
    assert [rec["scores"][f"letter:{x}"] for x in "ABCD"] == [0.0, 1.0, 0.0, 0.0]  # random-equivalent: no vote
    assert rec["gold"] == 1.0 and rec["profile"] == "golongrl"
    assert recompute_verdict(kept[fair.id]["verification"]) == (True, "")


def test_headings_times_numbers_pays_under_golongrl_only(tmp_path: Path) -> None:
    s = _matching()
    golong = measure(s, "subem", "golongrl")
    strict = measure(s, "subem", "strict")
    assert golong is not None and strict is not None
    # 4 headings x 3 numbers = 12 lines hold all 3 gold lines: golongrl 3/3, strict 3/max(3, 12)
    assert golong.scores["headings_x_numbers"] == 1.0
    assert strict.scores["headings_x_numbers"] == pytest.approx(3 / 12)
    _, rej, _ = _run(tmp_path / "g", [s], checks=["gold", "shortcut"])
    assert rej[s.id]["reason"] == "shortcut:headings_x_numbers"
    kept, _, _ = _run(tmp_path / "s", [s], checks=["gold", "shortcut"], profile="strict")
    assert kept[s.id]["verification"]["checks"]["shortcut"]["profile"] == "strict"


def test_listing_every_heading_is_caught_when_the_gold_is_most_of_them(tmp_path: Path) -> None:
    s = _exhaustive()
    b = measure(s, "f1", "golongrl")
    assert b is not None and b.scores["all_headings"] == pytest.approx(2 * 0.75 * 1 / 1.75)  # P 3/4, R 1
    _, rej, _ = _run(tmp_path, [s], checks=["gold", "shortcut"])
    assert rej[s.id]["reason"] == "shortcut:all_headings"
    # raising --max-blind above the gap keeps it; the record re-decides the same way
    kept, _, _ = _run(tmp_path / "lax", [s], checks=["gold", "shortcut"], max_blind=0.9)
    assert recompute_verdict(kept[s.id]["verification"]) == (True, "")


def test_chance_levels_of_orders_match_the_metrics() -> None:
    # NDCG@4 with linear gains over random orders of 4 gold-only items averages ~0.87 (issue 19's figure);
    # Pairwise over random full orders averages 0.5. Seeded draws, so a loose band.
    convs = conversations()
    items = _texts(convs[0])[:4]
    ndcg = _sample("graded_ranking", [("Chat 0", items)], "Rank these.", {"doc_ids": items},
                   "[Answer]\n" + "\n".join(items))
    ndcg.meta["items"] = items[::-1]
    chances = [measure(ndcg, "ndcg", "golongrl", seed).chance for seed in range(6)]  # type: ignore[union-attr]
    assert sum(chances) / 6 == pytest.approx(0.87, abs=0.03)
    labels = [f"P{i}" for i in range(1, 6)]
    q = "Order these.\n\n" + "\n".join(f'{p}. "{t}"' for p, t in zip(labels, _texts(convs[1]), strict=False))
    pw = _sample("sequence_ordering", [("Chat 1", _texts(convs[1]))], q, {"doc_ids": labels},
                 "[Answer]\n" + "\n".join(labels))
    chances = [measure(pw, "pairwise", "golongrl", seed).chance for seed in range(6)]  # type: ignore[union-attr]
    assert sum(chances) / 6 == pytest.approx(0.5, abs=0.06)


def test_check_shortcut_ignores_random_equivalent_strategies() -> None:
    ok, reason, ev = check_shortcut({"letter:B": 1.0, "question_order": 1.0, "longest": 0.5}, 0.25, 0.3)
    assert ok and reason == "" and ev["threshold"] == pytest.approx(0.55)
    # chance 0.7 + 0.5 is capped at 1.0: only a perfect blind score rejects
    assert check_shortcut({"longest": 0.99}, 0.7, 0.5)[0]
    ok, reason, ev = check_shortcut({"letter:B": 1.0, "longest": 1.0, "empty": 0.0}, 0.7, 0.5)
    assert not ok and reason == "shortcut:longest" and ev["threshold"] == 1.0 and ev["score"] == 1.0


# ------------------------------------------------------------------------------------------ inconclusive


def _leaky_run(tmp: Path, think: bool, **kw: object) -> tuple[dict, dict, object, Sample]:
    """Two retrieval samples; the solver knows sample 0's answer without its context (a planted leak) and
    answers like a non-thinking model (no </think>) unless `think`."""
    samples = make_samples(per_type=2, tasks=["precise_retrieval"])
    leak = samples[0]

    def reply(body: dict) -> str:
        content = body["messages"][-1]["content"]
        text = leak.answer if content.startswith(leak.meta["question"]) else "I do not know."
        return perfect(text) if think else text

    srv = FakeOpenAIServer(reply=reply, length_rate=float(kw.pop("length_rate", 0.0)))  # type: ignore[arg-type]
    srv.start()
    try:
        endpoint = EndpointConfig(base_url=srv.base_url, cache_path=str(tmp / "llm.sqlite"))
        kept, rej, summary = _run(tmp, samples, checks=["gold", "nocontext"], solver="scripted", endpoint=endpoint,
                                  **kw)
    finally:
        srv.stop()
    return kept, rej, summary, leak


def test_a_reply_the_think_gate_zeroes_is_inconclusive_not_passed(tmp_path: Path) -> None:
    # the failure: the gate zeroes every no-context reply, so the leak hides and all "pass"
    kept, rej, summary, leak = _leaky_run(tmp_path / "gate", think=False)
    assert not rej and len(kept) == 2
    for v in kept.values():
        rec = v["verification"]["checks"]["nocontext"]
        assert rec["verdict"] == "inconclusive" and rec["blind"] == [True] and rec["think_gate"] is True
        assert recompute_verdict(v["verification"]) == (True, "")  # kept, but on no evidence
    assert summary.inconclusive == {"nocontext": 2} and "inconclusive (kept, not passed) nocontext 2" in summary.line
    # matched to the solver (--no-think-gate), the same replies catch the leak and pass the other sample
    kept, rej, summary, leak = _leaky_run(tmp_path / "nogate", think=False, think_gate=False)
    assert rej[leak.id]["reason"] == "answerable_without_context"
    assert [v["verification"]["checks"]["nocontext"]["verdict"] for v in kept.values()] == ["pass"]
    assert not summary.inconclusive
    manifest = json.loads((tmp_path / "nogate" / "v" / "manifest.json").read_text())
    assert manifest["config"]["think_gate"] is False and manifest["config"]["profile"] == "golongrl"


def test_a_reply_cut_by_the_token_limit_is_inconclusive(tmp_path: Path) -> None:
    kept, rej, summary, leak = _leaky_run(tmp_path, think=True, think_gate=False, length_rate=1.0)
    # every reply came back cut at max_tokens: the leak's reply lost half its answer and scores 0
    assert not rej and summary.inconclusive == {"nocontext": 2}
    for v in kept.values():
        rec = v["verification"]["checks"]["nocontext"]
        assert rec["verdict"] == "inconclusive" and rec["errors"] == ["length"]


@pytest.mark.llm
def test_real_local_model_nocontext_rejects_a_planted_leak_and_reports_the_gate_honestly(
        tmp_path: Path, local_llm) -> None:
    """The real SmolLM2 server as no-context solver. The planted sample asks arithmetic any model knows, over a
    real document it does not need: without its context it must still be answered, so the check must reject it.
    SmolLM2 never writes </think>: under the think gate every reply scores 0 for its format, which must be
    reported inconclusive -- the issue's "nocontext passed" for all 130 samples was that."""
    base = make_samples(per_type=1, tasks=["numerical_reasoning"])[0]
    q = "What is 2 + 2? Answer with the number only."
    content = base.prompt[-1]["content"].replace(base.meta["question"], q)
    leak = replace(base, id="smp-planted-leak", prompt=[{"role": "user", "content": content}],
                   ground_truth={**base.ground_truth, "golden_label": "4"}, answer="\\boxed{4}",
                   meta={**base.meta, "question": q})
    endpoint = EndpointConfig(base_url=local_llm.base_url, max_in_flight=1, cache_path=str(tmp_path / "c.sqlite"))
    common = {"checks": ["gold", "nocontext"], "solver": local_llm.model, "max_tokens": 32, "endpoint": endpoint}
    kept, rej, summary = _run(tmp_path / "gate", [leak], **common)
    assert not rej and kept[leak.id]["verification"]["checks"]["nocontext"]["verdict"] == "inconclusive"
    assert summary.inconclusive == {"nocontext": 1}  # type: ignore[attr-defined]
    kept, rej, summary = _run(tmp_path / "nogate", [leak], think_gate=False, **common)
    assert rej[leak.id]["reason"] == "answerable_without_context", kept
    d = json.loads(rej[leak.id]["detail"])
    assert d["model"] == local_llm.model and d["rewards"] == [1.0] and d["think_gate"] is False


def test_card_reports_chance_strategies_and_gold_per_type_under_the_export_profile(tmp_path: Path) -> None:
    from golong_data.config import ExportConfig
    from golong_data.export.stage import run_export

    fair, match = _mcq(all_present=True), _matching()
    _run(tmp_path, [fair, match], checks=["gold", "shortcut"], profile="strict")  # both kept under strict
    for prof in ("strict", "golongrl"):
        out = tmp_path / f"export-{prof}"
        run_export(tmp_path / "v", out, ExportConfig(size=2, val_per_type=0, plots=False, profile=prof))
        card = (out / "README.md").read_text()
        rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]]
                for r in card.split("## Shortcuts")[1].split("## Provenance")[0].splitlines() if r.startswith("| ")}
        assert rows["comprehension"][:3] == ["1", "0.250", "1.000"]  # rows, chance, gold
        assert "present 0.000" in rows["comprehension"][-1] and "letter:B* 1.000" in rows["comprehension"][-1]
        hxn = "headings_x_numbers 1.000" if prof == "golongrl" else "headings_x_numbers 0.250"
        assert hxn in rows["structured_matching"][-1], rows["structured_matching"]
        # the best content strategy, by how much it beats chance: the quirk's enumeration under golongrl only
        assert rows["structured_matching"][3].startswith("headings_x_numbers +0.7") is (prof == "golongrl")
        assert ("Profile notes" in card and "every heading x every item number" in card) is (prof == "golongrl")
        assert json.loads((out / "manifest.json").read_text())["config"]["profile"] == prof


def test_replies_the_reward_cannot_read_are_blind() -> None:
    from golong_data.rewards import get_profile
    from golong_data.verify.stage import unreadable

    p = get_profile("golongrl", think_gate=False)
    assert unreadable("accuracy", "I think it is B.", p) and not unreadable("accuracy", "The correct answer is (B)", p)
    assert unreadable("math_verify", "four", p) and not unreadable("math_verify", "2 + 2 = 4", p)
    assert unreadable("iou", "a table", p) and not unreadable("iou", '<answer>{"data": []}</answer>', p)
    assert not unreadable("f1", "anything at all", p)  # list metrics read any line
