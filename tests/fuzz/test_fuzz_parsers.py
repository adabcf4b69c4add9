"""Bounded-time fuzz targets (hypothesis), one per parser: EPUB XHTML extraction and href resolution, PDF text
post-processing, dialogue formats, and the answer extraction of every reward metric.

`make test` runs each with a fixed example budget (derandomized: the same inputs every run, so a failure
reproduces). `make test-long` runs the slow variant with HYPOTHESIS_FUZZ_EXAMPLES (default 5000) random
examples per target. Every target asserts "no exception other than the parser's typed error" plus the
parser's invariants.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golong_data.errors import InputError

FAST = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck), database=None)
LONG = settings(max_examples=int(os.environ.get("HYPOTHESIS_FUZZ_EXAMPLES", "5000")), deadline=None,
                suppress_health_check=list(HealthCheck), database=None)

# ------------------------------------------------------------------ strategies
TAGS = ["p", "div", "span", "h1", "h2", "pre", "br", "li", "ul", "a", "em", "table", "tr", "td", "nav", "aside",
        "script", "style", "section", "body", "html", "head", "title", "svg", "math", "sup", "img", "blockquote"]
ATTRS = ['epub:type="footnote"', 'role="doc-endnotes"', 'class="headerlink"', 'epub:type="toc"', 'id="x"',
         'href="../../etc/passwd"', 'style="display:none"', 'xml:lang="fr"']
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
ENTITIES = st.sampled_from(["&amp;", "&lt;", "&nbsp;", "&eacute;", "&#x1F600;", "&#0;", "&#xD800;", "&bogus;",
                            "&lol9;", "&", "<", "]]>", "<![CDATA[x]]>", "<!-- c -->", "<?pi x?>"])


@st.composite
def xhtml_fragment(draw, depth: int = 0) -> str:  # noqa: ANN001
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.integers(0, 3))
        if kind == 0 or depth > 4:
            parts.append(draw(TEXT).replace("<", "&lt;"))
        elif kind == 1:
            parts.append(draw(ENTITIES))
        else:
            tag = draw(st.sampled_from(TAGS))
            attr = draw(st.sampled_from(["", *ATTRS]))
            inner = draw(xhtml_fragment(depth + 1))
            close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", "</p>"]))  # sometimes unbalanced
            parts.append(f"<{tag} {attr}>{inner}{close}")
    return "".join(parts)


@st.composite
def xhtml_document(draw) -> bytes:  # noqa: ANN001
    decl = draw(st.sampled_from(["", "\ufeff", *(f'<?xml version="1.0" encoding="{e}"?>'
                                                  for e in ("utf-8", "latin-1", "x-bogus"))]))
    doctype = draw(st.sampled_from(["", "<!DOCTYPE html>", '<!DOCTYPE html [<!ENTITY e "&e;&e;">]>',
                                    '<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]>']))
    body = draw(xhtml_fragment())
    text = f'{decl}{doctype}<html xmlns="http://www.w3.org/1999/xhtml"><body>{body}</body></html>'
    enc = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(enc, errors="replace") if draw(st.booleans()) else draw(st.binary(max_size=200))


JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
JSON = st.recursive(JSON_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=5),
                                                       st.dictionaries(TEXT, kids, max_size=5)), max_leaves=30)
ROLE_KEYS = st.sampled_from(["role", "content", "name", "from", "value", "text", "sender", "timestamp", "messages",
                             "conversations", "prompt", "title"])
DIALOGUEISH = st.recursive(JSON_LEAF, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                              st.dictionaries(ROLE_KEYS, kids, max_size=5)),
                           max_leaves=40)


# ------------------------------------------------------------------ EPUB
def _check_xhtml(content: bytes) -> None:
    from golong_data.ingest.epub import xhtml_paragraphs

    paras, heading, apparatus = xhtml_paragraphs(content)
    assert isinstance(paras, list) and isinstance(heading, str) and isinstance(apparatus, bool)
    for p in paras:
        assert isinstance(p, str) and p and p == p.strip("\n") and "\x00pre" not in p
    assert "root:x:0:0" not in "".join(paras)  # no external entity was resolved


@FAST
@given(xhtml_document())
def test_fuzz_epub_xhtml_paragraphs(content: bytes) -> None:
    _check_xhtml(content)


def _check_href(base: str, href: str) -> None:
    import posixpath

    from golong_data.ingest.epub import _safe_join

    try:
        joined = _safe_join(base, href)
    except InputError as e:
        assert e.reason == "epub_unsafe_href"
        return
    assert not joined.startswith("/") and not joined.startswith("../") and joined != ".."
    assert posixpath.normpath(joined) == joined


HREF = st.lists(st.sampled_from(["..", ".", "a", "b.xhtml", "", "%2e%2e", "%2F", "/", "#frag", "?q=1", "file:",
                                 "C:", "\\", "..\\..", "%00"]), max_size=8).map("/".join)


@FAST
@given(st.sampled_from(["", "EPUB", "OEBPS/text", "a/b/c"]), HREF)
def test_fuzz_epub_href_never_escapes_the_archive(base: str, href: str) -> None:
    _check_href(base, href)


# ------------------------------------------------------------------ PDF text post-processing
@st.composite
def pdf_page_blocks(draw):  # noqa: ANN001, ANN201
    from golong_data.ingest.pdf import _Block

    width = draw(st.floats(100, 1000))
    height = draw(st.floats(100, 1400))
    blocks = []
    for _ in range(draw(st.integers(0, 12))):
        x0 = draw(st.floats(0, width))
        y0 = draw(st.floats(0, height))
        lines = draw(st.lists(st.text(min_size=1, max_size=30).filter(lambda s: s.strip()).map(str.strip),
                              min_size=1, max_size=4))
        blocks.append(_Block(x0, y0, min(width, x0 + draw(st.floats(0, width))), min(height, y0 + 12 * len(lines)),
                             lines))
    return blocks, width, height


@FAST
@given(st.lists(pdf_page_blocks(), min_size=1, max_size=5))
def test_fuzz_pdf_post_processing(pages) -> None:  # noqa: ANN001
    from golong_data.ingest import pdf, quality

    ordered = [pdf.reading_order(b, w) for b, w, _ in pages]
    for (blocks, _, _), o in zip(pages, ordered, strict=True):
        assert sorted(map(id, o)) == sorted(map(id, blocks))  # a permutation: nothing lost, nothing doubled
    cleaned = pdf._strip_running(ordered, [h for _, _, h in pages])
    for before, after in zip(ordered, cleaned, strict=True):
        assert all(any(b is a for a in before) for b in after)  # only removals
    groups = [pdf._merge_split_paragraphs(bl) for bl in cleaned]
    pdf._carry_split_words(groups)
    vocab = "\n".join(ln for g in groups for grp in g for ln in grp).lower()
    for g in groups:
        text = "\n\n".join(pdf._paragraph(grp, vocab) for grp in g if grp)
        reason = quality.garbage_reason(text)
        assert reason is None or isinstance(reason, str)
        m = quality.measure(text)
        assert all(isinstance(v, (int, float, str)) and not (isinstance(v, float) and math.isnan(v))
                   for v in m.values())


@FAST
@given(st.lists(st.text(min_size=1, max_size=40).filter(lambda s: s.strip()).map(str.strip), min_size=1, max_size=8),
       st.text(max_size=200))
def test_fuzz_pdf_paragraph_reflow(lines: list[str], vocab: str) -> None:
    from golong_data.ingest.pdf import _paragraph

    out = _paragraph(lines, vocab.lower())
    assert isinstance(out, str)
    assert len(out) <= sum(len(x) for x in lines) + len(lines)  # joining only ever removes or adds one space


# ------------------------------------------------------------------ dialogues
def _check_dialogue_obj(obj: object) -> None:
    from golong_data.ingest.dialogue import _conversations, conversation_turns
    from golong_data.ingest.document import assemble

    for _, conv in _conversations(obj):
        turns = conversation_turns(conv)
        if turns:
            text, sections = assemble(turns, "\n")
            for part, sec in zip(turns, sections, strict=True):
                assert text[sec.start : sec.end] == part.text  # offsets slice exactly the turn


@FAST
@given(DIALOGUEISH)
def test_fuzz_dialogue_shapes(obj: object) -> None:
    _check_dialogue_obj(obj)


def _check_dialogue_file(data: bytes, suffix: str) -> None:
    from golong_data.ingest.dialogue import read_dialogue_json
    from golong_data.records import Document, dumps

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"f{suffix}"
        p.write_bytes(data)
        try:
            out = read_dialogue_json(p)
        except InputError:
            return
        except (UnicodeDecodeError, RecursionError):
            return  # ledgered by ingest_file as ingest_error (see tests/reliability)
        for item in out:
            assert isinstance(item, (Document, InputError))
            if isinstance(item, Document):
                json.loads(dumps(item))  # the record serialises


@FAST
@given(DIALOGUEISH, st.sampled_from([".json", ".jsonl"]), st.booleans())
def test_fuzz_dialogue_files(obj: object, suffix: str, corrupt: bool) -> None:
    data = json.dumps(obj).encode()
    if suffix == ".jsonl" and isinstance(obj, list):
        data = b"\n".join(json.dumps(x).encode() for x in obj)
    if corrupt:
        data = data[: len(data) // 2] + b"\xff" + data[len(data) // 2 :]
    _check_dialogue_file(data, suffix)


@FAST
@given(st.lists(st.one_of(st.from_regex(r"[A-Za-z][\w .'()-]{0,12}: \S.{0,30}", fullmatch=True), TEXT), max_size=12))
def test_fuzz_transcript_detection(lines: list[str]) -> None:
    from golong_data.ingest.dialogue import looks_like_transcript, transcript_document

    text = "\n".join(lines)
    if looks_like_transcript(text):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "t.txt"
            p.write_text(text, encoding="utf-8", errors="surrogatepass")
            try:
                doc = transcript_document(p, text)
            except InputError:
                return
            for s in doc.sections:
                assert 0 <= s.start <= s.end <= len(doc.text)


# ------------------------------------------------------------------ answer extraction of every metric
ROUTES = {
    "em": ("EM", "", {"doc_ids": [], "golden_label": "Bath", "summary": ""}),
    "accuracy": ("selection", "", {"doc_ids": [], "golden_label": "B", "summary": ""}),
    "iou": ("multitableqa_pretraining", "", {"doc_ids": [], "golden_label": '{"data": [["a", "1"]]}', "summary": ""}),
    "ndcg": ("longbench_pro", "T1.1 Global Cohesive Retrieval", {"doc_ids": ["[1]", "[2]"], "golden_label": "",
                                                                 "summary": ""}),
    "pairwise": ("longbench_pro", "T2.1 Global Timeline Reconstruction", {"doc_ids": ["a", "b", "c"],
                                                                          "golden_label": "", "summary": ""}),
    "list_accuracy": ("longbench_pro", "T3.1 Multi-Doc Integration QA", {"doc_ids": ["x"], "golden_label": "",
                                                                         "summary": ""}),
    "rouge_l": ("longbench_pro", "T4.1 Global-Coverage Constrained Summary",
                {"doc_ids": ["the cat sat. the dog ran."], "golden_label": "", "summary": "English"}),
    "f1": ("longbench_pro", "T5.1 Full-Sentence Citation Alignment", {"doc_ids": ["[1]", "[3]"], "golden_label": "",
                                                                      "summary": ""}),
    "subem": ("longbench_pro", "T6.1 Large-Scale Document Clustering", {"doc_ids": ["a"], "golden_label": "",
                                                                        "summary": ""}),
}
PIECES = st.sampled_from(["<think>", "</think>", "[Answer]", "[答案]", "<answer>", "</answer>", "\\boxed{", "}", "{",
                          '{"data": [', "]", "[1]", "[2]", "\n", " ", ".", "a", "b", "B", "Bath", "(B)", "x", "1",
                          "NaN", "1e999", "\x00", "\ud800", "\u202e", "¹²"])
RESPONSE = st.one_of(st.lists(PIECES, max_size=40).map("".join), st.text(max_size=200))


def _check_scores(response: str, gt_list: list[str]) -> None:
    from golong_data.rewards import compute_score

    for metric, (ds, mode, gt) in ROUTES.items():
        gts = [gt]
        if gt_list and ds == "longbench_pro":
            gts.append({**gt, "doc_ids": gt_list})
        for g in gts:
            for profile in ("golongrl", "strict"):
                s = compute_score(ds, response, g, {"reward_mode": mode}, profile=profile)
                assert isinstance(s, float) and 0.0 <= s <= 1.0 and not math.isnan(s), (metric, s)


@FAST
@given(RESPONSE, st.lists(st.text(max_size=10), max_size=4))
def test_fuzz_every_metric_answer_extraction(response: str, gt_list: list[str]) -> None:
    _check_scores(response, gt_list)


@settings(max_examples=int(os.environ.get("FUZZ_MATH_EXAMPLES", "25")), deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(st.sampled_from(["\\boxed{", "}", "{", "\\frac{", "^", "12", "x", "\\sqrt", "!", "9", "=", "$", "\\pi",
                                 "e", "+", "-", "/", " ", "\\infty", "\\begin{pmatrix}", "\\end{pmatrix}", "&"]),
                max_size=30).map("".join))
def test_fuzz_math_verify_extraction(tail: str) -> None:
    from golong_data.rewards import compute_score

    s = compute_score("math_longcot_math_verify", "<think>t</think>" + tail,
                      {"doc_ids": [], "golden_label": "12", "summary": ""})
    assert 0.0 <= s <= 1.0


def test_fuzz_common_helpers_properties() -> None:
    """Plain properties of the shared extraction helpers, on the metric fuzz alphabet."""
    from golong_data.rewards.common import after_think, answer_area, passes_think_gate

    @FAST
    @given(RESPONSE)
    def run(r: str) -> None:
        assert after_think(r) == r.split("</think>")[-1]
        assert passes_think_gate(r) == (r.count("</think>") == 1 and r.count("<think>") <= 1)
        area = answer_area(r)
        assert area == area.strip() and area in r

    run()


# ------------------------------------------------------------------ the long variants (`make test-long`)
@pytest.mark.slow
@LONG
@given(xhtml_document())
def test_fuzz_long_epub_xhtml(content: bytes) -> None:
    _check_xhtml(content)


@pytest.mark.slow
@LONG
@given(st.sampled_from(["", "EPUB", "a/b"]), HREF)
def test_fuzz_long_epub_href(base: str, href: str) -> None:
    _check_href(base, href)


@pytest.mark.slow
@LONG
@given(DIALOGUEISH)
def test_fuzz_long_dialogue_shapes(obj: object) -> None:
    _check_dialogue_obj(obj)


@pytest.mark.slow
@LONG
@given(RESPONSE, st.lists(st.text(max_size=10), max_size=4))
def test_fuzz_long_every_metric(response: str, gt_list: list[str]) -> None:
    _check_scores(response, gt_list)
