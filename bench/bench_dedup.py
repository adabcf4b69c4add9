"""MinHash near-duplicate removal of >= 100,000 chunks of the sample corpus: ours next to the straightforward
datasketch way, same clusters required.

    python bench/bench_dedup.py [--chunks 100000] [--max-tokens 64]     # run by `make bench`

Data: the corpus' six Austen novels, 45 R vignettes (PDF) and the chitchat dialogues, chunked by
golong_data.chunk (Qwen tokens); then, on purpose, 5% of the chunks copied exactly and 5% copied with their
first word dropped (a shifted boundary: a near duplicate), shuffled in with a fixed seed.

  ours:     BatchMinHasher (sha1 per shingle, one numpy permutation per batch) + dedup_minhash.cluster
            (recall-weighted LSH bands indexed by sorting numpy arrays; exact Jaccard near the threshold)
  baseline: per chunk `MinHash(num_perm=128)` and `update(shingle)` per shingle, then the same greedy
            keep-the-longest over a `MinHashLSH` (same bands) holding the MinHash objects, similarity by
            `MinHash.jaccard`, and the same exact-Jaccard check within VERIFY_MARGIN of the threshold.

Each side runs in a forked child so its peak memory (VmHWM - VmRSS at the start) is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

from golong_data import paths

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CORPUS = paths.home() / "corpus"
THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def corpus_documents() -> list[tuple[str, str]]:
    import pymupdf

    docs = [(p.name, p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "books").glob("*.txt"))]
    for p in sorted((CORPUS / "papers").glob("*.pdf")):
        with pymupdf.open(p) as pdf:
            docs.append((p.name, "".join(page.get_text() for page in pdf)))
    chats = json.loads((CORPUS / "dialogues" / "chitchat.json").read_text(encoding="utf-8"))
    for cid in sorted(chats):
        turns = ["\n".join(m["text"] for m in turn) for turn in chats[cid]["messages"]]
        docs.append((cid, "\n\n".join(turns)))
    return docs


def build_chunks(target: int, max_tokens: int) -> list[str]:
    """Real chunks (our chunker), then 5% exact and 5% near copies; deterministic."""
    import hashlib

    from golong_data.chunk import chunk_document
    from golong_data.records import Document
    from golong_data.tokens import get_tokenizer

    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    stamp = hashlib.sha256(repr([(p.name, p.stat().st_size) for p in files]).encode()).hexdigest()[:12]
    cache = CORPUS.parent / "bench" / f"dedup_chunks_{max_tokens}_{stamp}.json"
    if cache.exists():  # chunking the whole corpus takes ~1 min: done once (bench_tokens times the chunker)
        texts = json.loads(cache.read_text(encoding="utf-8"))
    else:
        tok = get_tokenizer()
        texts = []
        for name, text in corpus_documents():
            doc = Document(name, "text", name, "en", {}, text)
            texts.extend(text[c.start : c.end] for c in chunk_document(doc, tok, max_tokens))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache)
    rng = random.Random(0)
    base = texts[: int(target / 1.1) + 1] if len(texts) * 1.1 >= target else texts
    extra = [base[i] for i in rng.sample(range(len(base)), len(base) // 20)]
    extra += [" ".join(base[i].split()[1:]) for i in rng.sample(range(len(base)), len(base) // 20)]
    out = base + extra
    while len(out) < target:  # a corpus too small for the target: more exact copies
        out.append(base[rng.randrange(len(base))])
    rng.shuffle(out)
    return out


def _rss(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def ours(texts: list[str]) -> dict[int, int]:
    from golong_data.dedup.minhash import BatchMinHasher, ExactJaccard, cluster, exact_key, words

    hasher = BatchMinHasher(num_perm=NUM_PERM, ngram=NGRAM)
    keys, lengths, has_sig, parts, pending = [], [], [], [], []
    for t in texts:  # streamed as the stage does: signatures per batch, word lists dropped after
        ws = words(t)
        keys.append(exact_key(ws, t))
        lengths.append(len(t))
        has_sig.append(bool(ws))
        pending.append(ws)
        if len(pending) == 1024:
            parts.append(hasher.signatures(pending))
            pending = []
    parts.append(hasher.signatures(pending))
    import numpy as np

    sigs = np.concatenate(parts)
    order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
    verify = ExactJaccard(lambda i: words(texts[i]), NGRAM)  # the stage re-reads the text the same way
    return {d.index: d.kept for d in cluster(order, keys, sigs, np.array(has_sig), THRESHOLD, verify=verify)}


def baseline(texts: list[str]) -> dict[int, int]:
    from datasketch import MinHash, MinHashLSH

    from golong_data.dedup.minhash import VERIFY_MARGIN, exact_key, jaccard, lsh_params, shingles, words

    mins, keys, lengths = [], [], []
    for t in texts:
        ws = words(t)
        m = MinHash(num_perm=NUM_PERM)
        for s in shingles(ws, NGRAM):
            m.update(s)
        mins.append(m if ws else None)
        keys.append(exact_key(ws, t))
        lengths.append(len(t))
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, params=lsh_params(THRESHOLD, NUM_PERM))
    seen: dict[bytes, int] = {}
    drops: dict[int, int] = {}
    order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
    rank = {i: r for r, i in enumerate(order)}
    for i in order:
        if keys[i] in seen:
            drops[i] = seen[keys[i]]
            continue
        seen[keys[i]] = i
        if mins[i] is None:
            continue
        sims = {c: mins[i].jaccard(mins[c]) for c in lsh.query(mins[i])}
        if sims and THRESHOLD - VERIFY_MARGIN <= max(sims.values()) < THRESHOLD + VERIFY_MARGIN:
            sims = {c: jaccard(words(texts[i]), words(texts[c]), NGRAM) for c, j in sims.items()
                    if j >= THRESHOLD - VERIFY_MARGIN}
        best = None
        for c, j in sims.items():
            if j >= THRESHOLD and (best is None or (j, -rank[c]) > best[0]):
                best = ((j, -rank[c]), c)
        if best is not None:
            drops[i] = best[1]
        else:
            lsh.insert(i, mins[i], check_duplication=False)
    return drops


def _child(name: str, texts: list[str], q: mp.Queue) -> None:
    fn = {"ours": ours, "baseline": baseline}[name]
    rss0 = _rss("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    drops = fn(texts)
    q.put((time.perf_counter() - t0, time.process_time() - c0, _rss("VmHWM") - rss0, drops))


def run(name: str, texts: list[str]) -> tuple[float, float, int, dict[int, int]]:
    import datasketch  # noqa: F401 - imported before forking: neither side pays its ~1 s import (scipy)

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(name, texts, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--max-tokens", type=int, default=64)
    a = ap.parse_args()
    if not (CORPUS / "books").is_dir():
        print(f"corpus not found at {CORPUS}: run `make demo` (or scripts/fetch_corpus.sh {CORPUS}) first")
        return 1
    t0 = time.perf_counter()
    texts = build_chunks(a.chunks, a.max_tokens)
    n_shingles = sum(max(1, len(t.split()) - NGRAM + 1) for t in texts)
    print(f"{len(texts):,} chunks of <= {a.max_tokens} Qwen tokens (~{n_shingles:,} shingles), "
          f"{sum(map(len, texts)) / 1e6:.1f} M chars; built in {time.perf_counter() - t0:.0f} s")
    t_ours, c_ours, m_ours, d_ours = run("ours", texts)
    t_base, c_base, m_base, d_base = run("baseline", texts)
    same = d_ours == d_base
    print(f"{'':10} {'wall s':>8} {'CPU s':>7} {'chunks/s':>9} {'peak MiB':>9} {'bytes/chunk':>12} {'dropped':>8}")
    for name, t, c, m, d in (("ours", t_ours, c_ours, m_ours, d_ours),
                             ("baseline", t_base, c_base, m_base, d_base)):
        print(f"{name:10} {t:8.1f} {c:7.1f} {len(texts) / t:9,.0f} {m / 2**20:9.0f} {m / len(texts):12,.0f} "
              f"{len(d):8,}")
    # CPU time is the fair comparison on a shared machine: wall time also counts other jobs' turns.
    print(f"speed-up {t_base / t_ours:.1f}x wall, {c_base / c_ours:.1f}x CPU; same clusters: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
