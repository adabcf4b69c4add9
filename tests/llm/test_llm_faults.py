"""The client against the fault-injecting fake server: nothing lost, nothing twice, retries, re-asks, budget."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from fake_openai_server import ISSUE_SCHEDULE, content_hash
from llm_test_helpers import fast_config

from golong_data.errors import GolongError
from golong_data.llm import BudgetExceeded, LLMRequest, run_batch
from golong_data.llm.cache import LLMCache
from golong_data.llm.client import BatchStats

KNOWN_REASONS = {"length", "rate_limited", "server_error", "timeout", "malformed_response", "connection_error"}


def _reqs(n: int, prefix: str = "q") -> list[LLMRequest]:
    return [LLMRequest(key=f"item-{i}", messages=[{"role": "user", "content": f"{prefix} {i}"}], max_tokens=16)
            for i in range(n)]


def _wire(model: str, req: LLMRequest) -> dict:
    """The body the client puts on the wire (what the fake server hashes), written out independently."""
    return {"model": model, "messages": req.messages, "temperature": 0.0, "max_tokens": req.max_tokens,
            "seed": 0}


def test_1000_items_under_the_issue_fault_schedule(fake_server, tmp_path: Path) -> None:
    srv = fake_server(faults=ISSUE_SCHEDULE, length_rate=0.05, latency=0.005, hang_s=0.5, retry_after="0.2")
    cfg = fast_config(srv, tmp_path, max_in_flight=32)
    reqs = _reqs(1000)
    stats = BatchStats()
    results = run_batch(reqs, cfg, stage="faults", stats=stats)

    # Every item ends as exactly one result, in order.
    assert [r.key for r in results] == [r.key for r in reqs]
    ok = [r for r in results if r.ok]
    failed = [r for r in results if not r.ok]
    assert len(ok) + len(failed) == 1000
    assert {r.error for r in failed} <= KNOWN_REASONS
    # Every fault kind was really injected and survived by retrying.
    assert all(srv.fates[f] > 0 for f in ("rate_limit", "server_error", "hang", "malformed"))
    assert len(ok) > 900
    # The answers are the server's answers for exactly these prompts.
    for req, r in zip(reqs, results, strict=True):
        h = content_hash(_wire("fake", req))
        if r.ok:
            assert r.text == f"answer {h[:12]}" and h not in srv.length_items
        elif r.error == "length":
            assert h in srv.length_items
    assert sum(r.error == "length" for r in failed) > 0
    # None twice: no prompt was answered (paid) more than once.
    assert max(srv.answered.values()) == 1
    # Failures are ledgered with their reasons; the ledger has one outcome row per item.
    with LLMCache(cfg.cache_path) as cache:
        ledgered = cache.failures()
        rows = cache.db.execute("SELECT item_key, ok FROM outcomes").fetchall()
    assert sorted(f["item_key"] for f in ledgered) == sorted(r.key for r in failed)
    assert all(f["reason"] for f in ledgered)
    assert len(rows) == 1000 and len({k for k, _ in rows}) == 1000
    # Concurrency backed off under the 429s: the AIMD limit was cut well below the maximum.
    assert stats.cuts > 0 and stats.min_limit <= 32 / 4


def test_rerun_is_served_from_cache_with_zero_requests(fake_server, tmp_path: Path) -> None:
    srv = fake_server()
    cfg = fast_config(srv, tmp_path)
    first = run_batch(_reqs(50), cfg)
    n = srv.requests
    assert n == 50 and not any(r.cached for r in first)
    second = run_batch(_reqs(50), cfg)
    assert srv.requests == n  # zero HTTP requests
    assert all(r.cached for r in second)
    assert [(r.text, r.usage) for r in second] == [(r.text, r.usage) for r in first]


def test_duplicates_in_a_batch_are_sent_once(fake_server, tmp_path: Path) -> None:
    srv = fake_server(latency=0.02)
    reqs = [LLMRequest(key=f"k{i}", messages=[{"role": "user", "content": "same"}]) for i in range(10)]
    results = run_batch(reqs, fast_config(srv, tmp_path))
    assert srv.requests == 1
    assert len({r.text for r in results}) == 1 and sum(not r.cached for r in results) == 1


def test_refresh_calls_again_and_no_cache_writes_nothing(fake_server, tmp_path: Path) -> None:
    srv = fake_server()
    cfg = fast_config(srv, tmp_path)
    run_batch(_reqs(5), cfg)
    run_batch(_reqs(5), fast_config(srv, tmp_path, refresh=True))
    assert srv.requests == 10
    assert sum(srv.answered.values()) == 10
    with LLMCache(cfg.cache_path) as cache:
        assert cache.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 10  # append-only: newest wins
    nc = fast_config(srv, tmp_path, cache_path=tmp_path / "nc.sqlite", no_cache=True)
    run_batch(_reqs(5), nc)
    run_batch(_reqs(5), nc)
    assert srv.requests == 20
    with LLMCache(nc.cache_path) as cache:
        assert cache.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_invalid_json_is_reasked_and_the_chain_replays_from_cache(fake_server, tmp_path: Path) -> None:
    def reply(body: dict) -> str:
        # The first turn answers prose; the re-ask (3 messages) answers valid JSON.
        return "I think it is Paris." if len(body["messages"]) == 1 else '{"answer": "Paris"}'

    srv = fake_server(reply=reply)
    cfg = fast_config(srv, tmp_path)
    req = [LLMRequest(key="a", messages=[{"role": "user", "content": "Capital?"}], json_schema=SCHEMA)]
    [r] = run_batch(req, cfg)
    assert r.ok and r.parsed == {"answer": "Paris"} and r.usage["calls"] == 2
    assert srv.requests == 2
    [again] = run_batch(req, cfg)
    assert srv.requests == 2 and again.cached and again.parsed == {"answer": "Paris"}


def test_schema_failure_after_bounded_reasks_keeps_the_raw_text(fake_server, tmp_path: Path) -> None:
    srv = fake_server(reply=lambda body: '{"city": "Paris"}')  # valid JSON, wrong shape, every time
    cfg = fast_config(srv, tmp_path, max_reasks=2)
    [r] = run_batch([LLMRequest(key="a", messages=[{"role": "user", "content": "?"}], json_schema=SCHEMA)], cfg)
    assert not r.ok and r.error == "schema_invalid"
    assert "missing required property 'answer'" in r.detail and '{"city": "Paris"}' in r.detail
    assert srv.requests == 3  # 1 + 2 re-asks, then it stops
    # The schema travels in the OpenAI json_schema shape to a non-local endpoint.
    with LLMCache(cfg.cache_path) as cache:
        [f] = cache.failures()
    assert f["reason"] == "schema_invalid"


def test_length_truncation_is_a_failure_not_an_answer(fake_server, tmp_path: Path) -> None:
    srv = fake_server(length_rate=1.0)
    [r] = run_batch(_reqs(1), fast_config(srv, tmp_path))
    assert not r.ok and r.error == "length" and r.parsed is None


def test_max_cost_stops_cleanly_and_the_next_run_resumes(fake_server, tmp_path: Path, capsys) -> None:
    # Each call: 8 completion tokens (the fake server's count) at $25,000 per 1M = $0.2 exactly; prompts free.
    srv = fake_server(latency=0.01)
    prices = {"fake": {"input": 0.0, "output": 25_000.0}}
    reqs = _reqs(20)
    capped = fast_config(srv, tmp_path, max_cost=1.0, price_table=prices, max_in_flight=4, quiet=False)
    with pytest.raises(BudgetExceeded, match="rerun with a higher --max-cost"):
        run_batch(reqs, capped, stage="synthesize")
    paid = sum(srv.answered.values())
    assert 0 < paid < 20
    assert paid * 0.2 <= 1.0 + 1e-9  # the cap was never overshot
    with LLMCache(capped.cache_path) as cache:
        [row] = cache.spend(group_by=("stage",))
    assert row["calls"] == paid and row["cost"] == pytest.approx(paid * 0.2)
    # The next run with more budget replays the paid calls for free and finishes the rest.
    results = run_batch(reqs, fast_config(srv, tmp_path, max_cost=10.0, price_table=prices), stage="synthesize")
    assert all(r.ok for r in results) and len(results) == 20
    assert max(srv.answered.values()) == 1 and sum(srv.answered.values()) == 20
    assert sum(r.cached for r in results) == paid
    assert all(r.usage["cost"] == pytest.approx(0.2) for r in results)


def test_max_cost_needs_a_price(fake_server, tmp_path: Path) -> None:
    srv = fake_server()
    with pytest.raises(GolongError, match="needs a price for model 'fake'"):
        run_batch(_reqs(1), fast_config(srv, tmp_path, max_cost=1.0))
    assert srv.requests == 0


def test_dry_run_estimates_without_calling(fake_server, tmp_path: Path, capsys) -> None:
    srv = fake_server()
    cfg = fast_config(srv, tmp_path, price_table={"fake": {"input": 1.0, "output": 2.0}})
    run_batch(_reqs(2), cfg)  # two already cached
    results = run_batch(_reqs(10), fast_config(srv, tmp_path, dry_run=True, quiet=False,
                                               price_table={"fake": {"input": 1.0, "output": 2.0}}))
    assert srv.requests == 2
    err = capsys.readouterr().err
    assert "(dry run): 8 calls to fake (2 more served from cache)" in err
    assert "<= 128 completion tokens" in err  # 8 calls x max_tokens 16
    assert [r.error for r in results] == [None, None] + ["dry_run"] * 8


def test_bad_request_fails_the_item_and_the_key_is_never_stored(fake_server, tmp_path: Path, monkeypatch) -> None:
    secret = "sk-test-THIS-IS-SECRET-1234567890"
    monkeypatch.setenv("GOLONG_TEST_KEY", secret)

    def status_for(body: dict, headers: dict) -> tuple[int, str] | None:
        if body["messages"][0]["content"] == "q 3":  # echo the key back, as some servers do in errors
            return 400, json.dumps({"error": {"message": f"bad request from {headers.get('authorization')}"}})
        return None

    srv = fake_server(status_for=status_for)
    cfg = fast_config(srv, tmp_path, api_key_env="GOLONG_TEST_KEY")
    results = run_batch(_reqs(5), cfg)
    assert [r.ok for r in results] == [True, True, True, False, True]
    assert results[3].error == "bad_request" and "HTTP 400" in results[3].detail
    assert secret not in results[3].detail
    for f in (p for p in tmp_path.iterdir() if p.is_file()):  # the cache file and its WAL
        assert secret.encode() not in f.read_bytes(), f


def test_refused_key_stops_the_run_with_a_hint(fake_server, tmp_path: Path) -> None:
    srv = fake_server(status_for=lambda body, headers: (401, '{"error": {"message": "Incorrect API key"}}'))
    with pytest.raises(GolongError, match="refused the API key") as e:
        run_batch(_reqs(20), fast_config(srv, tmp_path, max_in_flight=2))
    assert "OPENAI_API_KEY" in str(e.value)
    assert srv.requests <= 3  # stops at once instead of failing every item


def test_ledger_groups_tokens_by_stage_task_and_model(fake_server, tmp_path: Path) -> None:
    srv = fake_server(usage=(10, 2))
    cfg = fast_config(srv, tmp_path)
    a = [LLMRequest(key=f"a{i}", messages=[{"role": "user", "content": f"a{i}"}], task_type="qa") for i in range(3)]
    b = [LLMRequest(key=f"b{i}", messages=[{"role": "user", "content": f"b{i}"}], task_type="sum") for i in range(2)]
    run_batch(a + b, cfg, stage="synthesize")
    run_batch(a, cfg, stage="verify")  # all cached: costs nothing more
    with LLMCache(cfg.cache_path) as cache:
        rows = cache.spend()
        outcomes = Counter(r[0] for r in cache.db.execute("SELECT stage FROM outcomes"))
    assert rows == [
        {"stage": "synthesize", "task_type": "qa", "model": "fake", "calls": 3, "prompt_tokens": 30,
         "completion_tokens": 6, "cost": 0.0},
        {"stage": "synthesize", "task_type": "sum", "model": "fake", "calls": 2, "prompt_tokens": 20,
         "completion_tokens": 4, "cost": 0.0},
    ]
    assert outcomes == {"synthesize": 5, "verify": 3}
    db = sqlite3.connect(cfg.cache_path)
    assert db.execute("SELECT COUNT(*) FROM outcomes WHERE stage='verify' AND cached=1").fetchone()[0] == 3


def test_pydantic_schema_gives_a_record_and_runs_inside_a_running_loop(fake_server, tmp_path: Path) -> None:
    import asyncio

    import pydantic

    class Answer(pydantic.BaseModel):
        answer: str

    srv = fake_server()  # answers {"answer": "<hash>"} whenever a response_format is sent
    req = LLMRequest(key="a", messages=[{"role": "user", "content": "?"}], json_schema=Answer)

    async def inside_a_loop() -> list:  # e.g. a notebook: run_batch must not call asyncio.run on this loop
        return run_batch([req], fast_config(srv, tmp_path))

    [r] = asyncio.run(inside_a_loop())
    assert r.ok and isinstance(r.parsed, Answer) and len(r.parsed.answer) == 12
