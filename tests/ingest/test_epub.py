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
