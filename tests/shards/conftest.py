"""One corpus for the shard tests, its single-machine run, and its sharded run (built once per session).

The corpus is the real fixtures plus files placed so that the cases only sharding can get wrong happen:
a copy of a book in another ingest shard (a cross-shard exact duplicate document), a near-duplicate pair of
texts in different shards, and texts sharing a long passage (chunk-level duplicates across documents).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from shards_helpers import MAX_TOKENS, THRESHOLD, N, shard_front

from golong_data.pipeline.shard import in_shard

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _words(rng: random.Random, n: int) -> list[str]:
    vocab = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "ve", "ro") for b in
             ("rin", "bel", "dom", "sta", "quo", "fen", "lit", "mar", "zan", "por")]
    return [rng.choice(vocab) for _ in range(n)]


def _paragraphs(ws: list[str], per: int = 60) -> str:
    return "\n\n".join(" ".join(ws[i : i + per]) + "." for i in range(0, len(ws), per))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    for sub in ("books", "dialogues"):
        shutil.copytree(FIXTURES / sub, root / sub)
    (root / "papers").mkdir()
    for name in ("coin__coin.pdf", "zoo__zoo-quickref.pdf", "survival__tiedtimes.pdf"):
        shutil.copy(FIXTURES / "papers" / name, root / "papers" / name)
    shutil.copy(FIXTURES / "books" / "persuasion.epub", root / "copy-persuasion.epub")
    rng = random.Random(11)
    base = _words(rng, 3000)
    near = list(base)
    for i in range(50, len(near), 150):  # one word in 150 changed: 5-gram Jaccard ~0.93, over THRESHOLD
        near[i] = "changed"
    (root / "notes").mkdir()
    (root / "notes" / "a.txt").write_text(_paragraphs(base), encoding="utf-8")
    (root / "notes" / "near-a.txt").write_text(_paragraphs(near), encoding="utf-8")
    shared = _paragraphs(_words(rng, 1500))
    for k in range(4):  # one passage in four otherwise different texts: duplicate chunks across documents
        (root / "notes" / f"shared{k}.txt").write_text(_paragraphs(_words(rng, 800)) + "\n\n" + shared,
                                                        encoding="utf-8")
    # The cases exist only if the pairs land in different ingest shards (by path relative to the corpus).
    sh = lambda key: next(i for i in range(N) if in_shard(key, (i, N)))  # noqa: E731
    assert sh("books/persuasion.epub") != sh("copy-persuasion.epub")
    assert sh("notes/a.txt") != sh("notes/near-a.txt")
    return root


@pytest.fixture(scope="session")
def single(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-machine stages: the reference bytes."""
    from golong_data.chunk import run_chunk
    from golong_data.dedup.stage import run_dedup
    from golong_data.ingest.stage import run_ingest

    w = tmp_path_factory.mktemp("single")
    run_ingest([corpus], w / "ingest", workers=1)
    run_chunk(w / "ingest", w / "chunk", MAX_TOKENS)
    run_dedup(w / "chunk", w / "dedup", threshold=THRESHOLD)
    return w


@pytest.fixture(scope="session")
def sharded_local(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ingest/chunk/dedup as N shard tasks on the local process pool (2 workers), merged."""
    from golong_data.pipeline.executor import LocalExecutor

    w = tmp_path_factory.mktemp("sharded")
    shard_front(LocalExecutor(workers=2, progress=False), corpus, w)
    return w

