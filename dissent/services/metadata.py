"""What a file says about who made it: recognising file types and removing metadata.

A photo's EXIF block can hold the GPS position, the camera's serial number and the
time to the second; a PDF's document information the author's login name. In a small
deployed unit either can name a source (invariant 2 in docs/architecture.md). Types are
recognised by their first bytes, never by the name or the browser's word.

* JPEG and PNG are decoded and re-encoded from their pixels alone (orientation
  applied first), which drops EXIF, GPS, XMP, ICC profiles, comments, text chunks and
  anything appended after the image. Images too large to decode safely in memory have
  their metadata segments cut out instead, without decoding (lossless, but the EXIF
  orientation is lost with the rest).
* PDF loses its document information, every XMP stream, private application data,
  the authors of comments, its file identifier, and the metadata segments of embedded
  JPEG images.

Everything here works on bytes in memory; callers bound the size.
"""

from __future__ import annotations

import enum
import io
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pikepdf

# Pillow and pikepdf (with qpdf) are imported when first needed: together they add about
# 18 MB to every worker process, which most requests never use.

SNIFF_BYTES = 16
# Decoding an image takes width x height x channels bytes. Above this many pixels
# (48 MB as RGB; a 12-megapixel phone photo fits) metadata is cut out without decoding.
REENCODE_MAX_PIXELS = 16_000_000
JPEG_QUALITY = 92
# Cleaning a 12-megapixel photo takes about 100 MiB for half a second (the decoded
# picture twice while it is turned upright, and the file before and after); PDFs take a
# few times their size. One file at a time per process keeps a burst of uploads from
# multiplying that; the others wait their turn.
MAX_CONCURRENT_CLEANING = 1
_cleaning = threading.BoundedSemaphore(MAX_CONCURRENT_CLEANING)


class FileType(enum.StrEnum):
    """Content types dissent recognises by their magic numbers."""

    JPEG = "image/jpeg"
    PNG = "image/png"
    PDF = "application/pdf"
    GIF = "image/gif"
    WEBP = "image/webp"
    ZIP = "application/zip"  # also .docx, .xlsx, .odt: their metadata is not removed
    OTHER = "application/octet-stream"


STRIPPABLE = frozenset({FileType.JPEG, FileType.PNG, FileType.PDF})

_MAGIC: list[tuple[bytes, FileType]] = [
    (b"\xff\xd8\xff", FileType.JPEG),
    (b"\x89PNG\r\n\x1a\n", FileType.PNG),
    (b"%PDF-", FileType.PDF),
    (b"GIF87a", FileType.GIF),
    (b"GIF89a", FileType.GIF),
    (b"PK\x03\x04", FileType.ZIP),
]


def sniff(head: bytes) -> FileType:
    """Return the type of a file from its first bytes (at least :data:`SNIFF_BYTES`)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType.WEBP
    return FileType.OTHER


class StripFailed(Exception):
    """The file could not be parsed, so its metadata could not be removed."""


@dataclass(frozen=True)
class Stripped:
    """The cleaned file."""

    data: bytes
    complete: bool  # False when a part (an embedded image, say) could not be cleaned
    reencoded: bool  # the pixels were decoded and encoded again


def strip_metadata(data: bytes, kind: FileType) -> Stripped:
    """Return ``data`` without its metadata; raise :class:`StripFailed` if unreadable."""
    strippers: dict[FileType, Callable[[bytes], Stripped]] = {
        FileType.JPEG: _strip_image,
        FileType.PNG: _strip_image,
        FileType.PDF: _strip_pdf,
    }
    if kind not in strippers:
        raise StripFailed(f"no stripper for {kind}")
    try:
        with _cleaning:
            return strippers[kind](data)
    except StripFailed:
        raise
    except Exception as exc:
        # The parsers are handed hostile input and fail in many ways (OSError,
        # SyntaxError, struct.error, pikepdf.PdfError, ...). Whatever the way, the file
        # is kept as it is and flagged; an upload must never end in a server error.
        raise StripFailed(type(exc).__name__) from exc


# --- images ----------------------------------------------------------------------------


def _cut(data: bytes) -> bytes:
    """Cut the metadata out of a JPEG or PNG without decoding it."""
    return _cut_png_chunks(data) if sniff(data) is FileType.PNG else _cut_jpeg_segments(data)


def _strip_image(data: bytes) -> Stripped:
    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # far too many pixels to even consider decoding
        return Stripped(_cut(data), complete=True, reencoded=False)
    with image:
        if image.format not in ("JPEG", "MPO", "PNG"):
            raise StripFailed(f"unexpected image format {image.format}")
        is_png = image.format == "PNG"
        width, height = image.size
        if width * height > REENCODE_MAX_PIXELS:
            return Stripped(_cut(data), complete=True, reencoded=False)
        # In place: turning a photo upright would otherwise hold two decoded copies.
        ImageOps.exif_transpose(image, in_place=True)
        transparency = image.info.get("transparency")
        # The encoders fall back on ``info`` for comments, ICC profiles and more:
        # emptied, only the pixels (and a palette) are left to write.
        image.info = {}
        out = io.BytesIO()
        if is_png:
            options: dict[str, object] = {}
            if transparency is not None and image.mode in ("P", "L", "RGB"):
                options["transparency"] = transparency  # part of the picture
            image.save(out, format="PNG", icc_profile=None, **options)
        else:
            # A decoded JPEG is L, RGB or CMYK, all of which JPEG can hold.
            image.save(out, format="JPEG", quality=JPEG_QUALITY, icc_profile=None, exif=b"")
    return Stripped(out.getvalue(), complete=True, reencoded=True)


# JPEG markers kept when segments are cut: the JFIF header (APP0) and Adobe's colour
# transform flag (APP14), which decoders need. All other APPn (EXIF, XMP, ICC, IPTC,
# maker data) and comments go.
_JPEG_KEEP_APP = frozenset({0xE0, 0xEE})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def _cut_jpeg_segments(data: bytes) -> bytes:
    """Return a JPEG without APPn (other than JFIF/Adobe) and COM segments, ending at EOI."""
    if not data.startswith(b"\xff\xd8"):
        raise StripFailed("not a JPEG")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise StripFailed("JPEG segment structure broken")
        marker = data[pos + 1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            out += data[pos : pos + 2]
            pos += 2
            continue
        if marker == 0xD9:
            raise StripFailed("JPEG ends before its image data")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise StripFailed("JPEG segment runs past the end")
        if marker == 0xDA:
            # Start of scan: entropy-coded data follows. Copy through the end-of-image
            # marker (more scans and markers may be inside) and drop whatever trails it.
            out += data[pos : _find_eoi(data, end)]
            return bytes(out)
        if not (marker == 0xFE or (0xE0 <= marker <= 0xEF and marker not in _JPEG_KEEP_APP)):
            out += data[pos:end]
        pos = end


def _find_eoi(data: bytes, start: int) -> int:
    """Return the index just after the EOI marker that ends the image started before ``start``."""
    pos = start
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise StripFailed("JPEG has no end-of-image marker")
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x00 or 0xD0 <= marker <= 0xD7:  # stuffed zero, restart marker
            pos += 2
            continue
        # A marker between scans (DHT, SOS of a progressive JPEG, ...): skip its segment.
        if pos + 4 > len(data):
            raise StripFailed("JPEG segment runs past the end")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length


# PNG chunks a decoder needs for the picture; every other chunk (tEXt, zTXt, iTXt, eXIf,
# tIME, iCCP, private ones) is dropped.
_PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"sRGB", b"cHRM"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cut_png_chunks(data: bytes) -> bytes:
    """Return a PNG with only the chunks that describe the picture, ending at IEND."""
    if not data.startswith(_PNG_SIGNATURE):
        raise StripFailed("not a PNG")
    out = bytearray(_PNG_SIGNATURE)
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise StripFailed("PNG chunk runs past the end")
        if kind in _PNG_KEEP:
            out += data[pos:end]
        if kind == b"IEND":
            return bytes(out)
        pos = end
    raise StripFailed("PNG has no IEND chunk")


# --- PDF -------------------------------------------------------------------------------

# Markup annotations (comments, highlights, ...) carry their author in /T and dates in
# /M and /CreationDate; form fields (widgets) use /T for the field name, which stays.
_ANNOTATION_PRIVATE_KEYS = ("/T", "/M", "/CreationDate")
# On any object: XMP streams, private data of the application that wrote the file.
_PRIVATE_KEYS = ("/Metadata", "/PieceInfo", "/LastModified")


def _strip_pdf(data: bytes) -> Stripped:
    import pikepdf

    complete = True
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for key in ("/Info", "/ID"):
            # The file identifier can link this copy to the original; qpdf writes a new one.
            if key in pdf.trailer:
                del pdf.trailer[key]
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                for key in _PRIVATE_KEYS:
                    if key in obj:
                        del obj[key]
            if isinstance(obj, pikepdf.Stream) and obj.get("/Filter") == pikepdf.Name.DCTDecode:
                complete = _cut_embedded_jpeg(obj) and complete
        for page in pdf.pages:
            _scrub_annotations(page.obj)
        out = io.BytesIO()
        pdf.save(out, fix_metadata_version=False, preserve_pdfa=False, encryption=False)
    return Stripped(out.getvalue(), complete=complete, reencoded=False)


def _scrub_annotations(page: pikepdf.Dictionary) -> None:
    import pikepdf

    for annotation in page.get("/Annots", pikepdf.Array()):
        if not isinstance(annotation, pikepdf.Dictionary):
            continue
        if annotation.get("/Subtype") == pikepdf.Name.Widget:
            continue
        for key in _ANNOTATION_PRIVATE_KEYS:
            if key in annotation:
                del annotation[key]


def _cut_embedded_jpeg(stream: pikepdf.Stream) -> bool:
    """Cut the metadata segments of a JPEG image inside a PDF; return whether it worked."""
    import pikepdf

    raw = stream.read_raw_bytes()
    try:
        cut = _cut_jpeg_segments(raw)
    except StripFailed:
        return False
    if cut != raw:
        parms = stream.get("/DecodeParms")
        if not isinstance(parms, pikepdf.Dictionary | pikepdf.Array):
            parms = None
        stream.write(cut, filter=pikepdf.Name.DCTDecode, decode_parms=parms)
    return True
