"""A small `golong-data run` config over real fixtures, for the crash, fault and secret tests."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from homes import isolated_home

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures"
_FROZEN: list[Path] = []


def frozen_source() -> Path:
    """A private copy of the package (+ taxonomy.yaml, prompts/), made once per test process.

    Runs that are compared byte for byte (a reference and a crashed-and-resumed run) must run the SAME code;
    in a working tree that others edit while the tests run, the installed package can change between them.
    """
    if not _FROZEN:
        root = Path(tempfile.mkdtemp(prefix="golong-frozen-"))
        atexit.register(shutil.rmtree, root, True)
        shutil.copytree(REPO / "golong_data", root / "golong_data", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(REPO / "taxonomy.yaml", root / "taxonomy.yaml")
        shutil.copytree(REPO / "prompts", root / "prompts")
        _FROZEN.append(root)
    return _FROZEN[0]


def gd_cmd() -> list[str]:
    """`golong-data` from the frozen copy (run_env puts it first on PYTHONPATH)."""
    return [sys.executable, "-c", "from golong_data.cli import main; main()"]
# What an uninterrupted and an interrupted run must agree on, byte for byte.
FINAL_FILES = ("synthesize/samples.jsonl", "verify/verified.jsonl", "export/train.parquet", "export/train.jsonl",
               "export/val.parquet", "export/val.jsonl")


def make_corpus(root: Path) -> Path:
    corpus = root / "corpus"
    if not corpus.exists():
        corpus.mkdir(parents=True)
        shutil.copy(FIX / "dialogues" / "chitchat_sample.json", corpus)
        shutil.copy(FIX / "books" / "persuasion.epub", corpus)
        shutil.copy(FIX / "papers" / "zoo__zoo-quickref.pdf", corpus)
    return corpus


def write_config(root: Path, work: str = "work", llm_url: str | None = None, **over: Any) -> Path:
    """pipeline.yaml under root; with llm_url, verify also runs the no-context check against that server."""
    make_corpus(root)
    cfg: dict[str, Any] = {
        "work_dir": work,
        "corpus": ["corpus"],
        "seed": 0,
        "chunk": {"max_tokens": 2048},
        "synthesize": {"per_type": 2, "buckets": ["2k"]},
        "verify": {"checks": ["gold"]},
        "export": {"size": 40, "val_per_type": 1, "plots": False},
    }
    if llm_url:
        cfg["llm"] = {"base_url": llm_url, "max_in_flight": 4, "cache_path": str(root / f"llm_cache-{work}.sqlite")}
        cfg["verify"] = {"checks": ["gold", "nocontext"], "solver": "fake"}
    for k, v in over.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) else v
    p = root / f"pipeline-{work}.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def run_env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update({"GOLONG_HOME": str(isolated_home(root / "home")), "PYTHONHASHSEED": "0",
                "PYTHONPATH": str(frozen_source())})
    env.update(extra)
    return env


def gd(args: list[str], root: Path, env: dict[str, str] | None = None, timeout: float = 600
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gd_cmd(), *args], cwd=root, env=env or run_env(root), capture_output=True, text=True,
                          timeout=timeout)
