"""EPUB books -> Document: chapters in spine order, titles from the TOC, XHTML to clean paragraphs.

ebooklib reads well-formed books. Real EPUBs are often malformed (a manifest href carrying '#fragment'
makes ebooklib raise KeyError), so on any ebooklib failure we read the zip + OPF spine ourselves, never
extracting to disk. Both readers share the zip-bomb guard (run first, from the central directory, before
anything is decompressed), the XHTML-to-text step, and the chapter assembly, so they give the same text.

XML is parsed by lxml with entity resolution and network access off (billion-laughs and XXE safe); XHTML
bodies go through lxml's HTML parser, which knows HTML's named entities and ignores internal DTD subsets.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from lxml import etree
from lxml import html as lxml_html

from golong_data.errors import InputError
from golong_data.ingest.document import Part, build_document
from golong_data.records import Document

# Zip-bomb limits, checked from the central directory before any member is read. Real EPUBs: the Ubuntu
# Packaging Guide (a large one) has ~170 members, 3.4 MB uncompressed, text compressing ~4:1.
MAX_MEMBERS = 10_000
MAX_TOTAL_UNCOMPRESSED = 512 * 1024 * 1024
MAX_MEMBER_UNCOMPRESSED = 128 * 1024 * 1024
MAX_RATIO = 100  # deflate on text rarely beats 10:1; 100:1 on a member over 1 MiB is a bomb
RATIO_MIN_SIZE = 1024 * 1024

_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True)
_HTML = lxml_html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True, huge_tree=False)

_BLOCK = frozenset(
    "p div h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre table tr section article header footer "
    "figure figcaption caption hr br body main address details summary".split()
)
_SKIP = frozenset("script style head title nav svg math rt object iframe template".split())
# epub:type / role values whose content is apparatus, not reading text (EPUB 3 SSV, DPUB-ARIA, and the
# ARIA landmarks that generators such as Sphinx put on their per-page navigation bars and footers).
_NOTE_TYPES = frozenset(
    "footnote footnotes endnote endnotes rearnote rearnotes note noteref toc landmarks page-list "
    "doc-footnote doc-endnotes doc-endnote doc-noteref doc-toc doc-pagelist navigation contentinfo".split()
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_SPACE = re.compile(r"\s+")
_PRE = "\x00pre"  # marks a paragraph buffer opened by <pre>


@dataclass
class SpineDoc:
    path: str  # archive path (reader-relative: zip path for the fallback, OPF-relative for ebooklib)
    content: bytes
    fragment: str = ""  # the '#anchor' of the spine item's href: some books list one file many times, by anchor


# ---------------------------------------------------------------- zip guard


def open_zip_guarded(path: Path) -> zipfile.ZipFile:
    """Open the archive and refuse bombs and unsafe names from the central directory alone."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError("epub_not_zip", f"not a readable zip archive ({e})") from e
    infos = zf.infolist()
    reason = None
    total = sum(i.file_size for i in infos)
    if len(infos) > MAX_MEMBERS:
        reason = f"{len(infos)} members > {MAX_MEMBERS}"
    elif total > MAX_TOTAL_UNCOMPRESSED:
        reason = f"{total} bytes uncompressed > {MAX_TOTAL_UNCOMPRESSED}"
    else:
        for i in infos:
            if i.file_size > MAX_MEMBER_UNCOMPRESSED:
                reason = f"member {i.filename!r} is {i.file_size} bytes uncompressed"
            elif i.file_size > RATIO_MIN_SIZE and i.file_size > MAX_RATIO * max(i.compress_size, 1):
                reason = f"member {i.filename!r} compresses {i.file_size // max(i.compress_size, 1)}:1"
            if reason:
                break
    if reason:
        zf.close()
        raise InputError("epub_zip_bomb", f"refused without decompressing: {reason}")
    return zf


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError("epub_missing_member", f"{name!r} is referenced but not in the archive") from None
    with zf.open(info) as f:  # zipfile stops at the declared size and checks the CRC
        return f.read(MAX_MEMBER_UNCOMPRESSED + 1)


def _safe_join(base_dir: str, href: str) -> str:
    """Resolve an OPF/nav href against its directory; refuse paths escaping the archive."""
    href = unquote(href.split("#", 1)[0])
    if not href or href.startswith("/") or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", href):
        raise InputError("epub_unsafe_href", f"href {href!r} is absolute or a URL")
    joined = posixpath.normpath(posixpath.join(base_dir, href))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise InputError("epub_unsafe_href", f"href {href!r} escapes the archive")
    return joined


# ---------------------------------------------------------------- XHTML -> paragraphs


def _decode(content: bytes) -> str:
    m = _ENCODING.match(content)
    enc = m.group(1).decode("ascii") if m else "utf-8"
    try:
        text = content.decode(enc, errors="replace")
    except LookupError:
        text = content.decode("utf-8", errors="replace")
    return _XML_DECL.sub("", text.lstrip("\ufeff"), count=1)


def _types(el: etree._Element) -> set[str]:
    vals = []
    for k, v in el.attrib.items():
        if k in ("role", "epub:type") or k.endswith("}type") and "idpf.org/2007/ops" in k:
            vals.append(v)
    return set(" ".join(vals).split())


def _parse_html(content: bytes) -> etree._Element | None:
    text = _decode(content)
    if not text.strip():
        return None
    try:
        return lxml_html.document_fromstring(text, parser=_HTML)
    except (etree.ParserError, ValueError):
        return None


def xhtml_paragraphs(content: bytes) -> tuple[list[str], str, bool]:
    """(paragraphs, first heading, is_apparatus) of an XHTML document.

    Block elements break paragraphs; whitespace inside a paragraph collapses to single spaces, except in
    <pre>. Footnotes, note references, nav/TOC blocks and scripts are dropped. is_apparatus is True when
    the body itself is a footnotes/TOC page.
    """
    paras, heading, apparatus, _ = xhtml_blocks(content)
    return paras, heading, apparatus


def xhtml_blocks(content: bytes) -> tuple[list[str], str, bool, dict[str, int]]:
    """xhtml_paragraphs plus anchors: element id (or <a name>) -> index of the first paragraph at or after it."""
    root = _parse_html(content)
    if root is None:
        return [], "", False, {}
    body = root.find("body")
    if body is None:
        body = root
    apparatus = bool(_types(body) & _NOTE_TYPES)
    paras: list[str] = []
    buf: list[str] = []
    heading = ""
    anchors: dict[str, int] = {}

    def flush() -> None:
        nonlocal buf
        s = "".join(buf)
        buf = []
        # <pre> keeps its lines; elsewhere whitespace runs collapse (" ".join(split()) is the fast way)
        s = s[len(_PRE) :].strip("\n").rstrip() if s.startswith(_PRE) else " ".join(s.split())
        if s:
            paras.append(s)

    def walk(el: etree._Element, pre: bool) -> None:
        nonlocal heading
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.rsplit("}", 1)[-1].lower()
        if tag in _SKIP or not isinstance(el.tag, str) or _types(el) & _NOTE_TYPES:
            return
        if tag == "a" and "headerlink" in (el.get("class") or ""):
            return  # Sphinx's pilcrow anchors
        block = tag in _BLOCK
        is_pre = pre or tag == "pre"
        if block:
            flush()
            if tag == "pre":
                buf.append(_PRE)
        anchor = el.get("id") or (el.get("name") if tag == "a" else None)
        if anchor:
            # the paragraph now being built (or the next one, when the buffer holds no text yet)
            anchors.setdefault(anchor, len(paras))
        if el.text:
            buf.append(el.text)
        for child in el:
            walk(child, is_pre)
            if child.tail:
                buf.append(child.tail)
        if block:
            if not heading and tag in ("h1", "h2", "h3"):
                heading = " ".join("".join(x for x in buf if x != _PRE).split())
            flush()

    walk(body, False)
    flush()
    if not heading:
        t = root.find(".//title")
        heading = _SPACE.sub(" ", t.text_content()).strip() if t is not None else ""
    return paras, heading, apparatus, anchors


# ---------------------------------------------------------------- TOC titles


def _norm(path: str) -> str:
    return posixpath.normpath(unquote(path.split("#", 1)[0])) if path else ""


def _fragment(href: str) -> str:
    return unquote(href.split("#", 1)[1]) if "#" in href else ""


@dataclass
class _Titles:
    """TOC titles: the first entry per document (chapter-level, before its subsections), by path and by file
    name, and every entry per (document, anchor)."""

    by_path: dict[str, str]
    by_name: dict[str, str]
    by_anchor: dict[tuple[str, str], str]

    def of_file(self, path: str) -> str:
        return self.by_path.get(path) or self.by_name.get(posixpath.basename(path), "")

    def of_anchor(self, path: str, anchor: str) -> str:
        return self.by_anchor.get((path, anchor)) or self.by_anchor.get((posixpath.basename(path), anchor), "")


def _title_lookup(toc: list[tuple[str, str]]) -> _Titles:
    by_path: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    by_anchor: dict[tuple[str, str], str] = {}
    anchor_names: dict[tuple[str, str], list[str]] = {}
    for href, title in toc:
        p, frag = _norm(href), _fragment(href)
        title = _SPACE.sub(" ", title or "").strip()
        if not (p and title):
            continue
        if p not in by_path:
            by_path[p] = title
            by_name.setdefault(posixpath.basename(p), []).append(title)
        if frag and (p, frag) not in by_anchor:
            by_anchor[(p, frag)] = title
            anchor_names.setdefault((posixpath.basename(p), frag), []).append(title)
    # A file name is a usable key only when it is unique (some generators write nav hrefs relative to
    # the wrong directory, e.g. the Ubuntu Packaging Guide's nav.xhtml).
    unique = {name: titles[0] for name, titles in by_name.items() if len(titles) == 1}
    for key, titles in anchor_names.items():
        if len(titles) == 1:
            by_anchor.setdefault(key, titles[0])
    return _Titles(by_path, unique, by_anchor)


def _chapters(docs: list[SpineDoc], toc: list[tuple[str, str]]) -> list[Part]:
    """One chapter per spine file, each file read once in first-spine order: a spine that lists a file
    several times by anchor (ch04.xhtml#s1, ch04.xhtml#s2, ...) cuts it at those anchors the TOC titles,
    never repeats its text."""
    titles = _title_lookup(toc)
    order: list[str] = []
    content: dict[str, bytes] = {}
    fragments: dict[str, list[str]] = {}
    for d in docs:
        p = _norm(d.path)
        if p not in content:
            order.append(p)
            content[p] = d.content
            fragments[p] = []
        if d.fragment and d.fragment not in fragments[p]:
            fragments[p].append(d.fragment)
    parts: list[Part] = []
    for p in order:
        paras, heading, apparatus, anchors = xhtml_blocks(content[p])
        if apparatus or not paras:
            continue
        file_title = titles.of_file(p) or heading
        # (first paragraph, title) of each section; the file's own start is always one
        cuts = {0: ""}
        for frag in fragments[p]:
            title = titles.of_anchor(p, frag)
            at = anchors.get(frag)
            if title and at is not None and at < len(paras):
                cuts[at] = cuts.get(at) or title
        starts = sorted(cuts)
        for i, at in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(paras)
            title = cuts[at] or file_title or f"chapter {len(parts) + 1}"
            parts.append(Part("chapter", title, "\n\n".join(paras[at:end])))
    return parts


# ---------------------------------------------------------------- readers


def _ebooklib_read(path: Path) -> tuple[str, str, list[SpineDoc], list[tuple[str, str]]]:
    import ebooklib  # lazy: ebooklib, only when an EPUB is read
    from ebooklib import epub

    book = epub.read_epub(str(path), options={"ignore_ncx": False})
    docs = []
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None:
            raise KeyError(f"spine idref {idref!r} not in manifest")
        if linear == "no" or isinstance(item, epub.EpubNav) or "nav" in (getattr(item, "properties", None) or []):
            continue
        if item.get_type() != ebooklib.ITEM_DOCUMENT:
            continue
        name, _, frag = item.file_name.partition("#")
        docs.append(SpineDoc(name, item.get_content(), unquote(frag)))
    toc: list[tuple[str, str]] = []

    def walk(entries: list) -> None:  # ebooklib TOC: Link, EpubHtml, or (Section, [children])
        for e in entries:
            if isinstance(e, tuple):
                head, children = e
                toc.append((getattr(head, "href", "") or "", head.title or ""))
                walk(children)
            else:
                toc.append((getattr(e, "href", None) or getattr(e, "file_name", "") or "", e.title or ""))

    walk(book.toc)
    titles = book.get_metadata("DC", "title")
    langs = book.get_metadata("DC", "language")
    return (titles[0][0] if titles else ""), (langs[0][0] if langs else ""), docs, toc


_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"
_OPS_TYPE = "{http://www.idpf.org/2007/ops}type"


def _xml(data: bytes, what: str) -> etree._Element:
    try:
        root = etree.fromstring(data, parser=_XML)
    except etree.XMLSyntaxError as e:
        raise InputError("epub_bad_xml", f"{what}: {e}") from e
    if root is None:
        raise InputError("epub_bad_xml", f"{what}: empty document")
    return root


def _opf_relative(doc_dir: str, href: str, opf_dir: str) -> str:
    """A TOC href (relative to the nav/NCX file) as a path relative to the OPF, like spine paths."""
    return posixpath.relpath(posixpath.normpath(posixpath.join(doc_dir, href)), opf_dir or ".")


def _zip_read(path: Path, zf: zipfile.ZipFile) -> tuple[str, str, list[SpineDoc], list[tuple[str, str]]]:
    """The fallback: container.xml -> OPF -> manifest + spine -> documents, nav/NCX -> TOC."""
    container = _xml(_read_member(zf, "META-INF/container.xml"), "META-INF/container.xml")
    rootfile = container.find(".//{urn:oasis:names:tc:opendocument:xmlns:container}rootfile")
    if rootfile is None or not rootfile.get("full-path"):
        raise InputError("epub_no_opf", "META-INF/container.xml names no rootfile")
    opf_path = _safe_join("", rootfile.get("full-path", ""))
    opf = _xml(_read_member(zf, opf_path), opf_path)
    base = posixpath.dirname(opf_path)
    manifest: dict[str, tuple[str, str, str, str]] = {}
    for item in opf.iter(f"{_OPF}item"):
        href = item.get("href") or ""
        if item.get("id") and href:
            member = _safe_join(base, href)
            entry = (member, item.get("media-type", ""), item.get("properties", ""), _fragment(href))
            manifest[item.get("id", "")] = entry
    spine = opf.find(f"{_OPF}spine")
    if spine is None:
        raise InputError("epub_no_spine", f"{opf_path} has no <spine>")
    docs = []
    read: dict[str, bytes] = {}  # a member listed many times (by anchor) is decompressed once
    for ref in spine.iter(f"{_OPF}itemref"):
        entry = manifest.get(ref.get("idref", ""))
        if entry is None or ref.get("linear") == "no":
            continue
        member, media, props, frag = entry
        if "nav" in props.split() or "html" not in media:
            continue
        if member not in read:
            read[member] = _read_member(zf, member)
        docs.append(SpineDoc(posixpath.relpath(member, base or "."), read[member], frag))
    toc: list[tuple[str, str]] = []
    nav = next((m for m, _, props, _ in manifest.values() if "nav" in props.split()), None)
    if nav is not None:
        nav_dir = posixpath.dirname(nav)
        root = _xml(_read_member(zf, nav), nav)
        for n in root.iter("{http://www.w3.org/1999/xhtml}nav"):
            if n.get(_OPS_TYPE) != "toc":
                continue
            for a in n.iter("{http://www.w3.org/1999/xhtml}a"):
                href = a.get("href") or ""
                if href:
                    toc.append((_opf_relative(nav_dir, href, base), "".join(a.itertext())))
    ncx_id = spine.get("toc")
    if not toc and ncx_id and ncx_id in manifest:
        ncx_path = manifest[ncx_id][0]
        root = _xml(_read_member(zf, ncx_path), ncx_path)
        ncx_dir = posixpath.dirname(ncx_path)
        for point in root.iter(f"{_NCX}navPoint"):
            label, content = point.find(f"{_NCX}navLabel/{_NCX}text"), point.find(f"{_NCX}content")
            if label is not None and content is not None and content.get("src"):
                toc.append((_opf_relative(ncx_dir, content.get("src", ""), base), label.text or ""))
    meta = opf.find(f"{_OPF}metadata")
    title = lang = ""
    if meta is not None:
        t, lg = meta.find(f"{_DC}title"), meta.find(f"{_DC}language")
        title = (t.text or "") if t is not None else ""
        lang = (lg.text or "") if lg is not None else ""
    return title, lang, docs, toc


def read_epub(path: Path) -> Document:
    """An EPUB file -> one book Document (chapters as sections). Raises InputError for unusable files."""
    zf = open_zip_guarded(path)
    try:
        try:
            title, lang, docs, toc = _ebooklib_read(path)
            reader = "ebooklib"
        except InputError:
            raise
        except Exception:  # noqa: BLE001 - ebooklib fails in many ways on malformed books; we read it ourselves
            title, lang, docs, toc = _zip_read(path, zf)
            reader = "zip"
    finally:
        zf.close()
    parts = _chapters(docs, toc)
    if not parts:
        raise InputError("epub_no_text", f"no readable chapters among {len(docs)} spine documents")
    lang = (lang or "").strip().split("-")[0].lower() or None
    return build_document(
        "book",
        _SPACE.sub(" ", title).strip() or path.stem,
        path,
        "epub",
        parts,
        lang=lang,
        extra_quality={"reader": reader},
    )
