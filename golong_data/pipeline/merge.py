"""Merging shard outputs: N `--shard i/N` runs of a stage -> the bytes one unsharded run writes.

    golong-data ingest CORPUS --out w/ingest.0 --shard 0/4     # ... 1/4, 2/4, 3/4: any machines, any order
    golong-data merge ingest w/ingest.0 w/ingest.1 w/ingest.2 w/ingest.3 --out w/ingest --corpus CORPUS

A shard writes a subsequence of the single run's output, in the single run's order. So the merge is a k-way
merge (heapq.merge, streaming: one record per shard in memory) by each record's position in that order:

- ingest: the position of the record's file in `find_files(corpus)` (documents name their file in
  source.path, rejections in their source), so merge needs the same corpus paths the shards were given.
  One cross-shard effect exists: a document whose text also came from a file of another shard is a
  `duplicate_document` in the single run; merge drops it and writes that rejection in its place.
- chunk: the position of the record's document in the upstream documents.jsonl every shard read (named in
  the shards' manifests): documents and chunks carry their doc id, rejections name it as source.
- verify: the position of the sample's line in the samples.jsonl every shard read (named in the manifests,
  checked by its sha256). A verify shard checks its own samples of each global chunk of input lines and writes
  both files in input order; a repeated id's `duplicate_id` lines take that id's later positions in turn.

`merge llm-cache` folds the LLM caches of several nodes into one (merge_llm_caches).

- synthesize: shards run disjoint *slots* (wanted samples) over the whole document library and write their
  raw attempts; golong_data.synth.select merges them by slot and makes the cross-slot decisions (duplicate
  questions, quota) that a whole run makes. Dedup goes through golong_data.dedup.shards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from golong_data.chunk import merge_chunk
from golong_data.errors import GolongError
from golong_data.ingest.merge import merge_ingest
from golong_data.llm.cache import merge_llm_caches
from golong_data.verify.merge import merge_verify

MERGEABLE = ("ingest", "chunk", "verify", "synthesize", "llm-cache")


def merge_shards(stage: str, shard_dirs: Sequence[Path], out: Path, corpus: Sequence[Path] = (),
                 order_from: Path | None = None) -> str:
    """`golong-data merge STAGE SHARD_DIR... --out OUT`: returns the one-line summary."""
    if stage == "ingest":
        return merge_ingest(shard_dirs, out, corpus)
    if stage == "chunk":
        return merge_chunk(shard_dirs, out, order_from)
    if stage == "verify":
        return merge_verify(shard_dirs, out, order_from)
    if stage == "llm-cache":
        return merge_llm_caches(shard_dirs, out)
    if stage == "synthesize":
        from golong_data.synth.merge import merge_synthesize

        return merge_synthesize(shard_dirs, out)
    hints = {"dedup": "dedup chunk shards with `golong-data dedup-shards`"}
    hint = hints.get(stage, "only ingest, chunk, synthesize and verify shards merge into a single run's bytes")
    raise GolongError(f"cannot merge {stage!r} shards; expected one of: {', '.join(MERGEABLE)}", hint)


