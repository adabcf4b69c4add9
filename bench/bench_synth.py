"""Synthesize throughput: 1,000 samples of 32K tokens from the sample corpus, with peak memory.

    python bench/bench_synth.py [CORPUS_DIR] [--samples N] [--bucket 32k]
    (default corpus: $GOLONG_HOME/corpus, else tests/fixtures)

Setup (not timed): ingest the books, the papers and the first 1,000 conversations of the dialogue file.
Timed: `run_synthesize` in a child process (all nine types, program constructors, ~N/9 per type), so its
peak RSS is the stage's own. Its time includes counting every document once, paragraph by paragraph.
Baseline on the same documents: the plain way to pad a context - pick random sections and tokenise each
one as it is added, then the finished context once to check its length (no cache) - for 50 contexts.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from golong_data import paths  # noqa: E402
from golong_data.records import Document, read_records  # noqa: E402
from golong_data.synth.stage import parse_bucket  # noqa: E402
from golong_data.tokens import get_tokenizer  # noqa: E402

CHILD = """
import json, sys, time
from pathlib import Path
from golong_data.synth.stage import SynthConfig, run_synthesize
t = time.perf_counter()
s = run_synthesize(Path(sys.argv[1]), Path(sys.argv[2]), SynthConfig(per_type=int(sys.argv[3]), buckets=[sys.argv[4]]))
print(json.dumps({"wall": time.perf_counter() - t, "made": sum(s.made.values())}))
print(s.table, file=sys.stderr)
"""


def arg(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def corpus_dir() -> Path:
    pos = [a for i, a in enumerate(sys.argv[1:], 1) if not a.startswith("--") and not sys.argv[i - 1].startswith("--")]
    if pos:
        return Path(pos[0])
    c = paths.home() / "corpus"
    return c if (c / "papers").is_dir() else ROOT / "tests" / "fixtures"


def setup(corpus: Path, work: Path) -> Path:
    from golong_data.ingest.stage import run_ingest

    inputs = [p for p in (corpus / "books", corpus / "papers") if p.is_dir()]
    chats = sorted((corpus / "dialogues").glob("*.json")) if (corpus / "dialogues").is_dir() else []
    if chats:
        # The whole chat file is ~7,000 conversations; 1,000 are plenty of far distractors and keep setup short.
        data = json.loads(chats[0].read_text(encoding="utf-8"))
        keys = list(data)[:1000]
        sliced = work / "dialogues" / chats[0].name
        sliced.parent.mkdir(parents=True)
        sliced.write_text(json.dumps({k: data[k] for k in keys}), encoding="utf-8")
        inputs.append(sliced.parent)
    out = work / "ingest"
    run_ingest(inputs, out)
    return out


def baseline(docs: list[Document], bucket: int, n: int) -> float:
    """Samples/s of uncached padding: every added section tokenised when picked, the result once more."""
    tok = get_tokenizer()
    secs = [(d, s) for d in docs for s in d.sections if s.end - s.start > 200] or [(d, None) for d in docs]
    rng = random.Random(0)
    t = time.perf_counter()
    for _ in range(n):
        parts, used = [], 0
        while used < bucket * 0.98:
            d, s = rng.choice(secs)
            text = d.text[s.start : s.end] if s else d.text
            k = tok.count(text)
            if used + k > bucket:
                continue
            parts.append(text)
            used += k
        tok.count("\n\n".join(parts))
    return n / (time.perf_counter() - t)


def main() -> None:
    n = int(arg("--samples", "1000"))
    bucket = arg("--bucket", "32k")
    corpus = corpus_dir()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        ing = setup(corpus, work)
        docs = list(read_records(ing / "documents.jsonl", Document))
        chars = sum(len(d.text) for d in docs)
        print(f"setup: ingested {len(docs)} documents ({chars / 1e6:.1f} M chars) from {corpus} in "
              f"{time.perf_counter() - t0:.1f} s (not timed below)")
        per_type = -(-n // 9)
        r = subprocess.run([sys.executable, "-c", CHILD, str(ing), str(work / "synth"), str(per_type), bucket],
                           capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            sys.exit(f"synthesize failed:\n{r.stderr[-2000:]}")
        got = json.loads(r.stdout.strip().splitlines()[-1])
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out_mb = (work / "synth" / "samples.jsonl").stat().st_size / 1e6
        print("\n".join(
            line for line in r.stderr.splitlines() if line and not line.startswith("synthesize:")))
        rate = got["made"] / got["wall"]
        print(f"synthesize: {got['made']} samples of {bucket} in {got['wall']:.1f} s = {rate:.1f} samples/s "
              f"({rate * parse_bucket(bucket) / 1e6:.2f} M context tokens/s); peak RSS {peak_mb:.0f} MB; "
              f"samples.jsonl {out_mb:.0f} MB")
        base = baseline(docs, parse_bucket(bucket), 50)
        print(f"baseline (uncached padding, 50 contexts of {bucket}): {base:.1f} samples/s; "
              f"ours {rate / base:.1f}x (ours also builds the question, checks and writes each sample)")


if __name__ == "__main__":
    main()
