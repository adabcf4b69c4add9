"""kill -9 `golong-data run` at seeded points across every stage, rerun to completion, and compare with an
uninterrupted run: every stage's outputs byte-identical (their manifests' sha256), and the LLM server (the
verify stage's no-context check points at the fake server) answered no prompt twice except those in flight
at a kill.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from killharness import KillHarness, event_tally, leftover_temp_files
from pipeline import FINAL_FILES, gd, run_env, write_config

STAGES = ("ingest", "chunk", "dedup", "synthesize", "verify", "export")
MAX_IN_FLIGHT = 4  # verify.max_in_flight in pipeline.write_config


def _outputs(work: Path) -> dict[str, dict[str, str]]:
    """{stage: {output file: sha256}} from the manifests (written last, so a finished stage has one)."""
    out = {}
    for s in STAGES:
        m = json.loads((work / s / "manifest.json").read_text(encoding="utf-8"))
        out[s] = {k: v for k, v in m["outputs"].items() if k != "README.md"}
    return out


def _reference(root: Path, fake_server) -> tuple[dict[str, dict[str, str]], dict[str, int]]:  # noqa: ANN001
    """The uninterrupted run, in work dir `ref` beside the crashed ones (same corpus path: documents record it),
    with the number of events (records written per stage, LLM answers stored) a kill can be planned at."""
    srv = fake_server()
    cfg = write_config(root, work="ref", llm_url=srv.base_url)
    r, tally = event_tally(root, cfg, run_env(root))
    assert r.returncode == 0, r.stderr[-3000:]
    assert srv.requests > 0
    assert max(srv.answered.values()) == 1
    assert set(STAGES) <= set(tally) and tally.get("llm", 0) > 0, tally
    return _outputs(root / "ref"), tally


def kill_plan(seed: int, n: int, tally: dict[str, int], chains: int = 1) -> list[list[tuple[str, int]]]:
    """n kill points over `chains` chained runs, stages in pipeline order (each rerun resumes where the last was
    killed), spread so every stage gets some; the event is uniform over that stage's writes. A chain's first
    verify kill lands on an LLM answer instead (scope "llm": mid-way through the solver calls, the case where
    in-flight requests are lost); later ones on verify's writes, since answers replayed from the cache are not
    counted again."""
    rng = random.Random(seed)
    stages = list(STAGES) * (n // len(STAGES)) + rng.sample(STAGES, n % len(STAGES))
    rng.shuffle(stages)
    per_chain = [sorted(stages[i::chains], key=STAGES.index) for i in range(chains)]
    plans = []
    for chain in per_chain:
        plan, llm_used = [], False
        for s in chain:
            if s == "verify" and not llm_used:
                plan.append(("llm", rng.randint(1, tally["llm"])))
                llm_used = True
            else:
                plan.append((s, rng.randint(1, tally[s])))
        plans.append(plan)
    return plans


def _crash_run(tmp_path: Path, fake_server, seed: int, n_kills: int, chains: int = 1) -> dict:  # noqa: ANN001
    ref_out, tally = _reference(tmp_path, fake_server)
    plans = kill_plan(seed, n_kills, tally, chains)
    killed_total = 0
    for c, points in enumerate(plans):
        root, work = tmp_path, f"crash{c}"
        srv = fake_server()
        cfg = write_config(root, work=work, llm_url=srv.base_url)
        h = KillHarness(root, cfg, run_env(root))
        for scope, event in points:
            h.kill_at(scope, event)
        killed = [r for r in h.results if r.killed]
        killed_total += len(killed)
        print(f"chain {c}: killed at", [(r.scope, r.event) for r in killed])
        missed = [(r.scope, r.event, r.stderr_tail) for r in h.results if not r.killed]
        assert not missed, f"chain {c}: runs that ended before their kill point: {missed}"
        h.finish()
        # byte-identical to the uninterrupted run, stage by stage
        assert _outputs(root / work) == ref_out, f"chain {c}: {[(r.scope, r.event) for r in h.results]}"
        for name in FINAL_FILES:
            assert (root / work / name).read_bytes() == (root / "ref" / name).read_bytes(), name
        # no prompt answered twice, except those in flight when a kill landed during verify
        dup = sum(n - 1 for n in srv.answered.values())
        kills_in_verify = sum(1 for r in killed if r.scope in ("verify", "llm"))
        assert dup <= kills_in_verify * MAX_IN_FLIGHT, (dup, kills_in_verify)
        # a further rerun does nothing and asks the server nothing
        before = srv.requests
        again = gd(["run", str(cfg)], root)
        assert again.returncode == 0 and "ran nothing" in again.stderr, again.stderr[-2000:]
        assert srv.requests == before
        # stale temp files from the kills are dot-files (never read, never fingerprinted); bounded per kill
        # (that they are not cleaned up at all is test_stale_temp_files_are_cleaned_on_rerun below)
        leftovers = leftover_temp_files(root / work)
        assert all(p.name.startswith(".") for p in leftovers)
        assert len(leftovers) <= 4 * len(killed), leftovers
    return {"planned": sum(map(len, plans)), "killed": killed_total}


def test_kill9_at_seeded_points_then_resume_is_byte_identical(tmp_path: Path, fake_server) -> None:  # noqa: ANN001
    stats = _crash_run(tmp_path, fake_server, seed=10, n_kills=4)
    assert stats == {"planned": 4, "killed": 4}, stats  # every planned kill was made


@pytest.mark.slow
def test_kill9_at_24_seeded_points_across_all_stages(tmp_path: Path, fake_server) -> None:  # noqa: ANN001
    stats = _crash_run(tmp_path, fake_server, seed=2026, n_kills=24, chains=4)
    assert stats == {"planned": 24, "killed": 24}, stats


def test_stale_temp_files_are_cleaned_on_rerun(tmp_path: Path) -> None:
    import subprocess
    import sys

    crash = (
        "import os, sys\n"
        "from golong_data.pipeline.stage import StageRun\n"
        "with StageRun('t', sys.argv[1], inputs=[], config={}) as run:\n"
        "    run.writer('out.jsonl').write({'a': 1})\n"
        "    os._exit(9)  # like kill -9: no cleanup runs\n"
    )
    for _ in range(3):
        assert subprocess.run([sys.executable, "-c", crash, str(tmp_path / "s")]).returncode == 9
    from golong_data.pipeline.stage import StageRun

    with StageRun("t", tmp_path / "s", inputs=[], config={}) as run:
        run.writer("out.jsonl").write({"a": 1})
    assert (tmp_path / "s" / "manifest.json").exists()
    assert leftover_temp_files(tmp_path / "s") == []
