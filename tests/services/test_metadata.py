"""Recognising file types and removing identifying metadata (dissent.services.metadata)."""

from __future__ import annotations

import io
import random

import pikepdf
import pytest
from PIL import ExifTags, Image, ImageChops, PngImagePlugin

from dissent.services import metadata
from dissent.services.metadata import FileType, StripFailed, sniff, strip_metadata

SECRETS = (b"CanaryCam", b"Serial-0042", b"J. Doe", b"ICC-CANARY", b"XMP-CANARY", b"TRAILER")


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CanaryCam"
    exif[ExifTags.Base.BodySerialNumber] = "Serial-0042"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 4.0, 51.0)
    return exif


def photo(*, orientation: int = 1, progressive: bool = False, size=(48, 32)) -> bytes:
    """A JPEG carrying every kind of metadata, and data after its end."""
    image = Image.new("RGB", size, (20, 120, 200))
    image.paste((250, 250, 0), (0, 0, size[0] // 2, size[1] // 4))  # so rotation shows
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        exif=exif_with_gps(orientation),
        comment=b"taken by J. Doe",
        icc_profile=b"ICC-CANARY" * 20,
        xmp=b"<x:xmpmeta>XMP-CANARY</x:xmpmeta>",
        progressive=progressive,
    )
    return out.getvalue() + b"TRAILER appended by the phone"


def png(mode: str = "RGBA") -> bytes:
    image = Image.new(mode, (16, 16))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "J. Doe")
    info.add_itxt("XML:com.adobe.xmp", "XMP-CANARY")
    options = {"transparency": 0} if mode == "P" else {}
    out = io.BytesIO()
    image.save(
        out,
        "PNG",
        pnginfo=info,
        exif=exif_with_gps(),
        icc_profile=b"ICC-CANARY" * 10,
        **options,
    )
    return out.getvalue()


def assert_clean(data: bytes) -> None:
    assert [s for s in SECRETS if s in data] == []
    image = Image.open(io.BytesIO(data))
    image.load()
    assert dict(image.getexif()) == {}
    assert not {"exif", "comment", "icc_profile", "xmp", "XML:com.adobe.xmp", "Author"} & set(
        image.info
    )


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", FileType.JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", FileType.PNG),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", FileType.PDF),
        (b"GIF89a\x01\x00", FileType.GIF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", FileType.WEBP),
        (b"PK\x03\x04\x14\x00\x06\x00", FileType.ZIP),
        (b"Minutes of the meeting", FileType.OTHER),
        (b"", FileType.OTHER),
    ],
)
def test_types_are_recognised_by_their_first_bytes(head, kind):
    assert sniff(head) is kind


def test_jpeg_is_reencoded_without_metadata_and_turned_upright():
    original = photo(orientation=6)

    result = strip_metadata(original, FileType.JPEG)

    assert (result.complete, result.reencoded) == (True, True)
    assert_clean(result.data)
    assert Image.open(io.BytesIO(result.data)).size == (32, 48)
    assert not result.data.endswith(b"phone")


def test_a_large_jpeg_has_its_segments_cut_without_decoding(monkeypatch):
    monkeypatch.setattr(metadata, "REENCODE_MAX_PIXELS", 100)
    original = photo()

    result = strip_metadata(original, FileType.JPEG)

    assert (result.complete, result.reencoded) == (True, False)
    assert_clean(result.data)
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(result.data))
    assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is None


def test_segment_cutting_handles_progressive_jpegs():
    cut = metadata._cut_jpeg_segments(photo(progressive=True, size=(300, 200)))

    assert_clean(cut)
    assert Image.open(io.BytesIO(cut)).size == (300, 200)


@pytest.mark.parametrize("mode", ["RGBA", "P", "L"])
def test_png_is_reencoded_without_text_exif_or_icc(mode):
    result = strip_metadata(png(mode), FileType.PNG)

    assert_clean(result.data)
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"):
        assert chunk not in result.data
    image = Image.open(io.BytesIO(result.data))
    assert image.mode == mode
    if mode == "P":
        assert image.info.get("transparency") == 0


def test_a_large_png_keeps_only_its_picture_chunks(monkeypatch):
    monkeypatch.setattr(metadata, "REENCODE_MAX_PIXELS", 10)
    original = png()

    result = strip_metadata(original, FileType.PNG)

    assert result.reencoded is False
    assert_clean(result.data)
    assert (
        Image.open(io.BytesIO(result.data)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    )


def pdf_document() -> bytes:
    """A PDF with an author, XMP, a commented page, a form field and an embedded photo."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    page = pdf.pages[0]
    jpeg = photo()
    image = pikepdf.Stream(pdf, jpeg.split(b"TRAILER")[0])
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = 48, 32, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    comment = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Text,
            Rect=[0, 0, 10, 10],
            Contents="check this figure",
            T="J. Doe",
            M="D:20260101120000",
        )
    )
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget,
            Rect=[0, 0, 10, 10],
            T="field_name",
            FT=pikepdf.Name.Tx,
            P=page.obj,
        )
    )
    page.Annots = pdf.make_indirect(pikepdf.Array([comment, field]))
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(Fields=pikepdf.Array([field])))
    pdf.trailer.Info = pdf.make_indirect(
        pikepdf.Dictionary(Author="J. Doe", Producer="CanaryCam Office", CreationDate="D:2026")
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = ["XMP-CANARY"]
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def test_pdf_loses_document_information_xmp_comment_authors_and_photo_metadata():
    original = pdf_document()
    assert b"J. Doe" in original and b"CanaryCam" in original

    result = strip_metadata(original, FileType.PDF)

    assert result.complete
    assert [s for s in SECRETS if s in result.data] == []
    with pikepdf.open(io.BytesIO(result.data)) as pdf, pikepdf.open(io.BytesIO(original)) as old:
        assert dict(pdf.docinfo) == {}
        assert "/Metadata" not in pdf.Root
        comment, widget = pdf.pages[0].Annots
        assert "/T" not in comment and "/M" not in comment
        assert str(comment.Contents) == "check this figure"  # content stays
        assert str(widget.T) == "field_name"  # a form needs its field names
        assert pdf.trailer.ID[0] != old.trailer.ID[0]
        embedded = pdf.pages[0].Resources.XObject.Im0.read_raw_bytes()
    assert_clean(embedded)


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (FileType.JPEG, b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(500)),
        (FileType.PNG, b"\x89PNG\r\n\x1a\n" + random.Random(2).randbytes(500)),
        (FileType.PDF, b"%PDF-1.4\n" + random.Random(3).randbytes(500)),
        (FileType.ZIP, b"PK\x03\x04"),
    ],
)
def test_unreadable_files_raise_strip_failed(kind, data):
    with pytest.raises(StripFailed):
        strip_metadata(data, kind)
