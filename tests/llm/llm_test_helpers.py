"""Helpers shared by the LLM tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fake_openai_server import FakeOpenAIServer


def fast_config(srv: FakeOpenAIServer, tmp_path: Path, **kw: Any) -> Any:
    """Short timeouts and backoffs so fault storms finish in seconds."""
    from golong_data.llm import LLMConfig

    base: dict[str, Any] = dict(base_url=srv.base_url, model="fake", cache_path=tmp_path / "cache.sqlite",
                                max_in_flight=32, timeout_s=0.3, max_retries=5, backoff_base_s=0.01,
                                backoff_max_s=0.1, progress=False, quiet=True)
    base.update(kw)
    return LLMConfig(**base)
