"""The real thing: the local SmolLM2-135M llama.cpp server (started once per session by `local_llm`).

Its answers are weak; these tests check the transport, the JSON grammar and the cache, not the content.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from golong_data.llm import LLMConfig, LLMRequest, run_batch
from golong_data.llm.schema import validate

pytestmark = pytest.mark.llm


def _chat_posts(log_path: str) -> int:
    """Chat requests the server received, counted at the server side (uvicorn's access log)."""
    return len(re.findall(r'"POST /v1/chat/completions HTTP/1\.1" \d+', Path(log_path).read_text(errors="replace")))


CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


def test_chat_json_and_cached_rerun_against_the_real_server(local_llm, local_llm_config) -> None:
    reqs = [
        LLMRequest(key="chat", messages=[{"role": "user", "content": "Reply with one word: which colour is the sky?"}],
                   max_tokens=16),
        LLMRequest(key="json", messages=[{"role": "user", "content": "Where is Paris? Answer in JSON."}],
                   max_tokens=48, json_schema=CITY, task_type="qa"),
    ]
    before = _chat_posts(local_llm.log_path)
    chat, js = run_batch(reqs, local_llm_config, stage="test")
    sent = _chat_posts(local_llm.log_path) - before
    assert sent >= 2

    # A chat completion: real text, real token counts from the server.
    assert chat.ok and chat.text and chat.text.strip(), chat
    assert chat.usage["prompt_tokens"] > 5 and 0 < chat.usage["completion_tokens"] <= 16
    # A JSON-schema completion (llama.cpp's grammar) parsed into a record that satisfies the schema.
    assert js.ok, js
    assert isinstance(js.parsed, dict) and isinstance(js.parsed["city"], str) and isinstance(js.parsed["country"], str)
    assert validate(js.parsed, CITY) is None

    # The rerun is served from the cache: zero HTTP requests reach the server.
    again = run_batch(reqs, local_llm_config, stage="test")
    assert _chat_posts(local_llm.log_path) - before == sent
    assert all(r.cached for r in again)
    assert [(r.text, r.parsed, r.usage) for r in again] == [(chat.text, chat.parsed, chat.usage),
                                                            (js.text, js.parsed, js.usage)]


def test_length_truncation_from_the_real_server(local_llm_config) -> None:
    req = LLMRequest(key="long", messages=[{"role": "user", "content": "Write a long story about a cat."}],
                     max_tokens=3)
    [r] = run_batch([req], local_llm_config)
    assert not r.ok and r.error == "length" and r.usage["completion_tokens"] == 3


def test_no_endpoint_starts_the_local_server_and_says_so(local_llm, tmp_path: Path, capsys) -> None:
    # No base URL, no key in the environment: run_batch starts its own server, says so, and stops it after.
    assert "OPENAI_BASE_URL" not in os.environ and "OPENAI_API_KEY" not in os.environ
    cfg = LLMConfig(cache_path=tmp_path / "c.sqlite", progress=False)
    [r] = run_batch([LLMRequest(key="a", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4)], cfg,
                    stage="synthesize")
    assert r.usage["completion_tokens"] > 0
    err = capsys.readouterr().err
    assert "no endpoint configured; using the local smollm2-135m server" in err
    assert "started the local LLM" in err
    home = Path(os.environ["GOLONG_HOME"])
    assert not (home / "local-llm.json").exists()  # stopped after the run
    # A rerun needs no server at all.
    [again] = run_batch([LLMRequest(key="a", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4)], cfg)
    assert again.cached and "started the local LLM" not in capsys.readouterr().err


def test_serve_local_command_starts_reuses_and_stops(local_llm) -> None:
    from golong_data.cli import app
    from golong_data.llm import local_server

    runner = CliRunner()
    r = runner.invoke(app, ["serve-local"])
    assert r.exit_code == 0, r.output
    url = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", url)
    srv = local_server.find_running()
    assert srv is not None and srv.base_url == url
    r2 = runner.invoke(app, ["serve-local"])
    assert r2.exit_code == 0 and r2.stdout.strip().splitlines()[-1] == url  # reused, not a second server
    r3 = runner.invoke(app, ["serve-local", "--stop"])
    assert r3.exit_code == 0
    assert local_server.find_running() is None
    assert not local_server._alive(srv.pid)  # gone (or an unreaped zombie of this test process: not running)
