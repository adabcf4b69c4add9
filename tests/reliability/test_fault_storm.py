"""The pipeline's LLM stage (verify's no-context check) against the fake server's fault schedule -- 429 with
Retry-After, 500, hangs, malformed bodies, length-truncated answers -- and a server restart in the middle of
the stage. The run completes or stops cleanly; every sample submitted to verify is either verified or in the
ledger; a rerun against a healthy server resumes (cached answers are not asked again) and ends with the same
dataset as a run that never saw a fault.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fake_openai_server import ISSUE_SCHEDULE, FakeOpenAIServer
from homes import isolated_home
from pipeline import gd, gd_cmd, run_env, write_config

LENGTH_RATE = 0.05  # with the same server seed, a property of the prompt: every server truncates the same ones


def start_on_port(port: int, **kw: object) -> FakeOpenAIServer:
    """A FakeOpenAIServer on a given port (the restarted server must keep the config's base_url)."""
    srv = FakeOpenAIServer(**kw)  # type: ignore[arg-type]
    srv._loop = asyncio.new_event_loop()
    srv._thread = threading.Thread(target=srv._loop.run_forever, daemon=True)
    srv._thread.start()
    for _ in range(50):  # the old socket may linger for a moment
        try:
            asyncio.run_coroutine_threadsafe(srv._serve(port), srv._loop).result(10)
            return srv
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"could not rebind port {port}")


def _lines(p: Path) -> list[str]:
    return p.read_text(encoding="utf-8").splitlines() if p.exists() else []


def _storm(tmp_path: Path, fake_server, synth: dict | None = None) -> Counter[str]:  # noqa: ANN001
    storm_kw = dict(faults=ISSUE_SCHEDULE, length_rate=LENGTH_RATE, hang_s=0.5, retry_after="0.05", seed=7)
    srv = fake_server(**storm_kw)
    port = srv.port
    cfg = write_config(tmp_path, work="storm", llm_url=srv.base_url, **({"synthesize": synth} if synth else {}))
    proc = subprocess.Popen([*gd_cmd(), "run", str(cfg)], cwd=tmp_path, env=run_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err: list[str] = []
    restarted: list[FakeOpenAIServer] = []
    fates: Counter[str] = Counter()
    for line in proc.stderr:
        err.append(line)
        if re.match(r"^run: verify\s+running", line) and not restarted:
            time.sleep(0.3)
            fates.update(srv.fates)
            srv.stop()  # in-flight requests are dropped with the server
            time.sleep(1.0)  # down: connection refused meanwhile
            restarted.append(start_on_port(port, **storm_kw))
    proc.wait(timeout=600)
    stderr = "".join(err)
    new = restarted[0] if restarted else srv
    try:
        fates.update(new.fates)
        assert restarted, "the run never reached verify"
        assert proc.returncode in (0, 1), stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        assert sum(fates[f] for f in ISSUE_SCHEDULE) > 0, fates  # faults really happened

        work = tmp_path / "storm"
        submitted = len(_lines(work / "synthesize" / "samples.jsonl"))
        if proc.returncode == 0:
            verified = len(_lines(work / "verify" / "verified.jsonl"))
            rejected = {json.loads(x)["source"] for x in _lines(work / "verify" / "rejected.jsonl")}
            assert verified + len(rejected) == submitted, (verified, len(rejected), submitted)
        # resume against a healthy server: verify again (forced: a finished stage keeps its ledgered failures)
        new.stop()
        healthy = start_on_port(port, length_rate=LENGTH_RATE, seed=7)
        restarted.append(healthy)
        r2 = gd(["run", str(cfg), "--force", "verify"], tmp_path)
        assert r2.returncode == 0, r2.stderr[-3000:]
        # the reference: the same samples verified by a server that never failed (computed from the storm's own
        # samples, so that the comparison does not depend on the synthesize code staying put meanwhile)
        ref_srv = fake_server(length_rate=LENGTH_RATE, seed=7)
        r3 = gd(["verify", "--in", str(work / "synthesize"), "--out", str(tmp_path / "ref-verify"), "--checks",
                 "gold,nocontext", "--solver", "fake", "--base-url", ref_srv.base_url, "--seed", "0"], tmp_path,
                env=run_env(tmp_path, GOLONG_HOME=str(isolated_home(tmp_path / "ref-home"))))
        assert r3.returncode == 0, r3.stderr[-3000:]
        assert (work / "verify" / "verified.jsonl").read_bytes() == (tmp_path / "ref-verify" / "verified.jsonl"
                                                                     ).read_bytes()
        # answers the storm got were cached: only what failed during the storm is asked again
        assert 0 < ref_srv.requests and healthy.requests <= ref_srv.requests
        assert max(healthy.answered.values(), default=0) <= 1
    finally:
        for s in restarted:
            try:
                s.stop()
            except Exception:  # noqa: BLE001 - already stopped
                pass
    (tmp_path / "fault-mix.json").write_text(json.dumps(dict(fates)))
    print("fault mix survived:", dict(fates))
    return fates


def test_fault_storm_with_server_restart_then_resume(tmp_path: Path, fake_server) -> None:  # noqa: ANN001
    _storm(tmp_path, fake_server)


@pytest.mark.slow
def test_fault_storm_larger_pool(tmp_path: Path, fake_server) -> None:  # noqa: ANN001
    fates = _storm(tmp_path, fake_server, synth={"per_type": 6, "buckets": ["2k", "4k"]})
    assert all(fates[f] > 0 for f in ("rate_limit", "server_error", "malformed")), fates
