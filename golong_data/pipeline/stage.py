"""A stage's output directory: atomic outputs, the rejection ledger, and the manifest written last.

    with StageRun("ingest", out_dir, inputs=paths, config=cfg) as run:
        docs = run.writer("documents.jsonl")
        docs.write(document)                       # streamed into a temp file
        run.reject(path, "pdf_encrypted", "...")   # the ledger: nothing is dropped silently
    # on a clean exit: outputs renamed into place, then manifest.json (datatrove's completion marker)

A crash or kill -9 leaves no manifest, so `golong-data run` sees the stage as unfinished and redoes it;
the temp files it left are overwritten. A rerun with the same inputs and config writes the same bytes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

from golong_data import __version__, crashpoints
from golong_data.records import Rejection, dumps, sha256_file

MANIFEST = "manifest.json"
REJECTED = "rejected.jsonl"


class _StreamWriter:
    """JSONL lines into a temp file; made visible only by StageRun's commit."""

    def __init__(self, path: Path, stage: str = "") -> None:
        self.path = path
        self.stage = stage
        fd, self.tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        # backslashreplace: a non-UTF-8 file name (surrogate-escaped by Python) is one record's oddity, not a crash.
        self._f = os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace")
        self.count = 0

    def write(self, record: Any) -> None:
        self._f.write(dumps(record))
        self._f.write("\n")
        self.count += 1
        crashpoints.hit(self.stage)

    def commit(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def input_fingerprint(paths: list[Path]) -> list[dict[str, str]]:
    """sha256 of every input file (directories expanded, sorted): what 'up to date' compares."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # Hidden files and folders (.cache/, .git/, editor temp files) are not inputs.
            files.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            )
        elif p.is_file():
            files.append(p)
    return [{"path": str(f), "sha256": sha256_file(f)} for f in files]


def read_manifest(out_dir: Path) -> dict[str, Any] | None:
    p = Path(out_dir) / MANIFEST
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def is_up_to_date(out_dir: Path, inputs: list[Path], config: dict[str, Any]) -> bool:
    """True when out_dir holds a finished stage made from these exact inputs and settings."""
    m = read_manifest(out_dir)
    if m is None or m.get("config") != config or m.get("inputs") != input_fingerprint(inputs):
        return False
    for name, digest in m.get("outputs", {}).items():
        f = Path(out_dir) / name
        if not f.exists() or sha256_file(f) != digest:
            return False
    return True


class StageRun:
    """Context manager for one stage's run into `out_dir` (see the module docstring)."""

    def __init__(self, stage: str, out_dir: Path, inputs: list[Path], config: dict[str, Any]) -> None:
        self.stage = stage
        self.out_dir = Path(out_dir)
        self.inputs = [Path(p) for p in inputs]
        self.config = config
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self._writers: dict[str, _StreamWriter] = {}
        self._extra_files: list[str] = []

    def __enter__(self) -> StageRun:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # Unmark first: until the new manifest lands, this directory is not a finished stage.
        (self.out_dir / MANIFEST).unlink(missing_ok=True)
        # Temp files of a run that was killed mid-way: nothing reads them, and each may be as big as an output.
        for stale in self.out_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        self._rejected = self.writer(REJECTED)
        return self

    def writer(self, name: str) -> _StreamWriter:
        if name not in self._writers:
            self._writers[name] = _StreamWriter(self.out_dir / name, self.stage)
        return self._writers[name]

    def add_file(self, name: str) -> None:
        """Register a file the stage wrote itself (atomically) so the manifest hashes it."""
        self._extra_files.append(name)

    def reject(self, source: str, reason: str, detail: str = "") -> None:
        self._rejected.write(Rejection(stage=self.stage, source=str(source), reason=reason, detail=detail))
        self.reasons[reason] += 1

    @property
    def n_rejected(self) -> int:
        return self._rejected.count

    def summary(self, done_word: str = "kept", what: str | None = None) -> str:
        """`ingest: ingested 12, rejected 2 (reason: n, ...); see .../rejected.jsonl`; `what` replaces the
        kept count where a stage says more (e.g. "3 documents -> 41 chunks")."""
        if what is None:
            what = f"{done_word} {sum(w.count for n, w in self._writers.items() if n != REJECTED)}"
        line = f"{self.stage}: {what}, rejected {self.n_rejected}"
        if self.reasons:
            line += " (" + ", ".join(f"{r}: {n}" for r, n in sorted(self.reasons.items())) + ")"
        if self.n_rejected:
            line += f"; see {self.out_dir / REJECTED}"
        return line

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            for w in self._writers.values():
                w.abort()
            return
        for w in self._writers.values():
            w.commit()
        outputs = {name: sha256_file(self.out_dir / name) for name in sorted([*self._writers, *self._extra_files])}
        counts = {name: w.count for name, w in sorted(self._writers.items())}
        counts.update(self.counts)
        manifest = {
            "stage": self.stage,
            "version": __version__,
            "inputs": input_fingerprint(self.inputs),
            "config": self.config,
            "counts": counts,
            "rejected_by_reason": dict(sorted(self.reasons.items())),
            "outputs": outputs,
        }
        tmp = self.out_dir / f".{MANIFEST}.tmp"
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.out_dir / MANIFEST)


def upstream_stage_dirs(start: Path, limit: int = 32) -> list[Path]:
    """Stage directories reachable from `start` through the manifests' input paths, nearest first."""
    out: list[Path] = []
    todo = [Path(start)]
    while todo and len(out) < limit:
        d = todo.pop(0).resolve()
        if d in out or read_manifest(d) is None:
            continue
        out.append(d)
        for inp in read_manifest(d).get("inputs", []):  # type: ignore[union-attr]
            parent = Path(inp.get("path", "")).parent
            if (parent / MANIFEST).exists():
                todo.append(parent)
    return out
