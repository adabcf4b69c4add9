"""The CLI keeps its promises: every command has help, is in the README, and --help is instant."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from golong_data.cli import app

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ["ingest", "chunk", "dedup", "synthesize", "verify", "export", "score", "train", "run"]


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_required_commands_exist() -> None:
    missing = sorted(set(REQUIRED) - set(_commands()))
    assert not missing, f"commands missing from the CLI: {missing}"


def test_every_command_has_help_and_is_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    for name in _commands():
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert len(result.output) > 100, f"{name} --help says too little"
        assert f"golong-data {name}" in readme, f"README does not document `golong-data {name}`"


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t=time.perf_counter(); import golong_data.cli as c;"
        "heavy=[m for m in ('fitz','ebooklib','datasketch','openai','torch','numpy','pyarrow','tiktoken') "
        "if m in sys.modules]; print(heavy, time.perf_counter()-t)"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[]"), f"heavy modules imported at CLI start-up: {out}"
    assert time.perf_counter() - t0 < 5


def test_unknown_input_dir_is_one_red_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["chunk", "--in", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
