"""The golden pipeline run (issue 17): the demo's stages over the bundled documents, single or sharded, and the
sha256 of every output a stage hands on (its JSONL files and the exported parquet).

    python -m tests.golden.golden --update    # rewrite tests/golden/demo.sha256.json (say why in the commit)

demo.sha256.json was written by this module at commit 48d0ca9, the last commit before the package moves of
issue 17, so it holds what the pre-reorganisation code wrote -- not what the code under test writes. Manifests and
the card are left out: they name absolute paths and the config text, which differ between runs by design. The
documents and ledgers name their source files by absolute path, so the fixtures' folder is written as <fixtures>
before hashing: the digests do not depend on where the checkout lies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
FIXTURES = (HERE.parent / "fixtures").resolve()
CONFIG = HERE / "demo.yaml"
GOLDEN = HERE / "demo.sha256.json"
STAGES = ("ingest", "chunk", "dedup", "synthesize", "verify", "export")


def write_config(dest: Path, shards: int = 1) -> Path:
    """demo.yaml with absolute corpus paths (and a shards section when shards > 1), written into dest."""
    cfg = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    cfg["corpus"] = [str(FIXTURES / Path(c).name) for c in cfg["corpus"]]
    if shards > 1:
        cfg["shards"] = {"n": shards, "executor": "local", "workers": 2}
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def parquet_rows_digest(path: Path) -> str:
    """sha256 of the parquet's rows as canonical JSON: what the file holds, independent of the writer's version."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def digests(work: Path) -> dict[str, Any]:
    """{stage/file: sha256} for every JSONL and parquet file of every stage directory under work."""
    files: dict[str, str] = {}
    rows: dict[str, str] = {}
    for stage in STAGES:
        for f in sorted((work / stage).iterdir()):
            if f.suffix in (".jsonl", ".parquet"):
                key = f"{stage}/{f.name}"
                data = f.read_bytes().replace(str(FIXTURES).encode(), b"<fixtures>")
                files[key] = hashlib.sha256(data).hexdigest()
                if f.suffix == ".parquet":
                    rows[key] = parquet_rows_digest(f)
    return {"files": files, "parquet_rows": rows}


def run(dest: Path, shards: int = 1) -> dict[str, Any]:
    from golong_data.pipeline.run import run_pipeline

    cfg = write_config(dest, shards)
    run_pipeline(cfg)
    return digests(cfg.parent / "work")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--update", action="store_true", help="rewrite demo.sha256.json from a single run")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/golong-golden"))
    args = ap.parse_args()
    got = run(args.dir / "single")
    if args.update:
        import pyarrow

        GOLDEN.write_text(json.dumps({"pyarrow": pyarrow.__version__, **got}, indent=1, sort_keys=True) + "\n",
                          encoding="utf-8")
        print(f"wrote {GOLDEN}", file=sys.stderr)
    else:
        print(json.dumps(got, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
