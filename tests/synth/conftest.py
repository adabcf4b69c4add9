"""The fixture corpus ingested once for all synthesize tests, by the real ingest stage."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from golong_data.ingest.stage import run_ingest

    out = tmp_path_factory.mktemp("synth_ingest")
    fixtures = Path(__file__).parents[1] / "fixtures"
    run_ingest([fixtures / "books", fixtures / "papers", fixtures / "dialogues"], out)
    return out
