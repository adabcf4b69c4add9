"""verify --shard i/N + `merge verify` == one unsharded verify, byte for byte (issue 11, the verify part).

The samples are real: the fixture documents through the real ingest, chunk and synthesize stages, plus a
repeated id (three lines of one id) and an unknown task type. The LLM checks run against the fake
OpenAI-compatible server with a scripted solver whose answers are a hash of the request, so a sample's fate
depends only on what is sent: a shard that sent other prompts (say, other distractors) would write other bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shards_helpers import N, same_bytes
from typer.testing import CliRunner

import golong_data.verify.stage as V
from golong_data.cli import app
from golong_data.config import EndpointConfig, VerifyConfig
from golong_data.errors import GolongError
from golong_data.pipeline.shard import in_shard
from golong_data.pipeline.stage import read_manifest
from golong_data.verify.merge import merge_verify
from golong_data.verify.stage import THINK_PREFIX, run_verify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FILES = ("verified.jsonl", "rejected.jsonl")
CHECKS = ["gold", "nocontext", "robustness", "band"]
REPEATED = 1  # the input line whose id comes back twice


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(ingest dir, dir of samples.jsonl): real samples over three fixture sources, 4K contexts, and bad lines."""
    from golong_data.chunk import run_chunk
    from golong_data.ingest.stage import run_ingest
    from golong_data.synth.stage import SynthConfig, run_synthesize

    w = tmp_path_factory.mktemp("verify-shards")
    run_ingest([FIXTURES / "dialogues", FIXTURES / "papers" / "coin__coin.pdf",
                FIXTURES / "papers" / "zoo__zoo-quickref.pdf"], w / "ingest", workers=1)
    run_chunk(w / "ingest", w / "chunk", 512)
    run_synthesize(w / "chunk", w / "synth", SynthConfig(per_type=3, buckets=["4k"], seed=0))
    lines = (w / "synth" / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 16
    bogus = {**json.loads(lines[3]), "id": "smp-unknown-type", "task_type": "poetry"}
    # one id three times: right after itself (same chunk) and at the end (a later chunk when CHUNK is small)
    lines = [*lines[: REPEATED + 1], lines[REPEATED], *lines[REPEATED + 1 :], json.dumps(bogus), lines[REPEATED]]
    (w / "input").mkdir()
    (w / "input" / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return w / "ingest", w / "input"


def solver(samples_dir: Path) -> Callable[[dict[str, Any]], str]:
    """A deterministic solver: the gold answer or a wrong one, by a hash of the request (messages, seed, T).

    Without the context it is right 1 time in 6 (a leak), with it 1 time in 2: pass@k under distractors and
    the band then reject some samples and keep most."""
    gold = {}
    for line in (samples_dir / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        gold[s["meta"]["question"]] = s["answer"]

    def reply(body: dict[str, Any]) -> str:
        content = body["messages"][-1]["content"]
        q = max(gold, key=content.rfind)  # the question asked is the one nearest the prompt's end
        keep = {k: body.get(k) for k in ("messages", "temperature", "seed")}
        u = int(hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:8], 16) / 16**8
        right = u < (1 / 6 if content.startswith(q) else 1 / 2)
        return THINK_PREFIX + (gold[q] if right else "I could not find it.")

    return reply


def _cfg(srv: Any, cache: Path, docs: Path) -> VerifyConfig:
    return VerifyConfig(checks=CHECKS, solver="fake", k=3, band="1-2", documents=str(docs),
                        endpoint=EndpointConfig(base_url=srv.base_url, cache_path=str(cache), max_in_flight=4))


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def _shard_of(rid: str) -> int:
    return next(i for i in range(N) if in_shard(rid, (i, N)))


@pytest.mark.parametrize("chunk,shared_cache", [(512, True), (5, False)], ids=["one-chunk-shared-cache",
                                                                                 "chunks-of-5-own-caches"])
def test_verify_shards_merge_to_the_single_run(synth: tuple[Path, Path], fake_server: Any, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch, chunk: int,
                                               shared_cache: bool) -> None:
    docs, syn = synth
    monkeypatch.setattr(V, "CHUNK", chunk)
    srv = fake_server(reply=solver(syn))
    cache = (lambda name: tmp_path / "llm.sqlite") if shared_cache else (lambda name: tmp_path / f"{name}.sqlite")
    single = run_verify(syn, tmp_path / "single", _cfg(srv, cache("single"), docs))
    shards = [tmp_path / f"v.{i}" for i in range(N)]
    for i, d in enumerate(shards):
        run_verify(syn, d, _cfg(srv, cache(f"shard{i}"), docs), shard=f"{i}/{N}")

    line = merge_verify(shards, tmp_path / "merged")
    assert line.startswith(f"verify: merged {N} shards, kept {single.kept}, rejected {single.rejected}")
    for name in FILES:
        same_bytes(tmp_path / "single" / name, tmp_path / "merged" / name)
    merge_verify(shards[::-1], tmp_path / "reversed")  # the argument order does not matter
    for name in FILES:
        same_bytes(tmp_path / "single" / name, tmp_path / "reversed" / name)
    m = read_manifest(tmp_path / "merged")
    assert m is not None and m["config"]["shard"] is None and m["config"]["merged_shards"] == N

    # The case is not trivial: both files hold lines, several checks reject, the repeated id is caught twice.
    kept, rej = _lines(tmp_path / "single" / FILES[0]), _lines(tmp_path / "single" / FILES[1])
    n_inputs = len((syn / "samples.jsonl").read_text(encoding="utf-8").splitlines())
    assert kept and rej and len(kept) + len(rej) == n_inputs
    reasons = [r["reason"] for r in rej]
    assert reasons.count("duplicate_id") == 2 and "unknown_task_type" in reasons
    assert len({r for r in reasons if r not in ("duplicate_id", "unknown_task_type")}) >= 2, reasons
    # Each shard did a strict, non-empty part of the work, and only its own samples.
    for i, d in enumerate(shards):
        ids = [o["id"] for o in _lines(d / FILES[0])] + [r["source"] for r in _lines(d / FILES[1])]
        assert 0 < len(ids) < n_inputs and {_shard_of(x) for x in ids} == {i}
    # The robustness pool is the input chunk, not the shard: some kept sample's distractors come from another
    # shard (so a pool drawn from the shard alone could not have written these bytes).
    robust = [(s["id"], s["verification"]["checks"]["robustness"]) for s in kept]
    drawn = [(sid, c["distractors"]) for sid, c in robust if c["verdict"] == "pass"]
    assert drawn and any(_shard_of(o) != _shard_of(sid) for sid, ds in drawn for o in ds)


def test_merge_verify_refuses_what_is_not_one_run(synth: tuple[Path, Path], fake_server: Any,
                                                  tmp_path: Path) -> None:
    docs, syn = synth
    srv = fake_server(reply=solver(syn))
    cfg = VerifyConfig(checks=["gold"], documents=str(docs))
    shards = [tmp_path / f"v.{i}" for i in range(N)]
    for i, d in enumerate(shards):
        run_verify(syn, d, cfg, shard=f"{i}/{N}")
    with pytest.raises(GolongError, match=r"are not 0/N \.\. N-1/N"):
        merge_verify(shards[:-1], tmp_path / "m")
    run_verify(syn, tmp_path / "whole", cfg)
    with pytest.raises(GolongError, match="not a sharded run"):
        merge_verify([*shards[:-1], tmp_path / "whole"], tmp_path / "m")
    run_verify(syn, shards[-1], _cfg(srv, tmp_path / "c.sqlite", docs), shard=f"{N - 1}/{N}")
    with pytest.raises(GolongError, match="different settings"):
        merge_verify(shards, tmp_path / "m")
    run_verify(syn, shards[-1], cfg, shard=f"{N - 1}/{N}")
    merge_verify(shards, tmp_path / "m")  # all N, one config: fine
    # an input other than the one the shards read (here: one more line): its order may differ, so no guessing
    other = tmp_path / "other.jsonl"
    other.write_text((syn / "samples.jsonl").read_text(encoding="utf-8") + "\n", encoding="utf-8")
    with pytest.raises(GolongError, match="changed since the shards read it"):
        merge_verify(shards, tmp_path / "m2", order_from=other)
    merge_verify(shards, tmp_path / "m3", order_from=syn)  # the same file, named by its directory: fine


def test_cli_verify_shard_and_merge_verify(synth: tuple[Path, Path], fake_server: Any, tmp_path: Path) -> None:
    docs, syn = synth
    srv = fake_server(reply=solver(syn))
    runner = CliRunner()
    common = ["--in", str(syn), "--checks", "gold,nocontext,band", "--base-url", srv.base_url, "--solver", "fake",
              "--k", "3", "--band", "1-2", "--documents", str(docs)]
    res = runner.invoke(app, ["verify", *common, "--out", str(tmp_path / "single")])
    assert res.exit_code == 0, res.output
    shards = [str(tmp_path / f"v.{i}") for i in range(N)]
    for i, d in enumerate(shards):
        res = runner.invoke(app, ["verify", *common, "--out", d, "--shard", f"{i}/{N}"])
        assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["merge", "verify", *shards, "--out", str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    assert f"verify: merged {N} shards" in res.output
    for name in FILES:
        same_bytes(tmp_path / "single" / name, tmp_path / "merged" / name)
    assert _lines(tmp_path / "merged" / FILES[0]) and _lines(tmp_path / "merged" / FILES[1])
    res = runner.invoke(app, ["merge", "verify", *shards[:-1], "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "are not 0/N .. N-1/N" in res.output
    res = runner.invoke(app, ["verify", *common, "--out", str(tmp_path / "y"), "--shard", "4/4"])
    assert res.exit_code == 2 and "0 <= i < N" in res.output
