"""What a file says about who made it: recognising file types and removing metadata.

A photo's EXIF block can hold the GPS position, the camera's serial number and the
time to the second; a PDF's document information the author's login name. In a small
deployed unit either can name a source (invariant 2 in docs/architecture.md). Types are
recognised by their first bytes, never by the name or the browser's word.

A file is called clean only when every place metadata can hide was walked: where a part
cannot be cleaned, the result says so (``complete=False``), and where a file is beyond
the limits below it is not cleaned at all (:class:`TooComplex`) but kept and flagged.

* JPEG and PNG are first read without decoding: every JPEG segment through every scan to
  the end-of-image marker, every PNG chunk to IEND. That gives the picture's size and a
  copy holding only what a decoder needs. Pictures up to :data:`REENCODE_MAX_PIXELS` are
  then decoded and re-encoded from their pixels alone (orientation applied first), which
  drops EXIF, GPS, XMP, ICC profiles, comments, text chunks and anything appended after
  the image. Larger ones are stored as that copy (lossless, but the EXIF orientation is
  lost with the rest).
* PDF loses its document information, every XMP stream, private application data,
  the authors of comments, its file identifier, and the metadata segments of embedded
  JPEG images, also behind ASCII85, ASCIIHex or Flate layers and in inline images. JPEG
  2000 images, attached files and digital signatures are not cleaned: their presence
  makes the result incomplete.

Everything here works on bytes in memory; callers bound the size.
"""

from __future__ import annotations

import base64
import binascii
import enum
import io
import re
import struct
import threading
import time
import zlib
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
# Above this many pixels an image is not cleaned at all, only flagged. No phone or camera
# makes one (a 100-megapixel medium-format camera fits); a header claiming more is a
# file made to tie the server up, or one whose every part we cannot vouch for.
MAX_IMAGE_PIXELS = 120_000_000
# A progressive JPEG is sent as scans, each refining the whole picture, and decoding
# costs about the same for each. Encoders write about ten (libjpeg's default for colour),
# rarely a few dozen; a 243 KiB file of 6,000 scans took 10 s of CPU to decode. Above
# this many, a JPEG is not cleaned, only flagged.
MAX_JPEG_SCANS = 256
# Pillow reads a JPEG's segments and a PNG's chunks one by one in Python, and so do we:
# a file of millions of empty ones costs seconds. Cameras write a few dozen segments and
# encoders at most a few thousand chunks (32 MiB in 8 KiB picture chunks is 4,096).
MAX_IMAGE_SEGMENTS = 10_000
# The time cleaning one file may take, checked between segments, chunks and PDF objects.
# Past it the file is kept as it is and flagged. The steps that are not interrupted (one
# decode, bounded by the two limits above; qpdf reading and writing the PDF) come on top.
CLEANING_SECONDS = 10.0
# A photo inside a PDF may sit inside ASCII85, ASCIIHex or Flate layers; unpacked, it may
# be at most this large (a Flate layer can unpack to a thousand times its size).
MAX_UNPACKED_IMAGE_BYTES = 64 * 1024 * 1024
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


class TooComplex(StripFailed):
    """The file is beyond a cleaning limit (scans, segments, pixels, time): kept, flagged."""


class _Deadline:
    """The moment by which cleaning one file must be done (:data:`CLEANING_SECONDS`)."""

    def __init__(self, seconds: float) -> None:
        self._at = time.monotonic() + seconds

    def check(self) -> None:
        """Raise :class:`TooComplex` once the time is up."""
        if time.monotonic() >= self._at:
            raise TooComplex("cleaning ran out of time")


@dataclass(frozen=True)
class Stripped:
    """The cleaned file."""

    data: bytes
    complete: bool  # False when a part (an embedded image, say) could not be cleaned
    reencoded: bool  # the pixels were decoded and encoded again


def strip_metadata(data: bytes, kind: FileType) -> Stripped:
    """Return ``data`` without its metadata.

    Raises :class:`StripFailed` if the file is unreadable, and :class:`TooComplex` (a
    kind of it) if it is beyond the limits; either way the caller keeps it as it is.
    """
    strippers: dict[FileType, Callable[[bytes, _Deadline], Stripped]] = {
        FileType.JPEG: _strip_image,
        FileType.PNG: _strip_image,
        FileType.PDF: _strip_pdf,
    }
    if kind not in strippers:
        raise StripFailed(f"no stripper for {kind}")
    try:
        with _cleaning:
            return strippers[kind](data, _Deadline(CLEANING_SECONDS))
    except StripFailed:
        raise
    except Exception as exc:
        # The parsers are handed hostile input and fail in many ways (OSError,
        # SyntaxError, struct.error, pikepdf.PdfError, ...). Whatever the way, the file
        # is kept as it is and flagged; an upload must never end in a server error.
        raise StripFailed(type(exc).__name__) from exc


# --- images ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Picture:
    """A JPEG or PNG read without decoding: its size, and a copy with only the picture."""

    width: int
    height: int
    cut: bytes

    @property
    def pixels(self) -> int:
        """Return how many pixels the picture claims to have."""
        return self.width * self.height


def _strip_image(data: bytes, deadline: _Deadline) -> Stripped:
    is_png = sniff(data) is FileType.PNG
    picture = _read_png(data, deadline) if is_png else _read_jpeg(data, deadline)
    if picture.pixels > MAX_IMAGE_PIXELS:
        raise TooComplex("too many pixels")
    if picture.pixels > REENCODE_MAX_PIXELS:
        return Stripped(picture.cut, complete=True, reencoded=False)
    deadline.check()

    from PIL import Image, ImageOps

    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # Pillow read a larger size than we did
        raise TooComplex("too many pixels") from exc
    with image:
        if image.format not in ("JPEG", "MPO", "PNG"):
            raise StripFailed(f"unexpected image format {image.format}")
        width, height = image.size
        if width * height > REENCODE_MAX_PIXELS:
            return Stripped(picture.cut, complete=True, reencoded=False)
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


# JPEG frame headers (SOF0-3, 5-7, 9-11, 13-15) and the segments that only say how to
# decode: Huffman and arithmetic tables, quantisation tables, restart interval, line
# count, hierarchical headers. They are kept; every APPn (EXIF, XMP, ICC, IPTC, maker
# data), comment and unknown extension goes, wherever it is: before the picture or
# between the scans of a progressive one.
_JPEG_FRAMES = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_DECODING = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
_JPEG_SOS, _JPEG_EOI, _JPEG_DNL = 0xDA, 0xD9, 0xDC
# The end of a scan's entropy-coded data: the first 0xFF that is not a stuffed zero, a
# restart marker or a fill byte before the next marker.
_JPEG_SCAN_END = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


def _read_jpeg(data: bytes, deadline: _Deadline) -> _Picture:
    """Walk every segment of a JPEG, through every scan to its end-of-image marker."""
    if not data.startswith(b"\xff\xd8"):
        raise StripFailed("not a JPEG")
    out = bytearray(b"\xff\xd8")
    width = height = scans = segments = 0
    pos = 2
    while True:
        deadline.check()
        segments += 1
        if segments > MAX_IMAGE_SEGMENTS:
            raise TooComplex("too many segments")
        while data[pos : pos + 2] == b"\xff\xff":  # fill bytes before a marker
            pos += 1
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise StripFailed("JPEG segment structure broken")
        marker = data[pos + 1]
        if marker == _JPEG_EOI:
            out += b"\xff\xd9"  # whatever trails the image is dropped
            break
        if marker in _JPEG_STANDALONE:
            out += data[pos : pos + 2]
            pos += 2
            continue
        end = _jpeg_segment_end(data, pos)
        payload = data[pos + 4 : end]
        if marker == _JPEG_SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise TooComplex("too many scans")
            scan_end = _jpeg_scan_end(data, end)
            out += data[pos:scan_end]  # the scan header and its entropy-coded data
            pos = scan_end
            continue
        frame_width, frame_height = _jpeg_frame_size(marker, payload)
        width, height = max(width, frame_width), max(height, frame_height)
        out += _kept_jpeg_segment(marker, payload)
        pos = end
    if width == 0 or height == 0:
        raise StripFailed("JPEG has no frame")
    return _Picture(width, height, bytes(out))


def _jpeg_segment_end(data: bytes, pos: int) -> int:
    """Return where the segment whose marker is at ``pos`` ends."""
    if pos + 4 > len(data):
        raise StripFailed("JPEG segment runs past the end")
    length = int.from_bytes(data[pos + 2 : pos + 4])
    end = pos + 2 + length
    if length < 2 or end > len(data):
        raise StripFailed("JPEG segment runs past the end")
    return end


def _jpeg_scan_end(data: bytes, start: int) -> int:
    """Return where the entropy-coded data that begins at ``start`` ends."""
    found = _JPEG_SCAN_END.search(data, start)
    if found is None:
        raise StripFailed("JPEG has no end-of-image marker")
    return found.start()


def _jpeg_frame_size(marker: int, payload: bytes) -> tuple[int, int]:
    """Return the width and height a segment gives (0 where it gives none)."""
    if marker in _JPEG_FRAMES:
        if len(payload) < 6:
            raise StripFailed("JPEG frame header too short")
        height, width = struct.unpack_from(">HH", payload, 1)
        return width, height
    if marker == _JPEG_DNL and len(payload) >= 2:  # the height, given after the first scan
        return 0, struct.unpack_from(">H", payload)[0]
    return 0, 0


def _kept_jpeg_segment(marker: int, payload: bytes) -> bytes:
    """Return the segment as it is written out: whole, shortened, or nothing."""
    if marker in _JPEG_FRAMES or marker in _JPEG_DECODING:
        return _jpeg_segment(marker, payload)
    if marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
        # The JFIF header, which decoders read for the pixel density, without its
        # thumbnail (which would show what a crop cut away).
        return _jpeg_segment(marker, payload[:12] + b"\x00\x00")
    if marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
        # Adobe's colour transform flag, without which CMYK pictures decode wrongly.
        return _jpeg_segment(marker, payload[:12])
    return b""


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


# PNG chunks a decoder needs for the picture; every other chunk (tEXt, zTXt, iTXt, eXIf,
# tIME, iCCP, private ones) is dropped.
_PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"sRGB", b"cHRM"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_png(data: bytes, deadline: _Deadline) -> _Picture:
    """Walk every chunk of a PNG to IEND, keeping only those that describe the picture."""
    if not data.startswith(_PNG_SIGNATURE):
        raise StripFailed("not a PNG")
    out = bytearray(_PNG_SIGNATURE)
    width = height = chunks = 0
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        deadline.check()
        chunks += 1
        if chunks > MAX_IMAGE_SEGMENTS:
            raise TooComplex("too many chunks")
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise StripFailed("PNG chunk runs past the end")
        if kind == b"IHDR" and length >= 8:
            width, height = struct.unpack_from(">II", data, pos + 8)
        if kind in _PNG_KEEP:
            out += data[pos:end]
        if kind == b"IEND":
            if width == 0 or height == 0:
                raise StripFailed("PNG has no header")
            return _Picture(width, height, bytes(out))
        pos = end
    raise StripFailed("PNG has no IEND chunk")


# --- PDF -------------------------------------------------------------------------------

# Markup annotations (comments, highlights, ...) carry their author in /T and dates in
# /M and /CreationDate; form fields (widgets) use /T for the field name, which stays.
_ANNOTATION_PRIVATE_KEYS = ("/T", "/M", "/CreationDate")
# On any object: XMP streams, private data of the application that wrote the file.
_PRIVATE_KEYS = ("/Metadata", "/PieceInfo", "/LastModified")
# Filter names as images write them, with the short forms of inline images.
_FILTER_NAMES = {
    "/A85": "/ASCII85Decode",
    "/AHx": "/ASCIIHexDecode",
    "/Fl": "/FlateDecode",
    "/DCT": "/DCTDecode",
    "/RL": "/RunLengthDecode",
    "/LZW": "/LZWDecode",
    "/CCF": "/CCITTFaxDecode",
}
_PDF_WHITESPACE = re.compile(rb"[\x00\t\n\x0c\r ]")


def _strip_pdf(data: bytes, deadline: _Deadline) -> Stripped:
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        for key in ("/Info", "/ID"):
            # The file identifier can link this copy to the original; qpdf writes a new one.
            if key in pdf.trailer:
                del pdf.trailer[key]
        # Attached files and a signature's certificates are not cleaned.
        complete = len(pdf.attachments) == 0 and "/DSS" not in pdf.Root
        for page in pdf.pages:
            _scrub_annotations(page.obj)
        # Inline images first, so that the loop below finds them as image objects.
        complete = _move_inline_images(pdf, deadline) and complete
        for obj in pdf.objects:
            deadline.check()
            complete = _clean_object(obj, deadline) and complete
        deadline.check()
        out = io.BytesIO()
        pdf.save(out, fix_metadata_version=False, preserve_pdfa=False, encryption=False)
    return Stripped(out.getvalue(), complete=complete, reencoded=False)


def _move_inline_images(pdf: pikepdf.Pdf, deadline: _Deadline) -> bool:
    """Turn inline images into image objects; return False where some may be left.

    First on pages (with the forms they use), then in forms used elsewhere (annotation
    appearances, say); qpdf does not do it in tiling patterns.
    """
    import pikepdf

    complete = True
    for page in pdf.pages:
        deadline.check()
        complete = _externalize_inline_images(pdf, page) and complete
    for obj in list(pdf.objects):
        deadline.check()
        if not isinstance(obj, pikepdf.Stream):
            continue
        if _is_form_with_resources(obj):
            complete = _externalize_inline_images(pdf, pikepdf.Page(obj)) and complete
        elif obj.get("/PatternType") == 1 and _may_draw_inline_images(obj):
            complete = False
    return complete


def _clean_object(obj: pikepdf.Object, deadline: _Deadline) -> bool:
    """Remove the private keys of one PDF object and clean it if it is a JPEG image.

    Return False if the object may keep metadata.
    """
    import pikepdf

    complete = True
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        for key in _PRIVATE_KEYS:
            if key in obj:
                del obj[key]
        complete = not _is_file_or_signature(obj)
    if isinstance(obj, pikepdf.Stream):
        complete = _clean_image_stream(obj, deadline) and complete
    return complete


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


def _is_file_or_signature(obj: pikepdf.Object) -> bool:
    """Whether ``obj`` is an attached file or a digital signature (neither is cleaned)."""
    import pikepdf

    kind = obj.get("/Type")
    return (
        "/EF" in obj  # a file specification with the file itself
        or kind in (pikepdf.Name.EmbeddedFile, pikepdf.Name.Sig)
        or obj.get("/Subtype") == pikepdf.Name.FileAttachment
        or "/ByteRange" in obj  # a signature value, /Type being optional
    )


def _is_form_with_resources(stream: pikepdf.Object) -> bool:
    """Whether ``stream`` is a form (an annotation's appearance, say) with its own resources.

    Only then can its inline images be moved out: a form that borrows the resources of
    the page it is drawn on would be cut off from the page's fonts.
    """
    import pikepdf

    return "/Resources" in stream and stream.get("/Subtype") == pikepdf.Name.Form


# The operator that begins an inline image; in a string it gives a false alarm, no more.
_INLINE_IMAGE = re.compile(rb"\bBI\b")


def _may_draw_inline_images(stream: pikepdf.Object) -> bool:
    """Whether a content stream (a tiling pattern's) holds an inline image, or may."""
    filters = _filters(stream)
    try:
        content = stream.read_raw_bytes()
        for name, parms in zip(filters, _decode_parms(stream, len(filters)), strict=True):
            content = _unpack(name, content, parms)
    except StripFailed:
        return True  # cannot look inside
    return _INLINE_IMAGE.search(content) is not None


def _externalize_inline_images(pdf: pikepdf.Pdf, content: pikepdf.Page) -> bool:
    """Move the inline images of a page or form into image objects, which are cleaned.

    Return whether that went without complaint: qpdf warns, rather than fails, when it
    cannot read the content, and the images may then still be inside.
    """
    import pikepdf

    warnings = len(pdf.get_warnings())
    try:
        content.externalize_inline_images(min_size=0)
    except pikepdf.PdfError:
        return False
    return len(pdf.get_warnings()) == warnings


def _clean_image_stream(stream: pikepdf.Object, deadline: _Deadline) -> bool:
    """Cut the metadata out of a JPEG image inside a PDF; return False where some may remain.

    The JPEG may be wrapped in ASCII85, ASCIIHex or Flate layers (``/Filter
    [/ASCII85Decode /DCTDecode]``); it is unpacked, cleaned and written back bare.
    """
    import pikepdf

    filters = _filters(stream)
    if "/JPXDecode" in filters:
        return False  # JPEG 2000 boxes hold XML and EXIF as they like; not cleaned
    if "/DCTDecode" not in filters:
        return True  # pixels, text, fonts: nothing a camera writes
    if filters[-1] != "/DCTDecode":
        return False  # a JPEG inside something we cannot take apart
    parms = _decode_parms(stream, len(filters))
    try:
        jpeg = stream.read_raw_bytes()
        for name, layer_parms in zip(filters[:-1], parms[:-1], strict=True):
            jpeg = _unpack(name, jpeg, layer_parms)
        cut = _read_jpeg(jpeg, deadline).cut
    except StripFailed:  # too complex, or broken: this image stays as it was
        return False
    if cut != jpeg or len(filters) > 1:
        stream.write(cut, filter=pikepdf.Name.DCTDecode, decode_parms=parms[-1])
        if "/DL" in stream:  # the decoded length, no longer true
            del stream["/DL"]
    return True


def _filters(stream: pikepdf.Object) -> list[str]:
    """Return a stream's filters in the order they are undone, with their full names."""
    import pikepdf

    value = stream.get("/Filter")
    if value is None:
        return []
    names = list(value) if isinstance(value, pikepdf.Array) else [value]
    return [_FILTER_NAMES.get(str(name), str(name)) for name in names]


def _decode_parms(stream: pikepdf.Object, count: int) -> list[pikepdf.Dictionary | None]:
    """Return the parameters of each of a stream's ``count`` filters (None: none)."""
    import pikepdf

    value = stream.get("/DecodeParms")
    items: list[object] = list(value) if isinstance(value, pikepdf.Array) else [value] * count
    parms = [item if isinstance(item, pikepdf.Dictionary) else None for item in items]
    return (parms + [None] * count)[:count]


def _unpack(name: str, data: bytes, parms: pikepdf.Dictionary | None) -> bytes:
    """Undo one ASCII85, ASCIIHex or Flate layer (around a JPEG); raise if we cannot."""
    if parms is not None and int(parms.get("/Predictor", 1)) > 1:
        raise StripFailed("a predictor around a JPEG")
    try:
        if name == "/ASCII85Decode":
            text = data.split(b"~>", 1)[0]
            unpacked = base64.a85decode(_PDF_WHITESPACE.sub(b"", text).removeprefix(b"<~"))
        elif name == "/ASCIIHexDecode":
            digits = _PDF_WHITESPACE.sub(b"", data.split(b">", 1)[0])
            unpacked = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
        elif name == "/FlateDecode":
            unpacked = zlib.decompressobj().decompress(data, MAX_UNPACKED_IMAGE_BYTES + 1)
        else:
            raise StripFailed(f"{name} is not unpacked")
    except (ValueError, zlib.error) as exc:  # binascii.Error is a ValueError
        raise StripFailed(type(exc).__name__) from exc
    if len(unpacked) > MAX_UNPACKED_IMAGE_BYTES:
        raise TooComplex("unpacks too large")
    return unpacked
