"""The LLM layer's pure parts: cache keys, schema checks, Retry-After, AIMD, budget, endpoint resolution."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest

from golong_data.errors import ConfigError
from golong_data.llm import LLMConfig, LLMRequest
from golong_data.llm.cache import LLMCache, normalise_request, request_key
from golong_data.llm.client import AimdLimiter, item_steps, resolve_endpoint, retry_after_s, scrub
from golong_data.llm.ledger import Budget, cost_of, load_prices, price_of
from golong_data.llm.schema import extract_json, parse_reply, validate

MSG = [{"role": "user", "content": "Hi"}]


def test_cache_key_is_sha256_of_the_canonical_request() -> None:
    norm = normalise_request("m", MSG, 0, 16, 0, None)
    # Written out by hand: sorted keys, no spaces, floats as floats.
    canonical = (
        '{"json_schema":null,"max_tokens":16,"messages":[{"content":"Hi","role":"user"}],'
        '"model":"m","seed":0,"temperature":0.0}'
    )
    assert request_key(norm) == hashlib.sha256(canonical.encode()).hexdigest()


def test_cache_key_changes_with_what_decides_the_answer_only() -> None:
    base = request_key(normalise_request("m", MSG, 0.0, 16, 0, None))
    changed = [
        normalise_request("m2", MSG, 0.0, 16, 0, None),
        normalise_request("m", [{"role": "user", "content": "Hi!"}], 0.0, 16, 0, None),
        normalise_request("m", MSG, 0.7, 16, 0, None),
        normalise_request("m", MSG, 0.0, 17, 0, None),
        normalise_request("m", MSG, 0.0, 16, 1, None),
        normalise_request("m", MSG, 0.0, 16, 0, {"type": "object"}),
    ]
    assert len({base, *(request_key(n) for n in changed)}) == 7
    # Extra keys callers carry on messages, and int-vs-float temperatures, do not change it.
    same = normalise_request("m", [{"role": "user", "content": "Hi", "meta": {"x": 1}}], 0, 16, 0, None)
    assert request_key(same) == base


def test_item_key_and_task_type_are_not_in_the_cache_key() -> None:
    a = LLMRequest(key="a", messages=MSG, task_type="x")
    b = LLMRequest(key="b", messages=MSG, task_type="y")
    assert next(item_steps(a, "m", 2)) == next(item_steps(b, "m", 2))


def test_migrations_run_once_and_the_store_is_wal(tmp_path: Path) -> None:
    p = tmp_path / "c.sqlite"
    LLMCache(p).close()
    LLMCache(p).close()
    db = sqlite3.connect(p)
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY name")] == [
        "m001_responses", "m002_outcomes"]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Sure! Here it is: {"a": 1} Hope that helps.', {"a": 1}),
        ("[1, 2]", [1, 2]),
    ],
)
def test_extract_json_tolerates_fences_and_prose(text: str, expected: object) -> None:
    assert extract_json(text) == expected


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "minLength": 1}, "n": {"type": "integer"},
                   "tags": {"type": "array", "items": {"enum": ["a", "b"]}}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"answer": "x"}, None),
        ({"answer": "x", "n": 3, "tags": ["a"]}, None),
        ({}, "missing required property 'answer'"),
        ({"answer": ""}, "$.answer: shorter than 1"),
        ({"answer": "x", "n": 1.5}, "$.n: expected integer"),
        ({"answer": "x", "n": True}, "$.n: expected integer"),
        ({"answer": "x", "tags": ["c"]}, "$.tags[0]: must be one of"),
        ({"answer": "x", "extra": 1}, "unexpected property 'extra'"),
        ([], "$: expected object"),
    ],
)
def test_validate(value: object, fragment: str | None) -> None:
    err = validate(value, SCHEMA)
    if fragment is None:
        assert err is None
    else:
        assert err is not None and fragment in err


def test_validate_follows_local_refs() -> None:
    schema = {"$defs": {"Item": {"type": "object", "required": ["id"]}}, "type": "array",
              "items": {"$ref": "#/$defs/Item"}}
    assert validate([{"id": 1}], schema) is None
    assert "missing required property 'id'" in (validate([{}], schema) or "")


def test_parse_reply_into_a_pydantic_record() -> None:
    pydantic = pytest.importorskip("pydantic")

    class City(pydantic.BaseModel):
        name: str
        population: int

    parsed, err = parse_reply('{"name": "Paris", "population": 2100000}', City.model_json_schema(), City)
    assert err is None and parsed == City(name="Paris", population=2100000)
    parsed, err = parse_reply("Paris", City.model_json_schema(), City)
    assert parsed is None and err is not None and err.startswith("not valid JSON")


class _Headers(dict):
    def get(self, k: str, default: object = None) -> object:  # httpx headers are case-insensitive
        return super().get(k.lower(), default)


def test_retry_after_forms() -> None:
    assert retry_after_s(_Headers({"retry-after": "2"})) == 2.0
    assert retry_after_s(_Headers({"retry-after": "0.05"})) == 0.05
    assert retry_after_s(_Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after_s(_Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # in the past
    assert retry_after_s(_Headers({})) is None
    assert retry_after_s(None) is None


def test_scrub_removes_keys() -> None:
    key = "sk-test-0123456789abcdef"
    text = f"Incorrect API key provided: {key}; also sk-abc***wxyz and Bearer {key}"
    out = scrub(text, key)
    assert key not in out and "sk-abc" not in out and "0123456789" not in out


def test_aimd_halves_once_per_window_and_grows_back() -> None:
    async def go() -> None:
        lim = AimdLimiter(16)
        t0 = await lim.acquire()
        await lim.release()
        lim.on_rate_limited(t0)
        assert lim.limit == 8
        lim.on_rate_limited(t0)  # the same window (sent before the cut): no second cut
        assert lim.limit == 8
        for _ in range(8):  # one window of successes: +1
            lim.on_success()
        assert 8.9 < lim.limit < 9.1
        for _ in range(1000):
            lim.on_success()
        assert lim.limit == 16  # never above the configured maximum

    asyncio.run(go())


def test_aimd_bounds_concurrency() -> None:
    async def go() -> int:
        lim = AimdLimiter(3)
        peak = 0

        async def worker() -> None:
            nonlocal peak
            await lim.acquire()
            peak = max(peak, lim.in_flight)
            await asyncio.sleep(0.001)
            await lim.release()

        await asyncio.gather(*(worker() for _ in range(50)))
        return peak

    assert asyncio.run(go()) == 3


def test_budget_reserves_worst_case_and_never_overshoots() -> None:
    b = Budget(max_cost=1.0)
    assert b.try_reserve(0.6)
    assert not b.try_reserve(0.6)  # 0.6 reserved + 0.6 > 1.0
    b.settle(0.6, 0.1)  # the real call was cheaper
    assert b.spent == pytest.approx(0.1) and b.try_reserve(0.6)
    assert Budget(max_cost=None).try_reserve(1e9)


def test_prices_file_overrides_defaults(tmp_path: Path) -> None:
    f = tmp_path / "prices.json"
    f.write_text('{"my-model": {"input": 1.0, "output": 2.0}, "gpt-4o-mini": {"input": 9, "output": 9}}')
    prices = load_prices({"other": {"input": 3, "output": 4}}, f)
    assert prices["my-model"] == {"input": 1.0, "output": 2.0}
    assert prices["gpt-4o-mini"]["input"] == 9.0
    assert price_of(prices, "gpt-4o-mini-2024-07-18") == prices["gpt-4o-mini"]  # dated snapshot by prefix
    assert cost_of(prices["my-model"], 1_000_000, 500_000) == 2.0  # 1 * 1 + 0.5 * 2
    f.write_text('{"bad": {"input": 1}}')
    with pytest.raises(ConfigError, match="needs 'input' and 'output'"):
        load_prices(None, f)


def test_endpoint_resolution_order() -> None:
    cfg = LLMConfig()
    local = resolve_endpoint(cfg, env={})
    assert local.local and local.model == "smollm2-135m" and local.schema_mode == "json_object"
    env = resolve_endpoint(cfg, env={"OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_MODEL": "q"})
    assert (env.base_url, env.model, env.local, env.schema_mode) == ("http://h:1/v1", "q", False, "json_schema")
    openai_default = resolve_endpoint(LLMConfig(model="gpt-4o-mini"), env={"OPENAI_API_KEY": "sk-x"})
    assert openai_default.base_url == "https://api.openai.com/v1"
    flags = resolve_endpoint(LLMConfig(base_url="http://a/v1/", model="z"), env={"OPENAI_BASE_URL": "http://b/v1"})
    assert flags.base_url == "http://a/v1"
    with pytest.raises(ConfigError, match="no model named"):
        resolve_endpoint(LLMConfig(base_url="http://a/v1"), env={})
    with pytest.raises(ConfigError, match="no endpoint serves it"):
        resolve_endpoint(LLMConfig(model="gpt-4o"), env={})
    custom = resolve_endpoint(LLMConfig(api_key_env="MY_KEY", model="m"), env={"MY_KEY": "k"})
    assert custom.api_key == "k"


def test_an_auto_started_server_is_stopped_by_its_last_live_user(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from golong_data.llm import local_server

    # Stand-ins: a process whose command line names llama_cpp.server (the pid-reuse guard checks it), and a
    # second "user" process sharing it.
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "llama_cpp.server"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_path / "local-llm.json"
        info = dict(pid=fake.pid, port=1, base_url="http://127.0.0.1:1/v1", model="smollm2-135m", model_path="",
                    log_path="", started_at=0.0)
        pid_file.write_text(json.dumps({**info, "owner": "serve-local"}))
        local_server.register_user(tmp_path)
        assert not local_server.release_if_last(tmp_path)  # the user's own server: never stopped by a run
        pid_file.write_text(json.dumps({**info, "owner": "auto"}))
        (tmp_path / "local-llm.users").mkdir(exist_ok=True)
        (tmp_path / "local-llm.users" / str(other.pid)).touch()
        local_server.register_user(tmp_path)
        assert not local_server.release_if_last(tmp_path)  # another live process still uses it
        assert fake.poll() is None
        other.kill()
        other.wait()
        local_server.register_user(tmp_path)
        assert local_server.release_if_last(tmp_path)  # the last live user out stops it
        assert fake.wait(timeout=10) is not None and not pid_file.exists()
    finally:
        for p in (fake, other):
            p.kill()
            p.wait()


def test_the_watchdog_ends_an_auto_server_once_its_users_are_dead(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    # The watchdog runs inside the server process; here it runs alone in a child, watching tmp_path.
    user = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (tmp_path / "local-llm.users").mkdir()
    (tmp_path / "local-llm.users" / str(user.pid)).touch()
    watch = subprocess.Popen([sys.executable, "-c", "import sys; from pathlib import Path; "
                              "from golong_data.llm.local_server import _watchdog; _watchdog(Path(sys.argv[1]), 1.0)",
                              str(tmp_path)])
    try:
        time.sleep(3.0)
        assert watch.poll() is None  # a live user: keeps serving
        user.kill()
        user.wait()
        assert watch.wait(timeout=15) == 0  # the user died (kill -9 leaves its file): ends by itself
    finally:
        for p in (user, watch):
            p.kill()
            p.wait()
