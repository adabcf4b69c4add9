"""kill -9 in the middle of a run: the rerun's output equals an uninterrupted run's, and the server answered
no request twice except those in flight at the kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from homes import isolated_home
from llm_test_helpers import fast_config

from golong_data.llm import LLMRequest, run_batch

N = 500
IN_FLIGHT = 8
SERVER = dict(faults={"rate_limit": 0.1, "server_error": 0.05}, length_rate=0.05, latency=0.02)

# The child: one run_batch over N items, results written atomically at the end (as a stage would).
CHILD = """
import json, os, sys
from dataclasses import asdict
from golong_data.llm import LLMConfig, LLMRequest, run_batch
base_url, cache, out, n, in_flight = sys.argv[1:6]
reqs = [LLMRequest(key=f"item-{i}", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=16)
        for i in range(int(n))]
cfg = LLMConfig(base_url=base_url, model="fake", cache_path=cache, max_in_flight=int(in_flight), timeout_s=5.0,
                max_retries=8, backoff_base_s=0.01, backoff_max_s=0.1, progress=False, quiet=True)
results = run_batch(reqs, cfg, stage="crash")
with open(out + ".tmp", "w") as f:
    json.dump([asdict(r) for r in results], f)
os.replace(out + ".tmp", out)
"""


def _child(base_url: str, cache: Path, out: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, base_url, str(cache), str(out), str(N), str(IN_FLIGHT)],
                            env={**os.environ, "GOLONG_HOME": str(isolated_home(cache.parent)), **env})


def _comparable(results: list[dict]) -> list[tuple]:
    # Everything but `cached`, which by design differs between a fresh run and a replay.
    return [(r["key"], r["ok"], r["text"], r["parsed"], r["error"], r["detail"], r["usage"]) for r in results]


def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(fake_server, tmp_path: Path) -> None:
    # The reference: the same items, uninterrupted, against an identical server with its own cache.
    ref_srv = fake_server(**SERVER)
    reqs = [LLMRequest(key=f"item-{i}", messages=[{"role": "user", "content": f"question {i}"}], max_tokens=16)
            for i in range(N)]
    ref_cfg = fast_config(ref_srv, tmp_path, cache_path=tmp_path / "ref.sqlite", max_in_flight=IN_FLIGHT,
                          timeout_s=5.0, max_retries=8)
    reference = [asdict(r) for r in run_batch(reqs, ref_cfg, stage="crash")]

    srv = fake_server(**SERVER)
    cache, out = tmp_path / "crash.sqlite", tmp_path / "out.json"
    # Mid-way, at an event rather than a time guess: the child pauses once its 200th answer is committed.
    marker = tmp_path / "paused"
    proc = _child(srv.base_url, cache, out, GOLONG_PAUSE_AT=f"llm:{N * 2 // 5}", GOLONG_PAUSE_FILE=str(marker))
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, "the child finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    while srv.in_flight:  # the server finishes the requests that reached it before the kill
        assert time.monotonic() < deadline
        time.sleep(0.01)
    answered_before_kill = sum(srv.answered.values())
    assert not out.exists()  # nothing half-written
    committed = sqlite3.connect(cache).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    assert 0 < committed <= answered_before_kill < N
    lost_in_flight = answered_before_kill - committed  # answered by the server, killed before the commit
    assert lost_in_flight <= IN_FLIGHT

    proc = _child(srv.base_url, cache, out)
    assert proc.wait(timeout=120) == 0
    rerun = json.loads(out.read_text())

    assert _comparable(rerun) == _comparable(reference)
    assert sum(r["cached"] for r in rerun) == committed
    twice = [h for h, c in srv.answered.items() if c > 1]
    assert len(twice) == lost_in_flight  # only the requests in flight at the kill were answered twice
    assert max(srv.answered.values()) <= 2
    assert sum(srv.answered.values()) == N + lost_in_flight
