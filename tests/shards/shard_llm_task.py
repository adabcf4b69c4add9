"""A shard task that makes LLM calls and dies (os._exit, like kill -9 or an OOM kill) on its first attempt,
after half its calls were answered. Imported by name in pool workers and Ray workers (tests/shards is put on
their path), so it must be a module of its own."""

from __future__ import annotations

import os
from pathlib import Path


def llm_task(base_url: str, cache_path: str, marker: str, n: int, prefix: str = "question") -> list[str]:
    from golong_data.llm import LLMConfig, LLMRequest, run_batch

    cfg = LLMConfig(base_url=base_url, model="fake", cache_path=cache_path, max_in_flight=4, timeout_s=60.0,
                    max_retries=2, backoff_base_s=0.01, progress=False, quiet=True)
    reqs = [LLMRequest(key=f"q{i}", messages=[{"role": "user", "content": f"{prefix} {i}"}]) for i in range(n)]
    if not Path(marker).exists():
        run_batch(reqs[: n // 2], cfg)
        Path(marker).write_text("killed once\n")
        os._exit(1)  # no cleanup, no exception: the worker process is simply gone
    results = run_batch(reqs, cfg)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return [str(r.text) for r in results]
