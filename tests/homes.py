"""Per-test GOLONG_HOME folders that still see what `make` fetched or built once per machine."""

from __future__ import annotations

from pathlib import Path

from golong_data import paths

# The user's one state folder (golong_data.paths), read before any test points GOLONG_HOME elsewhere.
REAL_HOME = paths.home()
SHARED = ("tokenizers", "models", "wheels", "corpus", "bench")  # read-only assets `make` put there


def isolated_home(path: Path) -> Path:
    """A fresh GOLONG_HOME at `path` (empty LLM cache, no server pid file) that still sees the assets `make`
    fetched or built once per machine, linked in from the real one."""
    path.mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        if (REAL_HOME / name).exists() and not (path / name).exists():
            (path / name).symlink_to(REAL_HOME / name)
    return path
