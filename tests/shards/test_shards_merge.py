"""Sharded + merged == single run, byte for byte; cross-shard duplicates found; the local executor's retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shards_helpers import FILES, MAX_TOKENS, THRESHOLD, N, same_bytes
from typer.testing import CliRunner

from golong_data.cli import app
from golong_data.errors import GolongError
from golong_data.pipeline.executor import LocalExecutor, Task
from golong_data.pipeline.shard import in_shard


def _rejected(d: Path) -> list[dict]:
    return [json.loads(x) for x in (d / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]


def _shard_of(key: str) -> int:
    return next(i for i in range(N) if in_shard(key, (i, N)))


@pytest.mark.parametrize("stage", list(FILES))
def test_sharded_local_run_equals_single_run(single: Path, sharded_local: Path, stage: str) -> None:
    for name in FILES[stage]:
        same_bytes(single / stage / name, sharded_local / stage / name)
    # ...and the shards really split the work: each shard wrote part, not all, of the documents.
    if stage in ("ingest", "chunk"):
        counts = [len((sharded_local / f"{stage}.shards" / str(i) / "documents.jsonl").read_bytes().splitlines())
                  for i in range(N)]
        total = len((single / stage / "documents.jsonl").read_bytes().splitlines())
        assert all(0 < c < total for c in counts), counts


def test_cross_shard_duplicate_document_is_rejected_by_merge(single: Path, sharded_local: Path, corpus: Path) -> None:
    copy = str(corpus / "copy-persuasion.epub")
    rej = [r for r in _rejected(sharded_local / "ingest") if r["source"] == copy]
    assert [r["reason"] for r in rej] == ["duplicate_document"]
    assert rej[0]["detail"] == f"same text as {corpus / 'books' / 'persuasion.epub'}"
    # the shard that read the copy kept it: only the merge can know it is a duplicate
    shard = sharded_local / "ingest.shards" / str(_shard_of("copy-persuasion.epub"))
    assert copy in (shard / "documents.jsonl").read_text(encoding="utf-8")


def test_near_duplicates_across_shards_are_found(sharded_local: Path) -> None:
    rej = _rejected(sharded_local / "dedup")
    near_docs = [json.loads(r["detail"]) for r in rej if r["reason"] == "near_duplicate" and r["source"].startswith(
        "doc-")]
    pairs = [{Path(d["path"]).name, Path(d["kept_path"]).name} for d in near_docs]
    assert {"a.txt", "near-a.txt"} in pairs, near_docs
    # chunk-level: some chunk dropped for a chunk of a document that another chunk shard holds
    chunk_drops = [json.loads(r["detail"]) for r in rej if r["reason"] in ("near_duplicate", "exact_duplicate")
                   and "kept_doc_id" in r["detail"]]
    assert any(_shard_of(d["doc_id"]) != _shard_of(d["kept_doc_id"]) for d in chunk_drops), chunk_drops
    # no shard could have found them alone: its chunks' kept copies are elsewhere
    assert len(chunk_drops) >= 3


def test_merge_cli_equals_single_and_checks_its_shards(single: Path, sharded_local: Path, corpus: Path,
                                                      tmp_path: Path) -> None:
    runner = CliRunner()
    shards = [str(sharded_local / "chunk.shards" / str(i)) for i in range(N)]
    res = runner.invoke(app, ["merge", "chunk", *shards, "--out", str(tmp_path / "chunk")])
    assert res.exit_code == 0, res.output
    for name in FILES["chunk"]:
        same_bytes(single / "chunk" / name, tmp_path / "chunk" / name)
    res = runner.invoke(app, ["merge", "chunk", *shards[:-1], "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "are not 0/N .. N-1/N" in res.output
    ing = [str(sharded_local / "ingest.shards" / str(i)) for i in range(N)]
    res = runner.invoke(app, ["merge", "ingest", *ing, "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "--corpus" in res.output
    res = runner.invoke(app, ["merge", "ingest", *ing, "--out", str(tmp_path / "ingest"), "--corpus", str(corpus)])
    assert res.exit_code == 0, res.output
    for name in FILES["ingest"]:
        same_bytes(single / "ingest" / name, tmp_path / "ingest" / name)


def test_dedup_shards_cli_equals_single(single: Path, sharded_local: Path, tmp_path: Path) -> None:
    shards = [str(sharded_local / "chunk.shards" / str(i)) for i in range(N)]
    res = CliRunner().invoke(app, ["dedup-shards", *shards, "--out", str(tmp_path / "dedup"), "--threshold",
                                   str(THRESHOLD), "--workers", "1"])
    assert res.exit_code == 0, res.output
    for name in FILES["dedup"]:
        same_bytes(single / "dedup" / name, tmp_path / "dedup" / name)


def test_two_shards_merge_too(single: Path, tmp_path: Path) -> None:
    from golong_data.chunk import merge_chunk, run_chunk

    dirs = [tmp_path / str(i) for i in range(2)]
    for i, d in enumerate(dirs):
        run_chunk(single / "ingest", d, MAX_TOKENS, shard=f"{i}/2")
    merge_chunk(list(reversed(dirs)), tmp_path / "merged")  # the order the shards are given does not matter
    for name in FILES["chunk"]:
        same_bytes(single / "chunk" / name, tmp_path / "merged" / name)


# ---------------------------------------------------------------- the local executor
def test_local_executor_retries_a_killed_worker_without_repeating_llm_calls(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "llm"))
    from fake_openai_server import FakeOpenAIServer

    # 0.3 s per answer: task b is still waiting on answers when task a's worker dies
    with FakeOpenAIServer(latency=0.3) as srv:
        task = Task("llm shard", "shard_llm_task:llm_task", {"base_url": srv.base_url, "n": 8,
                    "cache_path": str(tmp_path / "cache.sqlite"), "marker": str(tmp_path / "killed")})
        (tmp_path / "b-runs-through").write_text("")  # task b does not die itself
        other = Task("llm shard b", "shard_llm_task:llm_task", {**task.kwargs, "prefix": "other",
                                                                "marker": str(tmp_path / "b-runs-through")})
        out = LocalExecutor(workers=2, retries=2, progress=False).run([task, other])
    assert (tmp_path / "killed").exists()  # the first attempt of task a did die
    assert len(out[0]) == len(out[1]) == 8 and out[0] != out[1]
    # 16 distinct prompts, each sent once: task a's retry replayed its killed attempt's answers from the
    # shared cache, and task b was not taken down (and made to resend) when a's worker died
    assert srv.requests == 16 and set(srv.seen.values()) == {1}, (srv.requests, srv.seen, srv.fates)


def test_local_executor_reports_a_task_that_keeps_failing() -> None:
    bad = Task("bad shard", "golong_data.pipeline.stages:get_stage", {"name": "no-such-stage"})
    with pytest.raises(GolongError, match="'bad shard' failed 2 times: no stage 'no-such-stage'"):
        LocalExecutor(workers=1, retries=1, progress=False).run([bad])


def test_merged_llm_caches_replay_every_nodes_calls(tmp_path: Path) -> None:
    import sqlite3
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "llm"))
    from fake_openai_server import FakeOpenAIServer

    from golong_data.llm import LLMConfig, LLMRequest, run_batch

    def cfg(url: str, cache: Path) -> LLMConfig:
        return LLMConfig(base_url=url, model="fake", cache_path=cache, progress=False, quiet=True)

    reqs = [LLMRequest(key=f"q{i}", messages=[{"role": "user", "content": f"node question {i}"}]) for i in range(6)]
    with FakeOpenAIServer() as srv:
        first = [r.text for r in run_batch(reqs[:3], cfg(srv.base_url, tmp_path / "a" / "llm_cache.sqlite"))]
        first += [r.text for r in run_batch(reqs[3:], cfg(srv.base_url, tmp_path / "b" / "llm_cache.sqlite"))]
    res = CliRunner().invoke(app, ["merge", "llm-cache", str(tmp_path / "a"), str(tmp_path / "b" / "llm_cache.sqlite"),
                                   "--out", str(tmp_path / "merged")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["merge", "llm-cache", str(tmp_path / "a"), "--out", str(tmp_path / "merged")])
    assert "0 responses" in res.output  # merging again adds nothing
    db = sqlite3.connect(tmp_path / "merged" / "llm_cache.sqlite")
    assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 6
    with FakeOpenAIServer() as srv2:  # a fresh server: any call that reaches it was not replayed from the merge
        again = run_batch(reqs, cfg(srv2.base_url, tmp_path / "merged" / "llm_cache.sqlite"))
    assert srv2.requests == 0 and all(r.cached for r in again)
    assert [r.text for r in again] == first


def test_ingest_merge_points_every_copy_at_the_first_file(tmp_path: Path) -> None:
    """a.txt (shard 0) and its copies h.txt, i.txt (both shard 1): shard 1 alone calls i.txt a copy of h.txt;
    the single run, and so the merge, name a.txt for both."""
    from golong_data.ingest.merge import merge_ingest
    from golong_data.ingest.stage import run_ingest

    corpus = tmp_path / "c"
    corpus.mkdir()
    text = "A short story about a lighthouse keeper.\n\nShe kept the lamp burning through the storm.\n"
    for name in ("a.txt", "h.txt", "i.txt"):
        (corpus / name).write_text(text, encoding="utf-8")
    (corpus / "b.txt").write_text("Another text entirely, about bees.\n", encoding="utf-8")
    assert [in_shard(n, (1, 2)) for n in ("a.txt", "h.txt", "i.txt")] == [False, True, True]
    run_ingest([corpus], tmp_path / "single", workers=1)
    for i in range(2):
        run_ingest([corpus], tmp_path / str(i), shard=f"{i}/2", workers=1)
    assert [r["detail"] for r in _rejected(tmp_path / "1")] == [f"same text as {corpus / 'h.txt'}"]
    merge_ingest([tmp_path / "0", tmp_path / "1"], tmp_path / "merged", [corpus])
    for name in ("documents.jsonl", "rejected.jsonl"):
        same_bytes(tmp_path / "single" / name, tmp_path / "merged" / name)
    details = {Path(r["source"]).name: r["detail"] for r in _rejected(tmp_path / "merged")}
    assert details == {"h.txt": f"same text as {corpus / 'a.txt'}", "i.txt": f"same text as {corpus / 'a.txt'}"}


def test_dedup_shards_decontaminates_like_the_single_run(single: Path, sharded_local: Path, tmp_path: Path) -> None:
    """With --against, the sharded path drops the same chunks and marks the same spans on kept documents."""
    from golong_data.dedup.stage import run_dedup

    chunk = json.loads((single / "chunk" / "chunks.jsonl").read_text(encoding="utf-8").splitlines()[5])
    docs = {d["id"]: d for d in map(json.loads, (single / "chunk" / "documents.jsonl").read_text().splitlines())}
    quote = " ".join(docs[chunk["doc_id"]]["text"][chunk["start"] : chunk["end"]].split()[3:20])
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"context": f"unrelated words then {quote} and more"}) + "\n", encoding="utf-8")

    run_dedup(single / "chunk", tmp_path / "one", threshold=THRESHOLD, against=[bench])
    shards = [str(sharded_local / "chunk.shards" / str(i)) for i in range(N)]
    res = CliRunner().invoke(app, ["dedup-shards", *shards, "--out", str(tmp_path / "many"), "--threshold",
                                   str(THRESHOLD), "--workers", "1", "--against", str(bench)])
    assert res.exit_code == 0, res.output
    kept = [json.loads(x) for x in (tmp_path / "one" / "documents.jsonl").read_text().splitlines()]
    assert any(d["quality"].get("contaminated") for d in kept if d["id"] == chunk["doc_id"])
    for name in FILES["dedup"]:
        same_bytes(tmp_path / "one" / name, tmp_path / "many" / name)
