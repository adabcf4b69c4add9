"""Fixtures for the LLM layer's tests: the fault-injecting fake server (the real local server's fixtures,
`local_llm` and `local_llm_config`, live in tests/llm_fixtures.py so every test directory can use them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeOpenAIServer]]:
    """A factory: fake_server(faults=..., latency=...) -> a started FakeOpenAIServer, stopped after the test."""
    started: list[FakeOpenAIServer] = []

    def make(**kwargs: Any) -> FakeOpenAIServer:
        srv = FakeOpenAIServer(**kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture(autouse=True)
def _no_endpoint_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real endpoint or key must never leak into these tests (or be called by them).
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)
