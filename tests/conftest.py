"""Shared fixtures. Every test gets its own cache home (llm's tmp-home practice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from homes import isolated_home

FIXTURES = Path(__file__).parent / "fixtures"

pytest_plugins = ["llm_fixtures"]  # the local_llm / local_llm_config fixtures (issue 5)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOLONG_CACHE", raising=False)
    monkeypatch.setenv("GOLONG_HOME", str(isolated_home(tmp_path / "home")))
    # A developer's real endpoint or key must never be called by, or leak into, any test.
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
