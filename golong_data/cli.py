"""The `golong-data` command line: one thin function per command.

Each command parses its options, imports its stage lazily (so `golong-data --help` stays instant),
calls one library function, and turns a GolongError into one red line that names the fix
(tracebacks only with --debug).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Build long-context RLVR training data (the GoLongRL recipe) and train on it.\n\n"
    "Stages: ingest -> chunk -> dedup -> synthesize -> verify -> export; then score / train. "
    "`golong-data run CONFIG` runs them all and skips what is up to date.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    _state["debug"] = debug


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GolongError (and bad option values) into one red line and exit code 1 (2 for usage)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from golong_data.errors import GolongError

        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except GolongError as e:
            if _state["debug"]:
                raise
            _fail(str(e))
        except (ValueError, FileNotFoundError) as e:
            if _state["debug"]:
                raise
            _fail(str(e), 2)
        except KeyboardInterrupt:
            _fail("interrupted; rerun the same command to resume", 130)

    return wrapper


def echo(line: str) -> None:
    """Summaries go to stderr so stdout stays clean for data (e.g. `score` without --out)."""
    typer.echo(line, err=True)


# ---------------------------------------------------------------- ingest (issue 2)
@app.command()
@handle_errors
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or directories (recursive): EPUB, PDF, JSON/JSONL dialogues, "
                                       "transcripts, .txt/.md."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory; writes documents.jsonl + rejected.jsonl."),
    strict: bool = typer.Option(False, help="Exit non-zero when any input was rejected."),
    shard: str | None = typer.Option(None, help="Process only shard i/N of the inputs (e.g. 0/4)."),
) -> None:
    """Read books, papers and dialogues into one document record each."""
    from golong_data.ingest import run_ingest

    summary = run_ingest(paths, out, shard=shard)
    echo(summary.line)
    if strict and summary.rejected:
        raise typer.Exit(1)


# ---------------------------------------------------------------- chunk (issue 4)
# ---------------------------------------------------------------- dedup (issue 4)
# ---------------------------------------------------------------- taxonomy + score (issue 3)
# ---------------------------------------------------------------- serve-local (issue 5)
# ---------------------------------------------------------------- synthesize (issue 6)
# ---------------------------------------------------------------- verify (issue 7)
# ---------------------------------------------------------------- export + run (issue 8)
# ---------------------------------------------------------------- train (issue 9)


def main() -> None:  # console-script entry point
    app(prog_name="golong-data")


if __name__ == "__main__":
    sys.exit(main())
