"""Generators of hostile inputs, each built from a real fixture (tests/fixtures/) by damaging it.

    files = build_hostile_corpus(tmp_path / "corpus")   # {relative name: expected ledger reasons}

Every entry maps a path under the corpus to the set of ingest rejection reasons that count as a clear,
correct answer for it (several readers may legitimately catch the same damage, e.g. ebooklib vs the zip
fallback). An empty set means "must not crash the run, no reason required" (e.g. a directory).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import zipfile
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures"
BOOK = FIX / "books" / "persuasion.epub"
PAPER = FIX / "papers" / "zoo__zoo-quickref.pdf"
GARBAGE_PAPER = FIX / "papers" / "lme4__PLSvGLS.pdf"  # a real PDF whose fonts lack ToUnicode maps
DIALOGUE = FIX / "dialogues" / "chitchat_sample.json"
OPF = "EPUB/content.opf"
CHAPTER = "EPUB/chap_001.xhtml"

# Text that must never reach documents.jsonl: /etc/passwd's first field, and a sentinel we plant.
PASSWD_MARK = "root:x:0:0"
PLANTED = "HOSTILE-PLANTED-SECRET-7f3a"

BILLION_LAUGHS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>laughs</title></head>
<body><p>&lol9;</p></body></html>
"""

XXE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>xxe</title></head>
<body><p>Before &xxe; after.</p></body></html>
"""


def _epub_members(src: Path = BOOK) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(src) as z:
        return [(i, z.read(i.filename)) for i in z.infolist()]


def _write_epub(dst: Path, members: list[tuple[str, bytes]], stored_first: bool = True) -> None:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            ctype = zipfile.ZIP_STORED if (stored_first and name == "mimetype") else zipfile.ZIP_DEFLATED
            z.writestr(zipfile.ZipInfo(name) if ctype == zipfile.ZIP_STORED else name, data, compress_type=ctype)


def epub_variant(dst: Path, edit: dict[str, bytes | None] | None = None, extra: list[tuple[str, bytes]] = ()) -> Path:
    """The real book with some members replaced (bytes) or removed (None), plus extra members."""
    edit = edit or {}
    members = []
    for info, data in _epub_members():
        if info.filename in edit:
            if edit[info.filename] is None:
                continue
            data = edit[info.filename]  # type: ignore[assignment]
        members.append((info.filename, data))
    members.extend(extra)
    _write_epub(dst, members)
    return dst


def _opf() -> str:
    with zipfile.ZipFile(BOOK) as z:
        return z.read(OPF).decode("utf-8")


def epub_with_spine_only(dst: Path, chapter: bytes) -> Path:
    """A book whose only reading-order chapter is `chapter` (so its fate decides the file's)."""
    opf = re.sub(r"<spine([^>]*)>.*?</spine>", r'<spine\1><itemref idref="chapter_0"/></spine>', _opf(), flags=re.S)
    return epub_variant(dst, {OPF: opf.encode(), CHAPTER: chapter})


def encrypted_pdf(dst: Path) -> Path:
    import pymupdf

    doc = pymupdf.open(PAPER)
    doc.save(dst, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="hunter2", owner_pw="owner-pw")
    doc.close()
    return dst


def build_hostile_corpus(root: Path) -> dict[str, set[str]]:
    """Write >= 20 hostile files under root; return {relative path: acceptable rejection reasons}."""
    root.mkdir(parents=True, exist_ok=True)
    expect: dict[str, set[str]] = {}

    def put(name: str, data: bytes, reasons: set[str]) -> Path:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        expect[name] = reasons
        return p

    pdf = PAPER.read_bytes()
    # --- PDFs
    encrypted_pdf(root / "encrypted.pdf")
    expect["encrypted.pdf"] = {"pdf_encrypted"}
    put("truncated.pdf", pdf[: len(pdf) // 2], {"pdf_truncated"})
    put("garbage-glyphs.pdf", GARBAGE_PAPER.read_bytes(), {"pdf_glyph_garbage"})
    put("zero-bytes.pdf", b"", {"pdf_empty"})
    put("header-only.pdf", b"%PDF-1.7\n%%EOF\n", {"pdf_unreadable", "pdf_empty", "pdf_no_text"})
    put("not-really.pdf", b"GIF89a" + os.urandom(2048), {"pdf_invalid"})
    # a PDF body with the wrong suffix, garbage inside a valid-looking xref (random bytes after the header)
    put("random-body.pdf", b"%PDF-1.4\n" + os.urandom(4096) + b"\n%%EOF\n", {"pdf_unreadable", "pdf_no_text",
                                                                           "pdf_empty", "pdf_glyph_garbage"})
    # --- EPUBs
    put("junk.epub", os.urandom(4096), {"epub_not_zip"})
    put("zero-bytes.epub", b"", {"epub_not_zip"})
    opf = _opf()
    traversal = opf.replace(
        '<item href="chap_001.xhtml" id="chapter_0"', '<item href="../../etc/passwd" id="chapter_0"'
    ).replace('<itemref idref="chapter_1"/>', "").replace('<itemref idref="chapter_2"/>', "")
    # every other chapter leaves the spine too, so the escaping item is the book's only content
    traversal = re.sub(r'<itemref idref="chapter_(?!0")\d+"/>', "", traversal)
    epub_variant(root / "manifest-escape.epub", {OPF: traversal.encode()},
                 extra=[("../../etc/passwd", f"{PLANTED}\n".encode())])  # a zip-slip member too
    expect["manifest-escape.epub"] = {"epub_unsafe_href", "epub_missing_member", "epub_no_text"}
    nospine = re.sub(r"<spine[^>]*>.*?</spine>", "", opf, flags=re.S)
    epub_variant(root / "missing-spine.epub", {OPF: nospine.encode()})
    expect["missing-spine.epub"] = {"epub_no_spine", "epub_no_text"}
    epub_variant(root / "no-container.epub", {"META-INF/container.xml": None, OPF: None})
    expect["no-container.epub"] = {"epub_missing_member", "epub_no_opf", "epub_no_text"}
    # zip bombs: a 64 MiB member of zeros deflates to ~64 KiB (ratio ~1000:1); and 20,000 empty members
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), b"application/epub+zip")
        for info, data in _epub_members():
            if info.filename != "mimetype":
                z.writestr(info.filename, data)
        z.writestr("EPUB/bomb.xhtml", b"\0" * (64 << 20))
    put("zip-bomb.epub", bomb.getvalue(), {"epub_zip_bomb"})
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w", zipfile.ZIP_STORED) as z:
        z.writestr("mimetype", b"application/epub+zip")
        for i in range(10_050):
            z.writestr(f"m/{i}", b"")
    put("many-members.epub", many.getvalue(), {"epub_zip_bomb"})
    epub_with_spine_only(root / "billion-laughs.epub", BILLION_LAUGHS.encode())
    expect["billion-laughs.epub"] = {"epub_no_text", "epub_bad_xml"}  # or ingested with the entities unexpanded
    epub_with_spine_only(root / "xxe.epub", XXE.encode())
    expect["xxe.epub"] = {"epub_no_text", "epub_bad_xml"}  # or ingested, without /etc/passwd's text
    laughs_opf = BILLION_LAUGHS.split("<html", 1)[0].replace("DOCTYPE html", "DOCTYPE package") + opf.split("?>", 1)[1]
    epub_variant(root / "opf-billion-laughs.epub", {OPF: laughs_opf.encode()})
    expect["opf-billion-laughs.epub"] = {"epub_bad_xml", "epub_no_text"}  # or ingested: entities never expand
    # --- dialogues / JSON
    chat = DIALOGUE.read_bytes()
    put("invalid-utf8.json", chat[:2000] + b"\xff\xfe\xc3\x28" + chat[2000:], {"json_invalid", "text_not_utf8",
                                                                               "dialogue_not_utf8", "ingest_error"})
    put("empty.json", b"", {"dialogue_empty"})
    put("empty-object.json", b"{}", {"dialogue_unknown_shape", "dialogue_empty"})
    put("wrong-shape.json", b'{"rows": [1, 2, 3], "n": 3}', {"dialogue_unknown_shape"})
    put("scalar.json", b"42", {"dialogue_unknown_shape"})
    put("deep-nesting.json", b"[" * 200_000 + b"]" * 200_000, {"json_invalid", "dialogue_unknown_shape",
                                                                "json_too_deep", "ingest_error"})
    put("bad-line.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [\n',
        {"json_invalid"})
    # --- text
    put("nul-bytes.txt", b"hello\0world\0" * 100, {"binary_file"})
    put("latin1.txt", "Caf\u00e9 cr\u00e8me, na\u00efve fa\u00e7ade.\n".encode("latin-1") * 50, {"text_not_utf8"})
    put("zero-bytes.txt", b"", {"text_empty"})
    put("junk.bin", os.urandom(1024), {"unsupported_format"})
    # --- file-system oddities
    (root / "dir-named.pdf").mkdir()
    expect["dir-named.pdf"] = set()  # a directory: nothing to read, nothing to ledger, no crash
    (root / "loop-a.epub").symlink_to(root / "loop-b.epub")
    (root / "loop-b.epub").symlink_to(root / "loop-a.epub")
    expect["loop-a.epub"] = set()
    expect["loop-b.epub"] = set()
    (root / "dangling.pdf").symlink_to(root / "does-not-exist.pdf")
    expect["dangling.pdf"] = set()
    (root / "dir-loop").mkdir()
    (root / "dir-loop" / "self").symlink_to(root / "dir-loop", target_is_directory=True)
    expect["dir-loop/self"] = set()
    locked = put("unreadable.txt", b"Some private notes.\n" * 20, {"permission_denied", "unreadable"})
    locked.chmod(0)
    return expect


def plant_good_files(root: Path) -> dict[str, str]:
    """Real files that must be ingested alongside the hostile ones: {relative path: expected kind}."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(BOOK, root / "persuasion.epub")
    shutil.copy(PAPER, root / "zoo.pdf")
    shutil.copy(PAPER, root / "paper-named.txt")  # a PDF with a .txt name: content decides
    return {"persuasion.epub": "book", "zoo.pdf": "paper", "paper-named.txt": "paper"}


def tree_snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """{path: (size, mtime_ns)} of every entry under root (not following symlinks), `skip` excluded."""
    snap: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if skip is not None and os.path.realpath(dirpath) == os.path.realpath(skip):
            dirnames[:] = []
            continue
        for n in filenames + dirnames:
            p = Path(dirpath) / n
            if skip is not None and os.path.realpath(p) == os.path.realpath(skip):
                continue
            st = p.lstat()
            snap[str(p)] = (st.st_size, st.st_mtime_ns if not p.is_dir() else 0)
    return snap
