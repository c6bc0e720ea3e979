"""Recognising file types and removing identifying metadata (dissent.services.metadata)."""

from __future__ import annotations

import io
import random
import struct
import zlib

import pikepdf
import pytest
from PIL import ExifTags, Image, ImageChops, PngImagePlugin

from dissent.services import metadata
from dissent.services.metadata import FileType, StripFailed, TooComplex, sniff, strip_metadata
from tests.helpers.metadata_corpus import (
    CANARY,
    camera_jpeg,
    comment_segment,
    embedded_jpegs,
    exif_segment,
    insert_before_second_scan,
    pdf_with_inline_photo,
    pdf_with_photo,
    progressive_jpeg,
    segment,
)

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


def test_segment_cutting_handles_progressive_jpegs(monkeypatch):
    monkeypatch.setattr(metadata, "REENCODE_MAX_PIXELS", 100)

    result = strip_metadata(photo(progressive=True, size=(300, 200)), FileType.JPEG)

    assert (result.complete, result.reencoded) == (True, False)
    assert_clean(result.data)
    assert Image.open(io.BytesIO(result.data)).size == (300, 200)


def test_segment_cutting_drops_metadata_between_progressive_scans(monkeypatch):
    monkeypatch.setattr(metadata, "REENCODE_MAX_PIXELS", 10)
    original = insert_before_second_scan(
        photo(progressive=True, size=(64, 48)), exif_segment() + comment_segment()
    )
    assert CANARY in original

    result = strip_metadata(original, FileType.JPEG)

    assert (result.complete, result.reencoded) == (True, False)
    assert CANARY not in result.data
    assert_clean(result.data)
    before, after = Image.open(io.BytesIO(original)), Image.open(io.BytesIO(result.data))
    assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is None


def test_segment_cutting_keeps_only_what_the_decoder_needs(monkeypatch):
    monkeypatch.setattr(metadata, "REENCODE_MAX_PIXELS", 10)
    jfif_with_thumbnail = segment(
        0xE0, b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x02\x02" + b"THUMB-CANARY"
    )
    jfxx_thumbnail = segment(0xE0, b"JFXX\x00\x10" + b"THUMB-CANARY")
    adobe = segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + b"ADOBE-CANARY")
    extension = segment(0xF1, b"JPG1-CANARY")  # a reserved JPGn marker
    original = (
        progressive_jpeg(head=jfif_with_thumbnail + jfxx_thumbnail + adobe + extension)
        + b"TRAILER-CANARY"
    )

    cut = strip_metadata(original, FileType.JPEG).data

    assert b"CANARY" not in cut
    assert segment(0xE0, b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48\x00\x00") in cut
    assert segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01") in cut
    assert cut.endswith(b"\xff\xd9")
    plain = progressive_jpeg()  # libjpeg refuses the original for its JPG1 segment
    assert Image.open(io.BytesIO(cut)).tobytes() == Image.open(io.BytesIO(plain)).tobytes()


def test_a_jpeg_with_more_scans_than_the_limit_is_not_cleaned():
    at_limit = progressive_jpeg(scans=metadata.MAX_JPEG_SCANS, head=exif_segment())
    over = progressive_jpeg(scans=metadata.MAX_JPEG_SCANS + 1, head=exif_segment())

    assert CANARY not in strip_metadata(at_limit, FileType.JPEG).data
    with pytest.raises(TooComplex):
        strip_metadata(over, FileType.JPEG)


def test_thousands_of_tiny_scans_are_refused_without_decoding(monkeypatch):
    decoded = []
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: decoded.append(args))

    with pytest.raises(TooComplex):
        strip_metadata(progressive_jpeg(scans=20_000), FileType.JPEG)
    assert decoded == []


def test_a_flood_of_empty_segments_is_refused_before_pillow_reads_it(monkeypatch):
    decoded = []
    monkeypatch.setattr(Image, "open", lambda *args, **kwargs: decoded.append(args))
    empty_comment = b"\xff\xfe\x00\x02"
    jpeg = progressive_jpeg(head=empty_comment * metadata.MAX_IMAGE_SEGMENTS)
    chunk = png_chunk(b"tEXt", b"")
    signature, rest = png()[:8], png()[8:]
    flooded_png = signature + rest[:25] + chunk * metadata.MAX_IMAGE_SEGMENTS + rest[25:]

    for data, kind in ((jpeg, FileType.JPEG), (flooded_png, FileType.PNG)):
        with pytest.raises(TooComplex):
            strip_metadata(data, kind)
    assert decoded == []


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def huge_png() -> bytes:
    """A PNG that claims 20,000 x 20,000 pixels (400 megapixels) and carries an author."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0))
        + png_chunk(b"tEXt", b"Author\x00" + CANARY)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 20_001))
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("kind", "build"),
    [
        (FileType.JPEG, lambda: progressive_jpeg(scans=1, width=20_000, height=20_000)),
        (FileType.PNG, huge_png),
    ],
    ids=["jpeg", "png"],
)
def test_pictures_larger_than_the_pixel_limit_are_not_cleaned(kind, build):
    assert metadata.MAX_IMAGE_PIXELS < 20_000 * 20_000

    with pytest.raises(TooComplex):
        strip_metadata(build(), kind)


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


def pixels(jpeg: bytes) -> bytes:
    return Image.open(io.BytesIO(jpeg)).convert("RGB").tobytes()


@pytest.mark.parametrize(
    "filters",
    [
        ["/DCTDecode"],
        ["/ASCII85Decode", "/DCTDecode"],
        ["/ASCIIHexDecode", "/DCTDecode"],
        ["/FlateDecode", "/DCTDecode"],
        ["/ASCII85Decode", "/FlateDecode", "/DCTDecode"],
    ],
    ids=" ".join,
)
def test_a_pdf_photo_behind_a_filter_array_loses_its_metadata(filters):
    jpeg = camera_jpeg()
    original = pdf_with_photo(jpeg, filters)

    result = strip_metadata(original, FileType.PDF)

    assert result.complete
    [cleaned] = embedded_jpegs(result.data)
    assert CANARY not in cleaned and CANARY not in result.data
    assert pixels(cleaned) == pixels(jpeg)


def test_a_pdf_inline_photo_loses_its_metadata():
    jpeg = camera_jpeg()

    result = strip_metadata(pdf_with_inline_photo(jpeg), FileType.PDF)

    assert result.complete
    [cleaned] = embedded_jpegs(result.data)
    assert CANARY not in cleaned
    assert pixels(cleaned) == pixels(jpeg)


def every_stream(data: bytes) -> list[bytes]:
    """Return each stream of a PDF, decoded where qpdf can (raw where it cannot)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        streams = [obj for obj in pdf.objects if isinstance(obj, pikepdf.Stream)]
        out = []
        for stream in streams:
            try:
                out.append(stream.read_bytes())
            except pikepdf.PdfError:
                out.append(stream.read_raw_bytes())
        return out


def test_an_inline_photo_in_a_comment_appearance_loses_its_metadata():
    jpeg = camera_jpeg()

    def add_commented_photo(pdf):
        appearance = pdf.make_stream(
            b"q 16 0 0 16 0 0 cm BI /W 16 /H 16 /CS /RGB /BPC 8 /F /DCT ID " + jpeg + b" EI Q",
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Form,
            BBox=[0, 0, 16, 16],
            Resources=pikepdf.Dictionary(),
        )
        stamp = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Stamp,
                Rect=[0, 0, 16, 16],
                AP=pikepdf.Dictionary(N=appearance),
            )
        )
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([stamp]))

    original = pdf_with(add_commented_photo)
    assert any(CANARY in data for data in every_stream(original))

    result = strip_metadata(original, FileType.PDF)

    assert result.complete
    assert not any(CANARY in data for data in every_stream(result.data))
    [cleaned] = embedded_jpegs(result.data)
    assert pixels(cleaned) == pixels(jpeg)


def test_a_pdf_photo_with_metadata_between_its_scans_loses_it():
    jpeg = insert_before_second_scan(
        camera_jpeg(progressive=True, exif=False), exif_segment() + comment_segment()
    )

    result = strip_metadata(pdf_with_photo(jpeg, ["/DCTDecode"], as_array=False), FileType.PDF)

    assert result.complete
    [cleaned] = embedded_jpegs(result.data)
    assert CANARY not in cleaned
    assert pixels(cleaned) == pixels(jpeg)


def pdf_with(build) -> bytes:
    """A one-page PDF to which ``build(pdf)`` adds something."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    build(pdf)
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def add_jpeg2000(pdf):
    image = pikepdf.Stream(pdf, b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"uuid" + CANARY)
    image.Type, image.Subtype, image.Filter = (
        pikepdf.Name.XObject,
        pikepdf.Name.Image,
        pikepdf.Name.JPXDecode,
    )
    image.Width, image.Height = 8, 8
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))


def add_attached_photo(pdf):
    pdf.attachments["IMG_0001.jpg"] = pikepdf.AttachedFileSpec(pdf, camera_jpeg())


def add_signature(pdf):
    signature = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Sig,
            Filter=pikepdf.Name("/Adobe.PPKLite"),
            Name=CANARY.decode(),
            ByteRange=[0, 10, 20, 10],
            Contents=pikepdf.String(b"\x30\x82" + CANARY),
        )
    )
    field = pdf.make_indirect(pikepdf.Dictionary(FT=pikepdf.Name.Sig, T="Signature1", V=signature))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))


def add_pattern(pdf, content: bytes):
    pattern = pdf.make_stream(
        content,
        Type=pikepdf.Name.Pattern,
        PatternType=1,
        PaintType=1,
        TilingType=1,
        BBox=[0, 0, 16, 16],
        XStep=16,
        YStep=16,
        Resources=pikepdf.Dictionary(),
    )
    pdf.pages[0].Resources = pikepdf.Dictionary(Pattern=pikepdf.Dictionary(P0=pattern))
    pdf.pages[0].Contents = pdf.make_stream(b"/Pattern cs /P0 scn 0 0 100 100 re f")


def add_pattern_with_photo(pdf):
    jpeg = camera_jpeg()
    add_pattern(pdf, b"BI /W 16 /H 16 /CS /RGB /BPC 8 /F /DCT ID " + jpeg + b" EI")


def test_a_pdf_with_a_plain_pattern_is_clean():
    original = pdf_with(lambda pdf: add_pattern(pdf, b"0 0 8 8 re f"))

    assert strip_metadata(original, FileType.PDF).complete


UNCLEANABLE_PDFS = {
    "inline photo in a tiling pattern": lambda: pdf_with(add_pattern_with_photo),
    "photo behind [/RunLengthDecode /DCTDecode]": lambda: pdf_with_photo(
        camera_jpeg(), ["/RunLengthDecode", "/DCTDecode"]
    ),
    "photo with more scans than the limit": lambda: pdf_with_photo(
        progressive_jpeg(scans=metadata.MAX_JPEG_SCANS + 1, head=exif_segment()), ["/DCTDecode"]
    ),
    "JPEG 2000 image": lambda: pdf_with(add_jpeg2000),
    "attached file": lambda: pdf_with(add_attached_photo),
    "digital signature": lambda: pdf_with(add_signature),
}


@pytest.mark.parametrize("build", UNCLEANABLE_PDFS.values(), ids=UNCLEANABLE_PDFS.keys())
def test_pdf_parts_that_cannot_be_cleaned_make_the_result_incomplete(build):
    result = strip_metadata(build(), FileType.PDF)

    assert result.complete is False


def test_a_pdf_photo_whose_outer_layer_unpacks_too_large_is_flagged(monkeypatch):
    monkeypatch.setattr(metadata, "MAX_UNPACKED_IMAGE_BYTES", 100)
    original = pdf_with_photo(camera_jpeg(), ["/FlateDecode", "/DCTDecode"])

    result = strip_metadata(original, FileType.PDF)

    assert result.complete is False


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


@pytest.mark.parametrize(
    ("kind", "build"),
    [
        (FileType.JPEG, photo),
        (FileType.PNG, png),
        (FileType.PDF, pdf_document),
    ],
    ids=["jpeg", "png", "pdf"],
)
def test_cleaning_that_runs_out_of_time_is_not_called_clean(monkeypatch, kind, build):
    monkeypatch.setattr(metadata, "CLEANING_SECONDS", 0)

    with pytest.raises(TooComplex):
        strip_metadata(build(), kind)
