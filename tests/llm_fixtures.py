"""Reusable LLM fixtures for every test directory (registered in tests/conftest.py via pytest_plugins).

    def test_something(local_llm_config):           # an LLMConfig aimed at the real local SmolLM2 server
        results = run_batch([...], local_llm_config)

The server starts once per test session (≈ 2 s) and stops at its end. When it cannot run here (llama-cpp-python
or the model file missing) the tests that ask for it are skipped with the reason and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_SKIPPED: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # `pytest -q` hides skip reasons; this one must be seen, since it hides the real-model tests.
    if _SKIPPED:
        terminalreporter.write_line(f"LOCAL LLM TESTS SKIPPED: {_SKIPPED[0]}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def local_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The running local server (golong_data.llm.local_server.LocalServer: base_url, model, pid, log_path)."""
    from homes import REAL_HOME

    from golong_data.errors import GolongError
    from golong_data.llm import local_server

    local_server.wait_for_setup(REAL_HOME)  # `make test` may still be installing it in the background
    reason = local_server.unavailable_reason()
    if reason:
        _SKIPPED.append(f"{reason} (run `make local-llm`)")
        pytest.skip(f"local LLM unavailable: {_SKIPPED[0]}")
    state = tmp_path_factory.mktemp("local-llm")
    try:
        srv, _ = local_server.start(state_dir=state)
        local_server.register_user(state)  # the server's watchdog ends it if this test process dies
    except GolongError as e:
        _SKIPPED.append(f"the server could not start: {e}")
        pytest.skip(f"local LLM could not start: {e}")
    yield srv
    local_server.stop(state_dir=state)


@pytest.fixture
def local_llm_config(local_llm: Any, tmp_path: Path) -> Any:
    """An LLMConfig for the local server with a per-test cache; small, fast, quiet."""
    from golong_data.llm import LLMConfig

    return LLMConfig(base_url=local_llm.base_url, model=local_llm.model, cache_path=tmp_path / "llm_cache.sqlite",
                     max_in_flight=2, timeout_s=120.0, progress=False)


@pytest.fixture
def fake_server() -> Iterator[Any]:
    """A factory: fake_server(faults=..., latency=...) -> a started FakeOpenAIServer, stopped after the test."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "llm"))
    from fake_openai_server import FakeOpenAIServer

    started: list[FakeOpenAIServer] = []

    def make(**kwargs: Any) -> FakeOpenAIServer:
        srv = FakeOpenAIServer(**kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
