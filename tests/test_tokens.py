"""The tokenizer: known Qwen ids, an independent pure-Python BPE reference, HF tokenizer.json, speed."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
import regex

from golong_data.errors import GolongError
from golong_data.tokens import count_tokens, get_tokenizer, qwen_path

# Qwen2's pre-tokenisation pattern, copied here from Qwen's tokenizer.json (not imported: a typo in the
# module must fail the reference comparison).
PATTERN = regex.compile(
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# Ids published for Qwen2/Qwen3 (CORPUS.md; checked against Qwen's own tokenizer).
KNOWN = {
    "Hello world": [9707, 1879],
    "你好，世界": [108386, 3837, 99489],
    "Hello, world! 12345": [9707, 11, 1879, 0, 220, 16, 17, 18, 19, 20],
}
CODE = "def f(x):\n    return x**2  # sq\n"


@pytest.fixture(scope="module")
def ranks() -> dict[bytes, int]:
    if not qwen_path().exists():
        pytest.fail(f"{qwen_path()} missing: run `python -m golong_data.tokens --fetch`")
    out = {}
    for line in qwen_path().read_bytes().splitlines():
        tok, rank = line.split()
        out[base64.b64decode(tok)] = int(rank)
    return out


def reference_encode(text: str, ranks: dict[bytes, int]) -> list[int]:
    """Byte-pair encoding the slow, obvious way: merge the lowest-ranked adjacent pair until none is left."""
    ids: list[int] = []
    for piece in PATTERN.findall(text):
        parts = [bytes([b]) for b in piece.encode("utf-8")]
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: ranks.get(parts[i] + parts[i + 1], 1 << 30))
            if parts[best] + parts[best + 1] not in ranks:
                break
            parts[best : best + 2] = [parts[best] + parts[best + 1]]
        ids.extend(ranks[p] for p in parts)
    return ids


@pytest.mark.parametrize("text,ids", list(KNOWN.items()))
def test_known_qwen_ids(text: str, ids: list[int]) -> None:
    tok = get_tokenizer()
    assert tok.encode(text) == ids
    assert tok.count(text) == len(ids) == count_tokens(text)
    assert tok.decode(ids) == text


def test_code_numbers_and_prose_match_reference_bpe(ranks: dict[bytes, int], fixtures: Path) -> None:
    import pymupdf as fitz

    tok = get_tokenizer()
    with fitz.open(fixtures / "papers" / "Rcpp__Rcpp-introduction.pdf") as pdf:
        paper = "".join(page.get_text() for page in pdf)[:20000]  # code, maths, two-column prose
    for text in [CODE, "x = 3.14159 * 2**10; y = [1, 22, 333]\n", "¿Qué tal?  Ünïcödé — “quotes” …", paper]:
        assert tok.encode(text) == reference_encode(text, ranks), text[:60]
        assert tok.decode(tok.encode(text)) == text
    # Written down after the reference agreed: digits one per token, 4-space indent one token.
    assert tok.encode(CODE) == [750, 282, 2075, 982, 262, 470, 856, 334, 17, 220, 671, 18031, 198]


def test_special_tokens_map_to_qwen_ids() -> None:
    assert get_tokenizer().encode("<|im_start|>user\nhi<|im_end|><|endoftext|>") == [
        151644, 872, 198, 6023, 151645, 151643,
    ]


def test_default_is_cached_and_named() -> None:
    assert get_tokenizer() is get_tokenizer(None) is get_tokenizer("qwen")
    assert get_tokenizer().name == "qwen"


def test_missing_rank_file_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import golong_data.tokens as t

    monkeypatch.setenv("GOLONG_HOME", str(tmp_path))
    t._load.cache_clear()
    try:
        with pytest.raises(GolongError) as e:
            t.get_tokenizer()
        assert "--fetch" in str(e.value) and "make install" in str(e.value)
    finally:
        t._load.cache_clear()


def test_hf_tokenizer_json(tmp_path: Path, fixtures: Path) -> None:
    """A real tokenizer.json trained here with `tokenizers` on a real paper; ours must agree with the library."""
    import pymupdf as fitz
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    with fitz.open(fixtures / "papers" / "sandwich__sandwich.pdf") as pdf:
        text = "".join(page.get_text() for page in pdf)
    hf = Tokenizer(models.BPE(unk_token="[UNK]"))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.train_from_iterator(text.split("\n\n"), trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]"]))
    path = tmp_path / "tokenizer.json"
    hf.save(str(path))
    tok = get_tokenizer(path)
    assert tok is get_tokenizer(str(path)) and tok is get_tokenizer(tmp_path)  # a directory works too
    sample = text[:3000]
    assert tok.encode(sample) == hf.encode(sample).ids
    assert tok.count(sample) == len(hf.encode(sample).ids) > 500
    with pytest.raises(GolongError):
        get_tokenizer(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(GolongError):
        get_tokenizer(bad)


def test_counting_runs_on_the_native_bpe_not_a_python_fallback(fixtures: Path) -> None:
    # A functional bound, not a benchmark (make bench measures speed): tiktoken counts ~3 MB/s on one quiet core,
    # a pure-Python BPE ~0.1 MB/s. 0.3 MB/s separates the two even with other processes on the cores.
    import pymupdf as fitz

    with fitz.open(fixtures / "papers" / "survival__multi.pdf") as a, fitz.open(
        fixtures / "papers" / "lme4__Theory.pdf"
    ) as b:
        text = "".join(p.get_text() for p in a) + "".join(p.get_text() for p in b)
    text = (text * (1_000_000 // len(text) + 1))[:1_000_000]
    tok = get_tokenizer()
    best = min(_timed(tok.count, text) for _ in range(3))
    assert len(text.encode()) / best >= 300_000, f"{len(text.encode()) / best / 1e6:.2f} MB/s"


def _timed(fn, arg) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t0
