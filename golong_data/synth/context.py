"""Long contexts: documents cut into section-aligned pieces, distractor padding to a token bucket, evidence placement.

    lib = Library(documents, tokenizer)          # token counts are cached per paragraph, once per document
    pieces = lib.pieces(doc_id, max_tokens=4096)  # whole sections (chapters, pages, turns) or parts of them
    ctx = assemble(lib, evidence=[...], budget=31000, rng=rng, forbid=["a quoted line"])
    ctx.text                                      # "=== heading ===\\nbody\\n\\n=== heading ===\\n..."

Why paragraphs: a bucket must be filled to within +-2 % of its size, which whole chapters (3-6K tokens) cannot
do, while re-tokenising whole documents for every sample is what makes naive padding slow. Every document is
split once into *units* (paragraphs inside each section, a turn, a page); each unit is counted once and the
count cached. A piece is a run of units, so its token count is a sum, and the context's count is the sum of
its pieces plus their headings. The sum matches a real tokenisation of the context to a few tokens per piece,
because units are cut right after blank lines, where Qwen's pre-tokeniser splits anyway (the test checks it).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from golong_data.records import Document

# A unit boundary: just after a blank line (paragraph break). PDF pages have few blank lines; a page is then one unit.
_PARA_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A piece (evidence or distractor) holds at least a sentence: a one-word chat ("No") or a page left with a
# figure's axis labels ("14") teaches nothing and only adds a heading.
MIN_PIECE_WORDS = 8
# An opaque identifier (a UUID: 36 characters, ~25 Qwen tokens of noise) teaches nothing to read; a piece holding
# one is never offered as evidence or distractor (the demo corpus prints one in a paper's code listing).
OPAQUE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# ---------------------------------------------------------------- sentences
# . ! ? (runs, then closing quotes/brackets) before whitespace or the end of the text.
_SENT_END = re.compile(r"[.!?]+[\"'’”)\]]*(?=\s|$)")
# A period after these does not end a sentence ("Mr. Knightley", "et al. (2008)", "Fig. 3").
ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Messrs Mme Mlle Dr St Jr Sr Prof Rev Col Capt Gen Lt Sgt Hon Gov Sen Rep Esq "
    "al cf vs viz Fig Figs Eq Eqs No Nos Vol Vols pp Sec Sect Ch Ref Refs approx resp Jan Feb Mar Apr "
    "Aug Sep Sept Oct Nov Dec".split()
)
_WORD_BEFORE = re.compile(r"(\S+)$")


def _ends_sentence(text: str, m: re.Match[str], casual: bool) -> bool:
    """Whether the punctuation run m ends a sentence: not the period of an abbreviation or an initial
    ("A. Zeileis", "e.g."), and (except in casual chat, written in lower case) not followed by a lower-case
    word ('"Where?" said he.')."""
    if m.group().startswith(".") and m.group().rstrip("\"'’”)]") == ".":
        w = _WORD_BEFORE.search(text, max(0, m.start() - 40), m.start())  # (a window: linear overall)
        word = w.group(1).lstrip("(\"'‘“[") if w else ""
        if word in ABBREVIATIONS or (len(word) == 1 and word.isupper()) or "." in word:
            return False
    if not casual:
        nxt = re.match(r"\s*(\S)", text[m.end() : m.end() + 40])
        if nxt and nxt.group(1).islower():
            return False
    return True


def sentence_spans(text: str, *, lines: bool = False, cuts: Sequence[int] = ()) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding whitespace left out.

    Boundaries: sentence ends (see _ends_sentence), blank lines, the positions in `cuts` (section starts),
    and with `lines` every line end (chat messages: one line each, often without a final period). Without
    `lines` a single newline is a hard line wrap inside a sentence (Gutenberg text), not a boundary.
    """
    bounds = {0, len(text), *(c for c in cuts if 0 < c < len(text))}
    bounds.update(m.end() for m in _SENT_END.finditer(text) if _ends_sentence(text, m, casual=lines))
    bounds.update(m.start() for m in _PARA_BREAK.finditer(text))
    if lines:
        bounds.update(m.start() for m in re.finditer("\n", text))
    out = []
    edges = sorted(bounds)
    for a, b in zip(edges, edges[1:], strict=False):
        seg = text[a:b]
        s = seg.strip()
        if s:
            a += len(seg) - len(seg.lstrip())
            out.append((a, a + len(s)))
    return out
HEADING_FMT = "=== {} ==="
PIECE_SEP = "\n\n"


@dataclass(frozen=True)
class Unit:
    start: int  # char offsets into Document.text
    end: int
    section: int  # index into Document.sections; -1 for the gap between two sections
    n_tokens: int


@dataclass(frozen=True)
class Piece:
    """A section-aligned slice of one document, shown in a context under its own heading.

    `cut` removes a region from the body (summarization hides a paper's abstract); everything else is the
    exact slice doc.text[start:end], so evidence offsets map into the prompt by addition.
    """

    doc_id: str
    heading: str
    start: int
    end: int
    n_tokens: int  # tokens of the body (not the heading)
    sections: tuple[int, ...] = ()
    cut: tuple[int, int] | None = None


@dataclass
class Context:
    pieces: list[Piece]
    headings: list[str]  # as rendered (a distractor whose heading collides gets a " [2]" suffix)
    text: str
    body_offsets: list[int]  # where each piece's body starts in `text`
    n_tokens: int  # additive count of `text`
    evidence_index: list[int]  # positions in `pieces` of the evidence pieces
    piece_tokens_before: list[int] = field(default_factory=list)  # tokens of `text` before each piece

    def locate(self, doc_id: str, start: int, end: int) -> tuple[int, int] | None:
        """Where doc.text[start:end] sits in the rendered context (None when not shown)."""
        for p, off in zip(self.pieces, self.body_offsets, strict=True):
            if p.doc_id != doc_id or not (p.start <= start and end <= p.end):
                continue
            if p.cut is None:
                return off + start - p.start, off + end - p.start
            c0, c1 = p.cut
            if end <= c0:
                return off + start - p.start, off + end - p.start
            if start >= c1:
                shift = (c0 - p.start) + len(PIECE_SEP)
                return off + shift + start - c1, off + shift + end - c1
        return None


def _line_start(text: str, p: int) -> int:
    return text.rfind("\n", 0, p) + 1


def _next_line(text: str, p: int) -> int:
    """The start of the line after position p (p itself when it already starts a line)."""
    if p >= len(text) or p == 0 or text[p - 1] == "\n":
        return min(p, len(text))
    q = text.find("\n", p)
    if q < 0:
        return len(text)
    while q < len(text) and text[q] in "\r\n":
        q += 1
    return q


def split_units(doc: Document) -> list[tuple[int, int, int]]:
    """(start, end, section) units tiling the whole text; text outside every section is section -1.

    Section bounds are widened to whole lines (a "speaker: " prefix joins its turn) and cuts inside a section
    fall just after blank lines: both are places where Qwen's pre-tokeniser splits anyway, so the unit counts
    add up to the count of the joined text.
    """
    text = doc.text
    spans = [(_line_start(text, s.start), _next_line(text, s.end)) for s in doc.sections] or [(0, len(text))]
    out: list[tuple[int, int, int]] = []
    prev_end = 0
    for i, (s0, s1) in enumerate(spans):
        s0 = max(s0, prev_end)
        if s1 <= s0:
            continue
        if s0 > prev_end:
            out.append((prev_end, s0, -1))
        cut = s0
        for m in _PARA_BREAK.finditer(text, s0, s1):
            if m.end() < s1 and m.end() > cut:
                out.append((cut, m.end(), i))
                cut = m.end()
        out.append((cut, s1, i))
        prev_end = s1
    if prev_end < len(text):
        out.append((prev_end, len(text), -1))
    return out


class Library:
    """All documents of a run, with per-unit token counts computed lazily and cached (never per sample)."""

    def __init__(self, documents: Sequence[Document], tokenizer: Any) -> None:
        self.docs: dict[str, Document] = {d.id: d for d in documents}
        self.order: list[str] = sorted(self.docs)  # id order: independent of input order and of dict order
        self.tok = tokenizer
        self._units: dict[str, list[Unit]] = {}
        self._pieces: dict[tuple[str, int], list[Piece]] = {}
        self._heading_tokens: dict[str, int] = {}
        self._tail: dict[tuple[str, int], int] = {}
        self.units_counted = 0

    # ---- cached measurements
    def count(self, text: str) -> int:
        return self.tok.count(text)

    def units(self, doc_id: str) -> list[Unit]:
        if doc_id not in self._units:
            doc = self.docs[doc_id]
            units = [Unit(a, b, s, self.tok.count(doc.text[a:b])) for a, b, s in split_units(doc)]
            self.units_counted += len(units)
            self._units[doc_id] = units
        return self._units[doc_id]

    def heading_tokens(self, heading: str) -> int:
        if heading not in self._heading_tokens:
            self._heading_tokens[heading] = self.tok.count(HEADING_FMT.format(heading) + "\n")
        return self._heading_tokens[heading]

    def tail_tokens(self, piece: Piece) -> int:
        """Tokens the separator after this piece adds. Not simply count(PIECE_SEP): a body ending in
        punctuation merges with the newlines that follow ('."\\n\\n' is one pre-token), so count the last
        few characters with and without it (cached per piece end)."""
        key = (piece.doc_id, piece.end)
        if key not in self._tail:
            s = self.docs[piece.doc_id].text[max(piece.start, piece.end - 64) : piece.end]
            self._tail[key] = self.tok.count(s + PIECE_SEP) - self.tok.count(s)
        return self._tail[key]

    def body(self, piece: Piece) -> str:
        text = self.docs[piece.doc_id].text
        if piece.cut is None:
            return text[piece.start : piece.end]
        c0, c1 = piece.cut
        return text[piece.start : c0] + PIECE_SEP + text[c1 : piece.end]

    def piece_cost(self, piece: Piece, heading: str | None = None) -> int:
        """Tokens of "=== heading ===\\n" + body + "\\n\\n" in a context (the last separator is the one
        the prompt puts before the question)."""
        return self.heading_tokens(heading or piece.heading) + piece.n_tokens + self.tail_tokens(piece)

    # ---- pieces
    def pieces(self, doc_id: str, max_tokens: int) -> list[Piece]:
        """The document as section-aligned pieces of at most ~max_tokens (cached per document and size).

        Books keep each chapter whole when it fits, else cut it into balanced parts at paragraph breaks;
        papers and dialogues are whole when they fit, else runs of whole pages / turns.
        """
        key = (doc_id, max_tokens)
        if key not in self._pieces:
            doc = self.docs[doc_id]
            self._pieces[key] = [p for p in self._make_pieces(doc, max_tokens)
                                 if self.has_a_sentence(p) and not OPAQUE_ID.search(self.body(p))]
        return self._pieces[key]

    def doc_has_a_sentence(self, doc_id: str) -> bool:
        """Whether the document can give any piece at all (see has_a_sentence); no tokenizing needed."""
        return self.has_a_sentence(Piece(doc_id, "", 0, len(self.docs[doc_id].text), 0))

    def has_a_sentence(self, piece: Piece) -> bool:
        """At least MIN_PIECE_WORDS words of the document's own text (a chat's "speaker: " labels not counted)."""
        doc = self.docs[piece.doc_id]
        if doc.kind != "dialogue":
            return len(doc.text[piece.start : piece.end].split()) >= MIN_PIECE_WORDS
        said = (doc.text[max(s.start, piece.start) : min(s.end, piece.end)] for s in doc.sections)
        return sum(len(t.split()) for t in said) >= MIN_PIECE_WORDS

    def _make_pieces(self, doc: Document, max_tokens: int) -> Iterator[Piece]:
        units = self.units(doc.id)
        if not units:
            return
        by_section: dict[int, list[int]] = {}
        for i, u in enumerate(units):
            if u.section >= 0:
                by_section.setdefault(u.section, []).append(i)
        total = sum(u.n_tokens for u in units)
        whole_ok = doc.kind in ("paper", "dialogue")
        if whole_ok and total <= max_tokens:
            yield Piece(doc.id, doc.title or doc.id, units[0].start, units[-1].end, total, tuple(sorted(by_section)))
            return
        if whole_ok:
            # Runs of whole pages / turns (gap units ride along with the section before them).
            label = "pages" if doc.kind == "paper" else "turns"
            run: list[int] = []
            run_tok = 0
            firsts = sorted(idx[0] for idx in by_section.values())
            for n_s, f in enumerate(firsts):
                # A section's group: its first unit up to the next section's first unit (gaps ride along);
                # the first group also takes any text before the first section.
                lo = 0 if n_s == 0 else f
                hi = firsts[n_s + 1] if n_s + 1 < len(firsts) else len(units)
                idx = list(range(lo, hi))
                s = units[f].section
                tok = sum(units[i].n_tokens for i in idx)
                if run and run_tok + tok > max_tokens:
                    yield self._run_piece(doc, units, run, label)
                    run, run_tok = [], 0
                if tok > max_tokens:
                    yield from self._split_section(doc, units, idx, s, max_tokens)
                    continue
                run.extend(idx)
                run_tok += tok
            if run:
                yield self._run_piece(doc, units, run, label)
            return
        for s in sorted(by_section):
            idx = by_section[s]
            tok = sum(units[i].n_tokens for i in idx)
            if tok <= max_tokens:
                yield Piece(doc.id, self._section_heading(doc, s), units[idx[0]].start, units[idx[-1]].end, tok, (s,))
            else:
                yield from self._split_section(doc, units, idx, s, max_tokens)

    def _section_heading(self, doc: Document, s: int) -> str:
        title = doc.sections[s].title.strip() if doc.sections else ""
        title = " ".join(title.split()) or f"section {s + 1}"
        return f"{doc.title} — {title}" if doc.title else title

    def _run_piece(self, doc: Document, units: list[Unit], run: list[int], label: str) -> Piece:
        secs = sorted({units[i].section for i in run if units[i].section >= 0})
        a, b = secs[0] + 1, secs[-1] + 1
        rng = f"{label[:-1]} {a}" if a == b else f"{label} {a}–{b}"
        heading = f"{doc.title or doc.id} ({rng})"
        return Piece(doc.id, heading, units[run[0]].start, units[run[-1]].end,
                     sum(units[i].n_tokens for i in run), tuple(secs))

    def _split_section(
        self, doc: Document, units: list[Unit], idx: list[int], s: int, max_tokens: int
    ) -> Iterator[Piece]:
        tok = sum(units[i].n_tokens for i in idx)
        n = -(-tok // max_tokens)
        target = tok / n
        parts: list[list[int]] = [[]]
        acc = part = 0
        for i in idx:
            # Balanced parts: a new part once this one holds its share, or when the unit would overflow it
            # (only a single paragraph longer than max_tokens makes a part longer than that).
            u = units[i].n_tokens
            if parts[-1] and (part + u > max_tokens or (acc + u / 2 > target * len(parts) and len(parts) < n)):
                parts.append([])
                part = 0
            parts[-1].append(i)
            acc += u
            part += u
        base = self._section_heading(doc, s) if doc.kind not in ("paper", "dialogue") else (
            f"{doc.title or doc.id} ({'page' if doc.kind == 'paper' else 'turn'} {s + 1})"
        )
        for k, part in enumerate(parts):
            heading = base if len(parts) == 1 else f"{base} (part {k + 1} of {len(parts)})"
            yield Piece(doc.id, heading, units[part[0]].start, units[part[-1]].end,
                        sum(units[i].n_tokens for i in part), (s,))

    def whole(self, doc_id: str, cut: tuple[int, int] | None = None) -> Piece:
        """The whole document as one piece (optionally with a region cut out), heading = its title."""
        doc = self.docs[doc_id]
        units = self.units(doc_id)
        start, end = units[0].start, units[-1].end
        n = sum(u.n_tokens for u in units)
        if cut is not None:
            c0, c1 = cut
            inside = [u for u in units if u.end > c0 and u.start < c1]
            n -= sum(u.n_tokens for u in inside)
            if inside:
                n += self.tok.count(doc.text[inside[0].start : c0]) + self.tok.count(PIECE_SEP)
                n += self.tok.count(doc.text[c1 : inside[-1].end])
        secs = tuple(sorted({u.section for u in units if u.section >= 0}))
        return Piece(doc_id, doc.title or doc_id, start, end, n, secs, cut)

    def truncate(self, piece: Piece, max_tokens: int) -> Piece | None:
        """The longest prefix of `piece` within max_tokens, cut at a paragraph, else sentence end (a chat's line
        end); None when that prefix would hold less than a sentence (MIN_PIECE_WORDS)."""
        if piece.cut is not None or max_tokens <= 0:
            return None
        units = [u for u in self.units(piece.doc_id) if piece.start <= u.start and u.end <= piece.end]
        doc = self.docs[piece.doc_id]
        text = doc.text
        used, end = 0, piece.start
        for u in units:
            if used + u.n_tokens > max_tokens:
                # The unit that does not fit: keep its longest fitting prefix that ends a sentence.
                cuts = [b for _, b in sentence_spans(text[u.start : u.end], lines=doc.kind == "dialogue")]
                lo, hi, best = 0, len(cuts) - 1, 0
                while lo <= hi:  # binary search: one count per probe, on one paragraph only
                    mid = (lo + hi) // 2
                    n = self.tok.count(text[u.start : u.start + cuts[mid]])
                    if used + n <= max_tokens:
                        best, lo = cuts[mid], mid + 1
                    else:
                        hi = mid - 1
                if best:
                    used += self.tok.count(text[u.start : u.start + best])
                    end = u.start + best
                break
            used += u.n_tokens
            end = u.end
        if end <= piece.start:
            return None
        excerpt = Piece(piece.doc_id, f"{piece.heading} (excerpt)", piece.start, end, used, piece.sections)
        return excerpt if self.has_a_sentence(excerpt) else None


def _contains_any(text: str, needles: Sequence[str]) -> bool:
    return any(n in text for n in needles)


@dataclass
class _Fill:
    """The distractors taken so far and the tokens left; a new distractor must repeat no span or heading."""

    lib: Library
    forbid: Sequence[str]
    remaining: int
    used_spans: set[tuple[str, int]]
    headings: set[str]
    chosen: list[Piece] = field(default_factory=list)

    def usable(self, p: Piece) -> bool:
        """Not already in the context (span or heading) and free of every `forbid` string."""
        if (p.doc_id, p.start) in self.used_spans or p.heading in self.headings:
            return False
        if self.forbid and (_contains_any(self.lib.body(p), self.forbid) or _contains_any(p.heading, self.forbid)):
            return False
        return True

    def take(self, p: Piece) -> None:
        """Add a distractor and pay its tokens."""
        self.chosen.append(p)
        self.used_spans.add((p.doc_id, p.start))
        self.headings.add(p.heading)
        self.remaining -= self.lib.piece_cost(p)


def _fill_near(fill: _Fill, near: list[Piece], near_budget: int, tolerance: int) -> list[Piece]:
    """Near distractors up to their share of the budget; returns the usable ones too long for what was left."""
    start = fill.remaining
    spill: list[Piece] = []
    for p in near:
        if fill.remaining <= tolerance or start - fill.remaining >= near_budget:
            break
        if not fill.usable(p):
            continue
        if fill.lib.piece_cost(p) <= fill.remaining:
            fill.take(p)
        else:
            spill.append(p)
    return spill


def _fill_far(fill: _Fill, far_docs: list[str], max_piece: int, rng: random.Random, tolerance: int,
              spill: list[Piece]) -> None:
    """Far distractors from other documents; a few that do not fit join the spill."""
    # One random piece per document per pass, so a context mixes many sources instead of one long book;
    # later passes (small corpora, big buckets) take further pieces of the same documents.
    for _ in range(3):
        for d in far_docs:
            if fill.remaining <= tolerance:
                break
            cand = [p for p in fill.lib.pieces(d, max_piece) if (p.doc_id, p.start) not in fill.used_spans]
            if not cand:
                continue
            p = cand[rng.randrange(len(cand))]
            if not fill.usable(p):
                continue
            if fill.lib.piece_cost(p) <= fill.remaining:
                fill.take(p)
            elif len(spill) < 4:
                spill.append(p)
        if fill.remaining <= tolerance:
            break


def _close_gap(fill: _Fill, candidates: list[Piece], tolerance: int) -> None:
    """Close the gap with a prefix of a piece that did not fit (cut at a paragraph / sentence end)."""
    for p in candidates:
        if not fill.usable(p):
            continue
        t = fill.lib.truncate(p, fill.remaining - fill.lib.heading_tokens(p.heading + " (excerpt)") - 2)
        if t is not None and fill.usable(t) and fill.remaining - fill.lib.piece_cost(t) >= 0:
            fill.take(t)
            if fill.remaining <= tolerance:
                break


def assemble(
    lib: Library,
    evidence: list[Piece],
    budget: int,
    rng: random.Random,
    *,
    max_piece: int,
    forbid: Sequence[str] = (),
    near_ratio: float = 0.3,
    depth: float | None = None,
    spread: bool = False,
    tolerance: int = 0,
    exclude_docs: Sequence[str] = (),
) -> Context | str:
    """Evidence pieces + distractors filling `budget` tokens to within `tolerance`; a reason string if impossible.

    near distractors: other pieces of the evidence documents (other chapters of the same book);
    far distractors: pieces of other documents, of any kind, in a seeded random order.
    A distractor containing any `forbid` string (a quoted line, a counted name) is skipped, so answers stay
    unique in the whole context. `depth` (0..1) places the evidence; `spread` scatters several evidence pieces
    among the distractors (keeping their order) instead of keeping them together.
    """
    ev_docs = {p.doc_id for p in evidence}
    need = sum(lib.piece_cost(p) for p in evidence)
    if need > budget:
        return "evidence_exceeds_bucket"
    fill = _Fill(lib, forbid, budget - need, {(p.doc_id, p.start) for p in evidence}, {p.heading for p in evidence})

    near: list[Piece] = [p for d in sorted(ev_docs) if d not in exclude_docs for p in lib.pieces(d, max_piece)]
    rng.shuffle(near)
    spill = _fill_near(fill, near, int(fill.remaining * near_ratio), tolerance)
    far_docs = [d for d in lib.order if d not in ev_docs and d not in exclude_docs]
    rng.shuffle(far_docs)
    _fill_far(fill, far_docs, max_piece, rng, tolerance, spill)
    if fill.remaining > tolerance:
        _close_gap(fill, spill + near, tolerance)
    if fill.remaining > tolerance:
        return "not_enough_distractors"

    order = _place(lib, evidence, fill.chosen, rng, depth, spread)
    return render(lib, order, evidence)


def _place(lib: Library, evidence: list[Piece], distractors: list[Piece], rng: random.Random,
           depth: float | None, spread: bool) -> list[Piece]:
    rng.shuffle(distractors)
    d = rng.random() if depth is None else min(max(depth, 0.0), 1.0)
    if spread and len(evidence) > 1 and distractors:
        slots = sorted(rng.randint(0, len(distractors)) for _ in evidence)
        out: list[Piece] = []
        j = 0
        for i, p in enumerate(distractors + [None]):  # type: ignore[list-item]
            while j < len(evidence) and slots[j] == i:
                out.append(evidence[j])
                j += 1
            if p is not None:
                out.append(p)
        return out
    # Keep the evidence together; put it so that ~d of the distractor tokens come before it.
    total = sum(lib.piece_cost(p) for p in distractors)
    acc, k = 0, 0
    while k < len(distractors) and acc + lib.piece_cost(distractors[k]) / 2 <= d * total:
        acc += lib.piece_cost(distractors[k])
        k += 1
    return distractors[:k] + evidence + distractors[k:]


def render(lib: Library, order: list[Piece], evidence: list[Piece]) -> Context:
    seen: dict[str, int] = {}
    ev_keys = {(p.doc_id, p.start, p.end) for p in evidence}
    parts: list[str] = []
    headings: list[str] = []
    offsets: list[int] = []
    before: list[int] = []
    pos = 0
    tok = 0
    ev_index: list[int] = []
    for i, p in enumerate(order):
        h = p.heading
        seen[h] = seen.get(h, 0) + 1
        if seen[h] > 1:
            h = f"{h} [{seen[h]}]"
        if (p.doc_id, p.start, p.end) in ev_keys:
            ev_index.append(i)
        head = HEADING_FMT.format(h) + "\n"
        if parts:
            parts.append(PIECE_SEP)
            pos += len(PIECE_SEP)
        before.append(tok)
        parts.append(head)
        pos += len(head)
        offsets.append(pos)
        body = lib.body(p)
        parts.append(body)
        pos += len(body)
        headings.append(h)
        tok += lib.piece_cost(p, h)
    return Context(order, headings, "".join(parts), offsets, tok, ev_index, before)


def evidence_stats(ctx: Context, lib: Library) -> dict[str, Any]:
    """Where the evidence sits: depth (0 = start, 1 = end, in tokens), spread, how many documents."""
    total = max(ctx.n_tokens, 1)
    ev = set(ctx.evidence_index)
    ev_docs = {ctx.pieces[i].doc_id for i in ev}
    starts = [ctx.piece_tokens_before[i] for i in ctx.evidence_index]
    ends = [ctx.piece_tokens_before[i] + lib.piece_cost(ctx.pieces[i], ctx.headings[i]) for i in ctx.evidence_index]
    if not starts:
        return {"depth": None, "spread": None, "n_docs": len({p.doc_id for p in ctx.pieces}), "n_evidence_docs": 0}
    return {
        "depth": round(starts[0] / total, 4),
        "spread": round((max(ends) - min(starts)) / total, 4),
        "n_docs": len({p.doc_id for p in ctx.pieces}),
        "n_pieces": len(ctx.pieces),
        "n_evidence_pieces": len(ctx.evidence_index),
        "n_evidence_docs": len({ctx.pieces[i].doc_id for i in ctx.evidence_index}),
        # near distractors: other pieces of the evidence documents; far: pieces of other documents
        "n_near": sum(1 for i, p in enumerate(ctx.pieces) if i not in ev and p.doc_id in ev_docs),
        "n_far": sum(1 for p in ctx.pieces if p.doc_id not in ev_docs),
    }
