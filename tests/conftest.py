"""Shared fixtures. Every test gets its own cache home (llm's tmp-home practice)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"

pytest_plugins = ["llm_fixtures"]  # the local_llm / local_llm_config fixtures (issue 5)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The LLM cache and work dirs go under tmp_path; the shared build cache (tokenizer file, llama wheel,
    # corpus) stays where `make` put it, read through GOLONG_CACHE.
    monkeypatch.setenv("GOLONG_CACHE", os.environ.get("GOLONG_CACHE", str(Path.home() / ".cache" / "golong-data")))
    monkeypatch.setenv("GOLONG_HOME", str(tmp_path / "home"))
    # A developer's real endpoint or key must never be called by, or leak into, any test.
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
