"""Benchmark the LLM layer against the fault-free fake OpenAI server (50 ms latency, in its own process).

1. Throughput at 64 in flight: run_batch (cache, ledger, retries, AIMD, in-batch dedup) next to a bare
   `AsyncOpenAI` + `asyncio.gather` loop over the same number of fresh prompts. Target: ratio >= 0.9.
2. Cached replay of 10,000 calls through run_batch. Target: >= 2,000 calls/s.

    python bench/bench_llm.py [--n 1000] [--rounds 3] [--strict]   (--strict: exit 1 when a target is missed)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data.llm import LLMConfig, LLMRequest, run_batch  # noqa: E402
from golong_data.llm.cache import CachedResponse, LLMCache, normalise_request, request_key  # noqa: E402

IN_FLIGHT = 64


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "llm" / "fake_openai_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def prompts(n: int, tag: str) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"{tag} question {i}: what is in the document?"}] for i in range(n)]


async def bare(base_url: str, msgs: list[list[dict[str, str]]]) -> tuple[float, float]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one(m: list[dict[str, str]]) -> str:
        async with sem:
            r = await client.chat.completions.create(model="fake", messages=m, max_tokens=16, temperature=0.0, seed=0)
            return r.choices[0].message.content

    t, c = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(m) for m in msgs))
    dt, dc = time.perf_counter() - t, time.process_time() - c
    await client.close()
    return len(msgs) / dt, dc / len(msgs) * 1000


def ours(base_url: str, msgs: list[list[dict[str, str]]], cache: Path) -> tuple[float, float]:
    cfg = LLMConfig(base_url=base_url, model="fake", max_in_flight=IN_FLIGHT, cache_path=cache, progress=False,
                    quiet=True, timeout_s=30)
    reqs = [LLMRequest(key=f"k{i}", messages=m, max_tokens=16) for i, m in enumerate(msgs)]
    t, c = time.perf_counter(), time.process_time()
    results = run_batch(reqs, cfg, stage="bench")
    dt, dc = time.perf_counter() - t, time.process_time() - c
    assert all(r.ok and not r.cached for r in results)
    return len(msgs) / dt, dc / len(msgs) * 1000


def replay(n: int, cache: Path) -> float:
    msgs = prompts(n, "replay")
    reqs = [LLMRequest(key=f"r{i}", messages=m, max_tokens=16) for i, m in enumerate(msgs)]
    with LLMCache(cache) as c:  # fill the cache the way the client does (same normalisation, same key)
        c.db.execute("BEGIN")
        for r in reqs:
            norm = normalise_request("fake", r.messages, r.temperature, r.max_tokens, r.seed, None)
            c.put(request_key(norm), norm, CachedResponse("answer", "stop", 12, 3), cost=0.0, run_id="fill",
                  stage="bench", task_type=None, duration_ms=0)
        c.db.execute("COMMIT")
    cfg = LLMConfig(base_url="http://127.0.0.1:9/v1", model="fake", cache_path=cache, progress=False, quiet=True)
    t = time.perf_counter()
    results = run_batch(reqs, cfg, stage="bench")  # port 9 (discard): any HTTP call would fail the asserts
    dt = time.perf_counter() - t
    assert len(results) == n and all(r.ok and r.cached for r in results)
    return n / dt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="calls per throughput run")
    ap.add_argument("--rounds", type=int, default=3, help="alternating bare/ours rounds; medians count")
    ap.add_argument("--replay", type=int, default=10_000)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()}-core {platform.machine()}, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    proc, url = start_server(0.05)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            b, o = [], []
            for k in range(args.rounds):  # alternate, so a busy spell on a shared machine hits both sides
                b.append(asyncio.run(bare(url, prompts(args.n, f"bare{k}"))))
                o.append(ours(url, prompts(args.n, f"ours{k}"), Path(tmp) / f"ours{k}.sqlite"))
                print(f"  round {k}: bare {b[-1][0]:.0f} calls/s ({b[-1][1]:.2f} ms CPU/call), "
                      f"run_batch {o[-1][0]:.0f} calls/s ({o[-1][1]:.2f} ms CPU/call)")
            rps = replay(args.replay, Path(tmp) / "replay.sqlite")
    finally:
        proc.kill()
        proc.wait()
    bw, bc = statistics.median(x[0] for x in b), statistics.median(x[1] for x in b)
    ow, oc = statistics.median(x[0] for x in o), statistics.median(x[1] for x in o)
    ratio = ow / bw
    ok1, ok2 = ratio >= 0.9, rps >= 2000
    print(f"throughput @ {IN_FLIGHT} in flight, 50 ms latency, {args.n} calls, median of {args.rounds} rounds: "
          f"bare AsyncOpenAI+gather {bw:.0f} calls/s ({bc:.2f} ms CPU/call), run_batch {ow:.0f} calls/s "
          f"({oc:.2f} ms CPU/call), ratio {ratio:.2f} (target >= 0.9: {'ok' if ok1 else 'MISSED'}); "
          f"CPU-per-call ratio bare/ours {bc / oc:.2f}")
    print(f"cached replay of {args.replay} calls: {rps:.0f} calls/s (target >= 2000: {'ok' if ok2 else 'MISSED'})")
    return 0 if (ok1 and ok2) or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
