"""Hand-made PDFs of the shapes an attacker sends to `/verify/layout`: an encrypted trailer,
a decompression bomb in a page's content, a bomb in the object stream that holds the catalog."""
import io
import zlib

MIB = 1 << 20  # the decoded size at which backend.layout.verify stops any one stream

PAGE_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
]


def flate_stream(data: bytes, extra: bytes = b"") -> bytes:
    packed = zlib.compress(data, 9)
    return b"<< /Filter /FlateDecode /Length %d %s>>\nstream\n" % (len(packed), extra) + packed + b"\nendstream"


def classic_pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    """Objects 1… written in order, a classic cross-reference table, object 1 the catalog."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer_extra
              + b">>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def plain_stream(data: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def encrypted_trailer_pdf(indirect: bool = True) -> bytes:
    """A page whose trailer names a standard security handler with 1-byte /O and /U (text
    only, no NUL byte, as the probe sent it)."""
    content = plain_stream(b"BT /F1 12 Tf 10 10 Td (x) Tj ET")
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O <01> /U <01> /P -4 >>"
    if indirect:
        return classic_pdf([*PAGE_OBJECTS, content, encrypt], b"/Encrypt 5 0 R /ID [<01> <01>] ")
    return classic_pdf([*PAGE_OBJECTS, content], b"/Encrypt " + encrypt + b" /ID [<01> <01>] ")


def binary_pdf() -> bytes:
    """An ordinary one-page PDF with a binary stream: its bytes include NUL."""
    return classic_pdf([*PAGE_OBJECTS, plain_stream(b""), plain_stream(bytes(range(256)))])


def content_bomb_pdf(decoded_size: int) -> bytes:
    """One page with a font and a line of text, whose content stream inflates to about
    `decoded_size` bytes (padded with spaces: still valid content)."""
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
    text = b"BT /F1 12 Tf 10 10 Td (46060125-0000012345) Tj ET\n"
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    return classic_pdf([*PAGE_OBJECTS[:2], page, flate_stream(text + b" " * max(0, decoded_size - len(text))), font])


def object_stream_bomb_pdf(decoded_size: int) -> bytes:
    """The catalog, the page tree and the page live in an object stream padded to about
    `decoded_size` bytes; found through a cross-reference stream, as PDF 1.5+ allows."""
    parts = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    body, offsets = b"", []
    for part in parts:
        offsets.append(len(body))
        body += part + b"\n"
    header = b" ".join(b"%d %d" % (number, offset) for number, offset in enumerate(offsets, start=1)) + b"\n"
    data = header + body + b" " * max(0, decoded_size - len(header) - len(body))
    object_stream = flate_stream(data, b"/Type /ObjStm /N %d /First %d " % (len(parts), len(header)))

    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    stream_offset = out.tell()
    out.write(b"4 0 obj\n" + object_stream + b"\nendobj\n")
    xref_offset = out.tell()
    rows = [(0, 0, 65535)] + [(2, 4, index) for index in range(len(parts))] + [(1, stream_offset, 0), (1, xref_offset, 0)]
    table = b"".join(kind.to_bytes(1, "big") + field.to_bytes(4, "big") + gen.to_bytes(2, "big") for kind, field, gen in rows)
    out.write(b"5 0 obj\n" + flate_stream(table, b"/Type /XRef /Size 6 /W [1 4 2] /Root 1 0 R ") + b"\nendobj\n")
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref_offset)
    return out.getvalue()
