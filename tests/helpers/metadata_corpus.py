"""Files that hide a camera's serial number where a metadata cleaner may miss it.

Built in code, byte by byte where the point is the byte layout: JPEGs with an EXIF block
between two progressive scans, JPEGs with thousands of tiny scans or a huge frame size,
and PDFs whose embedded photo sits behind a filter array or inside a page's content
stream. :func:`embedded_jpegs` gets the photos back out of a PDF without the code under
test, so a test can look for the canary where a viewer would find it.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import struct
import zlib

import pikepdf
from PIL import ExifTags, Image

CANARY = b"CANARY-SERIAL-5521"


def segment(marker: int, payload: bytes) -> bytes:
    """Return one JPEG marker segment: FF, the marker, its length, the payload."""
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def exif_segment() -> bytes:
    """Return an APP1 EXIF segment naming the camera and its serial number (the canary)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CanaryCam"
    exif[ExifTags.Base.BodySerialNumber] = CANARY.decode()
    return segment(0xE1, b"Exif\x00\x00" + exif.tobytes())


def comment_segment() -> bytes:
    """Return a COM segment holding the canary."""
    return segment(0xFE, b"shot by " + CANARY)


def camera_jpeg(
    *, size: tuple[int, int] = (16, 16), progressive: bool = False, exif: bool = True
) -> bytes:
    """Return a colour JPEG as a camera writes it: EXIF with the serial number first."""
    image = Image.new("RGB", size, (200, 60, 30))
    image.paste((10, 10, 240), (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", progressive=progressive)
    data = out.getvalue()
    return data[:2] + exif_segment() + data[2:] if exif else data


def scans_of(data: bytes) -> list[int]:
    """Return where each SOS segment of a JPEG starts (a test's own, simple reading)."""
    return [m.start() for m in re.finditer(rb"\xff\xda", data)]


def insert_before_second_scan(jpeg: bytes, extra: bytes) -> bytes:
    """Return ``jpeg`` with ``extra`` (segments) placed after the first scan's data."""
    first = scans_of(jpeg)[0]
    # The first marker after the first scan's entropy-coded data: FF not followed by
    # 00 (a stuffed byte), a restart marker or another FF.
    after = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])").search(jpeg, first + 2)
    assert after is not None
    return jpeg[: after.start()] + extra + jpeg[after.start() :]


def _grey_dc_scan(width: int, height: int) -> bytes:
    """Return one DC scan coding every 8x8 block of a grey picture as "no change"."""
    blocks = -(-width // 8) * -(-height // 8)
    # The DC table below has one code, "0", for a difference of zero: one bit a block,
    # padded with ones to the byte.
    full, rest = divmod(blocks, 8)
    tail = bytes([(1 << (8 - rest)) - 1]) if rest else b""
    header = segment(0xDA, bytes([1, 1, 0x00, 0, 0, 0x00]))  # 1 component, Ss=Se=0, Ah=Al=0
    return header + b"\x00" * full + tail


def progressive_jpeg(
    *,
    scans: int = 2,
    width: int = 8,
    height: int = 8,
    head: bytes = b"",
    between_scans: bytes = b"",
) -> bytes:
    """Return a flat grey progressive JPEG of ``scans`` DC scans that Pillow decodes.

    Each scan is a few bytes (one bit per block), so thousands of them make a small
    file. ``head`` (segments) follows the start marker; ``between_scans`` the first scan.
    """
    jfif = segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = segment(0xDB, b"\x00" + b"\x01" * 64)
    sof2 = segment(0xC2, struct.pack(">BHHB", 8, height, width, 1) + bytes([1, 0x11, 0]))
    dht = segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00")  # DC table 0: "0" -> 0
    scan = _grey_dc_scan(width, height)
    body = scan + between_scans + scan * (scans - 1) if scans > 1 else scan + between_scans
    return b"\xff\xd8" + jfif + head + dqt + sof2 + dht + body + b"\xff\xd9"


# --- PDFs ------------------------------------------------------------------------------


def _encode(name: str, data: bytes) -> bytes:
    if name == "/ASCII85Decode":
        return base64.a85encode(data, wrapcol=72, adobe=True)[2:]  # PDF has no "<~"
    if name == "/ASCIIHexDecode":
        return binascii.hexlify(data) + b">"
    if name == "/FlateDecode":
        return zlib.compress(data)
    if name == "/RunLengthDecode":
        runs = [data[i : i + 128] for i in range(0, len(data), 128)]
        return b"".join(bytes([len(run) - 1]) + run for run in runs) + b"\x80"
    if name == "/DCTDecode":
        return data
    raise ValueError(name)


def _decode(name: str, data: bytes) -> bytes:
    if name in ("/ASCII85Decode", "/A85"):
        text = re.sub(rb"\s", b"", data).split(b"~>")[0]
        return base64.a85decode(text + b"~>", adobe=True)
    if name in ("/ASCIIHexDecode", "/AHx"):
        return binascii.unhexlify(re.sub(rb"\s", b"", data).split(b">")[0])
    if name in ("/FlateDecode", "/Fl"):
        return zlib.decompress(data)
    raise ValueError(name)


def pdf_with_photo(jpeg: bytes, filters: list[str], *, as_array: bool = True) -> bytes:
    """Return a one-page PDF showing ``jpeg``, stored with ``filters`` (last: DCTDecode)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    encoded = jpeg
    for name in reversed(filters):  # the first filter listed is the last one applied
        encoded = _encode(name, encoded)
    picture = Image.open(io.BytesIO(jpeg))
    (width, height), is_colour = picture.size, picture.mode != "L"
    image = pikepdf.Stream(pdf, encoded)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = width, height, 8
    image.ColorSpace = pikepdf.Name.DeviceRGB if is_colour else pikepdf.Name.DeviceGray
    names = [pikepdf.Name(name) for name in filters]
    image.Filter = pikepdf.Array(names) if as_array else names[0]
    page = pdf.pages[0]
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /Im0 Do Q")
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def pdf_with_inline_photo(jpeg: bytes) -> bytes:
    """Return a PDF whose page draws ``jpeg`` as an inline image, ASCII85 over DCT."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    width, height = Image.open(io.BytesIO(jpeg)).size
    encoded = _encode("/ASCII85Decode", jpeg)
    content = (
        f"q {width} 0 0 {height} 0 0 cm BI /W {width} /H {height} /CS /RGB /BPC 8 "
        "/F [/A85 /DCT] ID\n".encode()
        + encoded
        + b"\nEI Q\n"
    )
    pdf.pages[0].Contents = pdf.make_stream(content)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def _filter_names(stream: pikepdf.Stream) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value]
    return [str(value)]


def embedded_jpegs(data: bytes) -> list[bytes]:
    """Return every JPEG a PDF holds (images and inline images), its outer filters undone."""
    found = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Stream):
                names = _filter_names(obj)
                if names and names[-1] in ("/DCTDecode", "/DCT"):
                    raw = obj.read_raw_bytes()
                    for name in names[:-1]:
                        raw = _decode(name, raw)
                    found.append(raw)
        for page in pdf.pages:
            for operands, operator in pikepdf.parse_content_stream(page):
                if str(operator) == "INLINE IMAGE":
                    inline = operands[0]
                    names = [str(n) for n in inline.filters]
                    raw = inline.read_raw_bytes()
                    for name in names[:-1]:
                        raw = _decode(name, raw)
                    found.append(raw)
    return found
