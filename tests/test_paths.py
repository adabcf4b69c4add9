"""One folder for all per-user state: pointing GOLONG_HOME elsewhere is a whole fresh start, never half of one
(a "fresh" demo with only the build cache moved once replayed 130 of 130 verify calls from the old LLM cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from golong_data.llm import local_server
from golong_data.llm.cache import default_cache_path
from golong_data.tokens import cache_dir


def _all_state() -> list[Path]:
    return [default_cache_path(), cache_dir(), local_server.model_path()]


def test_every_kind_of_state_follows_golong_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLONG_HOME", str(tmp_path / "a"))
    monkeypatch.setenv("GOLONG_CACHE", str(tmp_path / "b"))  # the older name loses to GOLONG_HOME
    assert all(p.is_relative_to(tmp_path / "a") for p in _all_state()), _all_state()


def test_the_older_name_alone_moves_everything_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOLONG_HOME", raising=False)
    monkeypatch.setenv("GOLONG_CACHE", str(tmp_path / "b"))
    assert all(p.is_relative_to(tmp_path / "b") for p in _all_state()), _all_state()
