"""With OPENAI_API_KEY set to a sentinel, the LLM-using paths never write the key anywhere: not in the work
directory, the LLM cache and ledger, GOLONG_HOME, logs, the dataset card, nor the command's own output --
even when the server echoes the key back in its error bodies (OpenAI's 401 text quotes the key it got)."""

from __future__ import annotations

import json
from pathlib import Path

from fake_openai_server import content_hash, default_reply
from homes import isolated_home
from pipeline import gd, run_env, write_config

SENTINEL = "sk-golong-SENTINEL-5f0c1d2e3a4b5c6d7e8f9a0b"
CORES = (SENTINEL, "SENTINEL-5f0c1d2e3a4b", "5f0c1d2e3a4b5c6d7e8f9a0b")  # also no tell-tale fragment


def _echoing_server(fake_server):  # noqa: ANN001, ANN202
    """Fails each prompt's first two arrivals with an error body quoting the Authorization header it got."""
    arrivals: dict[str, int] = {}

    def status_for(body: dict, headers: dict[str, str]) -> tuple[int, str] | None:
        h = content_hash(body)
        arrivals[h] = arrivals.get(h, 0) + 1
        key = headers.get("authorization", "").removeprefix("Bearer ")
        if arrivals[h] == 1:
            return 500, json.dumps({"error": {"message": f"upstream failed for key {key}", "type": "server_error"}})
        if arrivals[h] == 2:
            return 400, json.dumps({"error": {"message": f"Incorrect API key provided: {key}. You can find your "
                                              f"API key at https://platform.openai.com", "code": "invalid_api_key"}})
        return None

    return fake_server(status_for=status_for, reply=default_reply, retry_after="0.01")


def _grep_tree(root: Path) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            data = p.read_bytes()
            if any(c.encode() in data for c in CORES):
                hits.append(str(p))
    return hits


def test_api_key_never_written_by_pipeline_with_llm_checks(fake_server, tmp_path: Path) -> None:
    srv = _echoing_server(fake_server)
    cfg = write_config(tmp_path, llm_url=srv.base_url)
    env = run_env(tmp_path, OPENAI_API_KEY=SENTINEL)
    r = gd(["run", str(cfg)], tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    assert srv.requests > 0, "the LLM check never called the server: the test would prove nothing"
    # the LLM path really ran with the key: the server saw it on every request
    r2 = gd(["synthesize", "--in", str(tmp_path / "work" / "dedup"), "--out", str(tmp_path / "synth-llm"), "--llm",
             "--base-url", srv.base_url, "--model", "fake", "--per-type", "1", "--buckets", "2k",
             "--tasks", "comprehension"], tmp_path, env=env)
    assert r2.returncode in (0, 1), r2.stderr[-3000:]
    for text in (r.stdout, r.stderr, r2.stdout, r2.stderr):
        assert not any(c in text for c in CORES)
    assert (tmp_path / "work" / "export" / "README.md").exists()
    assert (tmp_path / "llm_cache-work.sqlite").exists()
    assert _grep_tree(tmp_path) == []


def test_api_key_never_written_by_run_batch_failures(fake_server, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The LLM layer directly: echoed keys in failure details (retries exhausted) are scrubbed in the ledger."""
    from golong_data.llm import LLMConfig, LLMRequest, run_batch

    def always_echo(body: dict, headers: dict[str, str]) -> tuple[int, str]:
        key = headers.get("authorization", "")
        return 500, json.dumps({"error": {"message": f"no luck with {key} (key={key[7:]})"}})

    srv = fake_server(status_for=always_echo)
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    monkeypatch.setenv("GOLONG_HOME", str(isolated_home(tmp_path / "home")))
    cfg = LLMConfig(base_url=srv.base_url, model="fake", cache_path=tmp_path / "cache.sqlite", max_retries=2,
                    backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=5, progress=False, quiet=True)
    res = run_batch([LLMRequest(key=f"k{i}", messages=[{"role": "user", "content": f"q{i}"}]) for i in range(5)], cfg)
    assert all(not r.ok for r in res)
    for r in res:
        assert not any(c in (r.detail or "") for c in CORES)
    assert _grep_tree(tmp_path) == []
