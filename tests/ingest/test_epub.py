"""EPUB ingest on the real fixtures: chapter structure, clean text, the zip fallback, hostile archives."""

from __future__ import annotations

import re
import time
import zipfile
from pathlib import Path

import pytest

from golong_data.errors import InputError
from golong_data.ingest import epub

BOOKS = Path(__file__).parent.parent / "fixtures" / "books"


def rezip(src: Path, dest: Path, edit: dict[str, bytes | None], add: dict[str, bytes] | None = None) -> Path:
    """Copy an EPUB member by member, replacing (or with None, dropping) the members named in `edit`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in edit:
                if edit[info.filename] is not None:
                    zout.writestr(info.filename, edit[info.filename])
            else:
                zout.writestr(info, zin.read(info.filename))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dest


def spine_hrefs(path: Path) -> list[str]:
    """Linear spine documents straight from the OPF with regexes: an independent count of chapters."""
    with zipfile.ZipFile(path) as z:
        container = z.read("META-INF/container.xml").decode()
        opf_path = re.search(r'full-path="([^"]+)"', container).group(1)
        opf = z.read(opf_path).decode()
    hrefs = {m.group(2): m.group(1) for m in re.finditer(r'<item[^>]*href="([^"]+)"[^>]*id="([^"]+)"', opf)}
    hrefs.update({m.group(1): m.group(2) for m in re.finditer(r'<item[^>]*id="([^"]+)"[^>]*href="([^"]+)"', opf)})
    refs = re.findall(r"<itemref([^>]*)/>", opf)
    out = []
    for r in refs:
        if 'linear="no"' in r:
            continue
        idref = re.search(r'idref="([^"]+)"', r).group(1)
        if not hrefs[idref].endswith("nav.xhtml"):
            out.append(hrefs[idref])
    return out


@pytest.mark.parametrize(
    ("name", "title", "chapters"), [("persuasion", "Persuasion", 24), ("northangerabbey", "Northanger Abbey", 31)]
)
def test_austen_chapters_in_spine_order_with_toc_titles(name: str, title: str, chapters: int) -> None:
    # Persuasion has 24 chapters, Northanger Abbey 31 (Gutenberg text); the fixture has one XHTML per chapter.
    doc = epub.read_epub(BOOKS / f"{name}.epub")
    assert doc.kind == "book" and doc.title == title and doc.lang == "en"
    assert len(doc.sections) == chapters == len(spine_hrefs(BOOKS / f"{name}.epub"))
    assert [s.title for s in doc.sections] == [f"Chapter {i}" for i in range(1, chapters + 1)]
    for s in doc.sections:
        assert s.kind == "chapter"
        assert doc.text[s.start : s.end].startswith(s.title + "\n\n")  # each chapter's own heading opens it
    assert doc.quality["reader"] == "ebooklib"


def test_persuasion_text_is_clean_paragraphs() -> None:
    doc = epub.read_epub(BOOKS / "persuasion.epub")
    first = doc.text[doc.sections[0].start : doc.sections[0].end]
    # The novel's famous first sentence, one paragraph, no markup, no hard line breaks inside it.
    assert "\n\nSir Walter Elliot, of Kellynch Hall, in Somersetshire, was a man who, for his own amusement," in first
    assert "<" not in doc.text and "&amp;" not in doc.text
    paragraphs = first.split("\n\n")
    assert len(paragraphs) > 10 and all("\n" not in p for p in paragraphs)
    assert "Table of Contents" not in doc.text  # the nav page is not a chapter


def test_ubuntu_guide_linear_spine_and_nav_titles() -> None:
    path = BOOKS / "ubuntu-packaging-guide.epub"
    doc = epub.read_epub(path)
    assert doc.title == "Ubuntu Packaging Guide"
    # 17 English chapters are linear; the translations (de/, es/, ...) are linear="no" and stay out.
    assert len(doc.sections) == len(spine_hrefs(path)) == 17
    # Titles from nav.xhtml (whose hrefs point at the wrong directory: matched by file name).
    assert [s.title for s in doc.sections[:4]] == [
        "Ubuntu Packaging Guide",
        "Introduction to Ubuntu Development",
        "Getting Set Up",
        "Fixing a bug in Ubuntu",
    ]
    # Sphinx's navigation bars and footers are apparatus, not text.
    assert "Created using" not in doc.text and "Navigation\n\n" not in doc.text
    assert "\u00b6" not in doc.text  # headerlink pilcrows
    setup = doc.text[doc.sections[2].start : doc.sections[2].end]
    assert setup.startswith("2. Getting Set Up\n\nThere are a number of things you need to do")
    # <pre> keeps its lines
    assert 'export DEBFULLNAME="Bob Dobbs"\nexport DEBEMAIL="subgenius@example.com"' in setup


def fragment_manifest(tmp_path: Path) -> Path:
    """persuasion.epub with '#fragment' on every manifest href: real-world breakage that ebooklib chokes on."""
    src = BOOKS / "persuasion.epub"
    with zipfile.ZipFile(src) as z:
        opf = z.read("EPUB/content.opf").decode()
    bad = re.sub(r'href="(chap_\d+\.xhtml)"', r'href="\1#start"', opf)
    assert bad != opf
    return rezip(src, tmp_path / "fragments.epub", {"EPUB/content.opf": bad.encode()})


def test_malformed_manifest_goes_through_the_zip_fallback(tmp_path: Path) -> None:
    from ebooklib import epub as ebooklib_epub

    path = fragment_manifest(tmp_path)
    with pytest.raises(KeyError):  # the failure the fallback exists for
        ebooklib_epub.read_epub(str(path))
    doc = epub.read_epub(path)
    good = epub.read_epub(BOOKS / "persuasion.epub")
    assert doc.quality["reader"] == "zip"
    assert doc.text == good.text and doc.id == good.id
    assert [(s.title, s.start, s.end) for s in doc.sections] == [(s.title, s.start, s.end) for s in good.sections]


def test_fallback_matches_ebooklib_on_the_ubuntu_guide() -> None:
    path = BOOKS / "ubuntu-packaging-guide.epub"
    with epub.open_zip_guarded(path) as zf:
        title, lang, docs, toc = epub._zip_read(path, zf)
    parts = epub._chapters(docs, toc)
    good = epub.read_epub(path)
    assert (title, lang) == ("Ubuntu Packaging Guide", "en")
    assert [p.title for p in parts] == [s.title for s in good.sections]
    assert "\n\n".join(p.text for p in parts) == good.text


def test_zip_bomb_by_ratio_refused_without_decompressing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.epub"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("EPUB/chap.xhtml", b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros -> ~64 KB (1000:1)
    t0 = time.perf_counter()
    with pytest.raises(InputError) as e:
        epub.read_epub(bomb)
    # Refused from the central directory: far quicker than inflating 64 MiB (a functional bound, not a benchmark).
    assert time.perf_counter() - t0 < 2.0
    assert e.value.reason == "epub_zip_bomb" and "compresses" in e.value.detail


def test_zip_bomb_by_member_count_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "many.epub"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_STORED) as z:
        for i in range(epub.MAX_MEMBERS + 1):
            z.writestr(f"x/{i}", b"")
    with pytest.raises(InputError) as e:
        epub.read_epub(bomb)
    assert e.value.reason == "epub_zip_bomb" and "members" in e.value.detail


def test_href_escaping_the_archive_refused(tmp_path: Path) -> None:
    src = BOOKS / "persuasion.epub"
    with zipfile.ZipFile(src) as z:
        opf = z.read("EPUB/content.opf").decode()
    bad = opf.replace('href="chap_001.xhtml"', 'href="../../../etc/passwd"')
    path = rezip(src, tmp_path / "escape.epub", {"EPUB/content.opf": bad.encode()})
    with pytest.raises(InputError) as e:
        epub.read_epub(path)
    assert e.value.reason == "epub_unsafe_href"
    for href in ("../../x.xhtml", "/etc/passwd", "a/../../../x", "file:///etc/passwd"):
        with pytest.raises(InputError):
            epub._safe_join("EPUB", href)
    assert epub._safe_join("EPUB", "text/../chap_001.xhtml#p3") == "EPUB/chap_001.xhtml"
    assert epub._safe_join("EPUB", "../x.xhtml") == "x.xhtml"  # up to the root is still inside


def test_billion_laughs_chapter_is_not_expanded(tmp_path: Path) -> None:
    src = BOOKS / "persuasion.epub"
    lol = (
        '<?xml version="1.0"?><!DOCTYPE html [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10)
        )
        + ']><html xmlns="http://www.w3.org/1999/xhtml"><body><h1>Chapter 1</h1>'
        + "<p>&lol9;</p><p>Still here.</p></body></html>"
    )
    path = rezip(src, tmp_path / "lol.epub", {"EPUB/chap_001.xhtml": lol.encode()})
    t0 = time.perf_counter()
    doc = epub.read_epub(path)
    assert time.perf_counter() - t0 < 5.0
    assert doc.text.count("lol") < 100  # 10**9 if expanded
    assert "Still here." in doc.text[doc.sections[0].start : doc.sections[0].end]


def test_footnotes_and_noterefs_dropped() -> None:
    xhtml = (
        b'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>'
        b'<h1>One</h1><p>Text<a epub:type="noteref" href="#n1">1</a> goes on.</p>'
        b'<aside epub:type="footnote" id="n1"><p>The note.</p></aside><p>More&nbsp;text.</p></body></html>'
    )
    paras, heading, apparatus = epub.xhtml_paragraphs(xhtml)
    # &nbsp; is an HTML entity the parser knows (an XML parser without the DTD would drop it); spaces collapse
    assert paras == ["One", "Text goes on.", "More text."] and heading == "One" and not apparatus
    notes = b'<html><body epub:type="footnotes"><p>1. A note.</p></body></html>'
    assert epub.xhtml_paragraphs(notes)[2] is True


def test_not_a_zip_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.epub"
    p.write_bytes((BOOKS / "persuasion.epub").read_bytes()[:5000])
    with pytest.raises(InputError) as e:
        epub.read_epub(p)
    assert e.value.reason == "epub_not_zip"


# ---------------------------------------------------------------- spine fragments (issue 16)


def _xhtml(body: str) -> str:
    return f'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title></head><body>{body}</body></html>'


def fragment_spine_epub(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """A book laid out like Debian's live-manual: the manifest and spine list each XHTML file once per anchor
    (ch1.xhtml#s1, ch1.xhtml#s2, ...), hrefs with '#' that ebooklib rejects. Text: Persuasion's paragraphs."""
    paras = [p for p in epub.read_epub(BOOKS / "persuasion.epub").text.split("\n\n") if len(p) > 80][:30]
    files = [paras[0:10], paras[10:20], paras[20:30]]
    ch1 = (
        '<h2 id="s1">One</h2>' + "".join(f"<p>{p}</p>" for p in files[0][:4])
        + f'<p><a name="s2"/>{files[0][4]}</p>' + "".join(f"<p>{p}</p>" for p in files[0][5:8])
        + f'<p id="s3">{files[0][8]}</p><p>{files[0][9]}</p>'
    )
    ch2 = "".join(f'<p id="p{i}">{p}</p>' for i, p in enumerate(files[1]))
    ch3 = "".join(f"<p>{p}</p>" for p in files[2])
    spine = ["ch1.xhtml#s1", "ch1.xhtml#s2", "ch1.xhtml#s3", "ch2.xhtml#p0", "ch2.xhtml#p5", "ch3.xhtml"]
    spine.append("ch1.xhtml#s2")  # a file listed again after others: still read once, where first listed
    items = "".join(
        f'<item id="i{n}" href="{h}" media-type="application/xhtml+xml"/>' for n, h in enumerate(spine)
    )
    opf = (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Fragments</dc:title>'
        "<dc:language>en</dc:language></metadata>"
        f'<manifest><item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>{items}</manifest>'
        '<spine toc="ncx">' + "".join(f'<itemref idref="i{n}"/>' for n in range(len(spine))) + "</spine></package>"
    )
    # The NCX titles ch1's s1 and s2 (not s3) and ch2 as a whole (not its anchors); ch3 not at all.
    points = [("ch1.xhtml#s1", "Part One"), ("ch1.xhtml#s2", "Part Two"), ("ch2.xhtml", "Second File")]
    ncx = (
        '<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1"><navMap>'
        + "".join(
            f'<navPoint id="n{i}"><navLabel><text>{t}</text></navLabel><content src="{h}"/></navPoint>'
            for i, (h, t) in enumerate(points)
        )
        + "</navMap></ncx>"
    )
    path = tmp_path / "fragments.epub"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/toc.ncx", ncx)
        for name, body in (("ch1.xhtml", ch1), ("ch2.xhtml", ch2), ("ch3.xhtml", ch3)):
            z.writestr(f"OEBPS/{name}", _xhtml(body))
    return path, files


def test_spine_fragments_read_each_file_once_and_cut_at_titled_anchors(tmp_path: Path) -> None:
    path, files = fragment_spine_epub(tmp_path)
    doc = epub.read_epub(path)
    assert doc.quality["reader"] == "zip"
    for p in (p for f in files for p in f):
        assert doc.text.count(p) == 1, p[:60]
    paras = doc.text.split("\n\n")
    assert len(paras) == len(set(paras)) == 31  # 30 paragraphs + ch1's heading "One"
    # ch1 cut at its two titled anchors (s3 has no title: no cut); ch2 one section; ch3 (untitled) one
    got = [(s.title, doc.text[s.start : s.end].split("\n\n")) for s in doc.sections]
    assert [t for t, _ in got] == ["Part One", "Part Two", "Second File", "t"]  # ch3: its <title>
    assert got[0][1] == ["One", *files[0][:4]]
    assert got[1][1] == files[0][4:]
    assert got[2][1] == files[1] and got[3][1] == files[2]
    assert doc.quality["repeat_share"] == 0.0


def _fixture_and_corpus_epubs() -> list[Path]:
    corpus = Path.home() / ".cache" / "golong-data" / "corpus"
    return sorted(BOOKS.glob("*.epub")) + (sorted(corpus.rglob("*.epub")) if corpus.is_dir() else [])


@pytest.mark.parametrize("path", _fixture_and_corpus_epubs(), ids=lambda p: p.name)
def test_real_epubs_repeat_at_most_5_percent_of_paragraphs(path: Path) -> None:
    from golong_data.ingest.quality import repeat_share

    doc = epub.read_epub(path)
    paras = [p for p in doc.text.split("\n\n") if len(p.strip()) >= 40]
    distinct = len(set(paras)) / len(paras)
    assert distinct >= 0.95, f"{path.name}: {distinct:.3f} of {len(paras)} paragraphs distinct"
    assert abs(doc.quality["repeat_share"] - repeat_share(doc.text)) < 1e-4 and doc.quality["repeat_share"] <= 0.05


def test_ingest_ledgers_a_document_whose_paragraphs_repeat(tmp_path: Path) -> None:
    import json

    from golong_data.ingest.stage import run_ingest

    # Northanger Abbey's text written out three times over: what a once-per-fragment reader produced.
    src = tmp_path / "in"
    src.mkdir()
    text = epub.read_epub(BOOKS / "northangerabbey.epub").text
    (src / "thrice.txt").write_text("\n\n".join([text] * 3), encoding="utf-8")
    (src / "once.txt").write_text(text, encoding="utf-8")
    summary = run_ingest([src], tmp_path / "out", workers=1)
    assert (summary.ingested, summary.rejected) == (1, 1)
    rejected = [json.loads(x) for x in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()]
    assert [(r["source"].endswith("thrice.txt"), r["reason"]) for r in rejected] == [(True, "repeated_paragraphs")]
    assert "66.7%" in rejected[0]["detail"]
    kept = json.loads((tmp_path / "out" / "documents.jsonl").read_text().splitlines()[0])
    assert kept["quality"]["repeat_share"] == 0.0
