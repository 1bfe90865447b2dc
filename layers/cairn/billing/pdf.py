"""A minimal PDF writer for invoices and receipts: text lines on US Letter pages in the standard
Helvetica fonts (which every PDF reader has, so nothing is embedded).

Written here rather than taken from PyPI: an invoice is a page of text lines, which PDF 1.4
expresses in a few objects (catalog, pages, fonts, one content stream per page) and an xref
table of their byte offsets; a library (reportlab, fpdf2) would add megabytes to the Lambda
layer for layout Cairn does not use. The output is deterministic: the same invoice, the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
MARGIN = 56
LINE_HEIGHT = 15
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * MARGIN) // LINE_HEIGHT


@dataclass(frozen=True)
class Line:
    """One line of text; `bold` sets it in Helvetica-Bold, `size` in points."""

    text: str
    bold: bool = False
    size: int = 10


def _escape(text: str) -> bytes:
    # WinAnsi covers Latin-1; anything else prints as "?" rather than breaking the file.
    raw = text.encode("cp1252", errors="replace")
    return (
        raw.replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
        .replace(b"\r", b"")
        .replace(b"\n", b" ")
    )


def _page_stream(lines: Sequence[Line]) -> bytes:
    parts = [b"BT"]
    y = PAGE_HEIGHT - MARGIN
    for line in lines:
        font = b"/F2" if line.bold else b"/F1"
        parts.append(b"%s %d Tf 1 0 0 1 %d %d Tm (%s) Tj" % (font, line.size, MARGIN, y, _escape(line.text)))
        y -= LINE_HEIGHT
    parts.append(b"ET")
    return b"\n".join(parts)


def render(lines: Sequence[Line], title: str) -> bytes:
    """A PDF of `lines`, as many pages as they need, titled `title` (the document's metadata)."""
    pages = [lines[i : i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages' numbers are known
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title (%s) /Producer (Cairn) >>" % _escape(title),
    ]
    kids = []
    for page in pages:
        stream = _page_stream(page)
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R "
            b"/F2 4 0 R >> >> /Contents %d 0 R >>" % (PAGE_WIDTH, PAGE_HEIGHT, len(objects))
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
