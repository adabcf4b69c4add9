"""Token counting and chunking speed on the sample corpus, next to the plain-library baselines.

    python bench/bench_tokens.py            # run by `make bench`; needs the corpus (`make demo` fetches it)

Counting: golong_data.tokens (Qwen BPE through tiktoken) vs a bare tiktoken.Encoding built from the same
rank file (the wrapper's overhead) and vs the pure-Python BPE that defines the result (tests/test_tokens.py).
Chunking: golong_data.chunk (boundary-aware, exact) vs the plain approach of encoding the whole text and
decoding fixed windows of N token ids (no boundaries, spans not exact).
"""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path

from golong_data import paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = paths.home() / "corpus"


def corpus_texts() -> dict[str, str]:
    import pymupdf

    books = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((CORPUS / "books").glob("*.txt")))
    papers = []
    for p in sorted((CORPUS / "papers").glob("*.pdf"))[:15]:
        with pymupdf.open(p) as pdf:
            papers.append("".join(page.get_text() for page in pdf))
    zh = (ROOT / "tests" / "chunk" / "data" / "fortunes-zh-excerpt.txt").read_text(encoding="utf-8")
    return {"Austen novels": books, "R vignettes (15 PDFs)": "\n\n".join(papers), "Chinese (fortunes-zh)": zh * 40}


def timed(fn, *args):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(2):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    import regex
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    from golong_data.chunk import chunk_document
    from golong_data.records import Document
    from golong_data.tokens import QWEN_PATTERN, QWEN_SPECIAL, get_tokenizer, qwen_path

    if not (CORPUS / "books").is_dir():
        print(f"corpus not found at {CORPUS}: run `make demo` (or scripts/fetch_corpus.sh {CORPUS}) first")
        return 1
    tok = get_tokenizer()
    bare = tiktoken.Encoding("bare", pat_str=QWEN_PATTERN, mergeable_ranks=load_tiktoken_bpe(str(qwen_path())),
                             special_tokens=QWEN_SPECIAL)
    ranks = {base64.b64decode(t): int(r) for t, r in (ln.split() for ln in qwen_path().read_bytes().splitlines())}
    pat = regex.compile(QWEN_PATTERN)

    def pure_python(text: str) -> int:
        n = 0
        for piece in pat.findall(text):
            parts = [bytes([b]) for b in piece.encode()]
            while len(parts) > 1:
                i = min(range(len(parts) - 1), key=lambda k: ranks.get(parts[k] + parts[k + 1], 1 << 30))
                if parts[i] + parts[i + 1] not in ranks:
                    break
                parts[i : i + 2] = [parts[i] + parts[i + 1]]
            n += len(parts)
        return n

    print("Token counting, one core (MB of UTF-8 per second; best of 2)")
    print(f"{'text':24} {'MB':>6} {'tokens':>10} {'ours':>8} {'tiktoken':>9} {'ratio':>6} {'pure-Python':>12}")
    for name, text in corpus_texts().items():
        mb = len(text.encode()) / 1e6
        t_ours, n = timed(tok.count, text)
        t_bare, n_bare = timed(lambda s: len(bare.encode(s, allowed_special="all")), text)
        assert n == n_bare
        sample = text[:100_000]
        t0 = time.perf_counter()
        assert pure_python(sample) == tok.count(sample)
        t_py = (time.perf_counter() - t0) * len(text) / len(sample)
        print(f"{name:24} {mb:6.2f} {n:10,} {mb / t_ours:8.2f} {mb / t_bare:9.2f} {t_bare / t_ours:6.2f} "
              f"{mb / t_py:12.3f}")

    books = corpus_texts()["Austen novels"]
    doc = Document("doc-bench", "book", "austen", "en", {}, books)
    mb = len(books.encode()) / 1e6
    print("\nChunking the Austen novels (one document, no sections)")
    print(f"{'N':>6} {'ours MB/s':>10} {'chunks':>7} {'windows MB/s':>13} {'ratio':>6}")
    for n in (512, 4096):
        t_ours, chunks = timed(chunk_document, doc, tok, n)
        assert all(c.n_tokens <= n for c in chunks)

        def windows(text: str, n: int = n) -> list[str]:
            ids = tok.encode(text)
            return [tok.decode(ids[i : i + n]) for i in range(0, len(ids), n)]

        t_win, _ = timed(windows, books)
        print(f"{n:6} {mb / t_ours:10.2f} {len(chunks):7} {mb / t_win:13.2f} {t_win / t_ours:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
