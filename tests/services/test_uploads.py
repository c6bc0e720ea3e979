"""Receiving an upload: safe file names, and a sink that holds, encrypts or drops the data."""

from __future__ import annotations

import pytest

from dissent.crypto import decrypt
from dissent.services import uploads
from dissent.services.metadata import FileType
from dissent.services.storage import BLOB_DIR, PART_SUFFIX
from tests.helpers.files import random_bytes

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + bytes(24)
JPEG_HEAD = b"\xff\xd8\xff\xe0" + bytes(28)


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("report.pdf", "report.pdf"),
        ("C:\\Users\\jdoe\\Desktop\\report.pdf", "report.pdf"),  # old browsers send the path
        ("../../etc/passwd", "passwd"),
        ("..hidden", "hidden"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override, removed
        ("tab\there\nnewline", "tabherenewline"),
        ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h"),
        ("  spaced   out  .txt", "spaced out .txt"),
        ("Zoe\u0308.txt", "Zoë.txt"),  # NFC
        ("", "attachment"),
        (None, "attachment"),
        ("...", "attachment"),
        ("x" * 300 + ".jpeg", "x" * 115 + ".jpeg"),
        ("y" * 300, "y" * 120),
    ],
)
def test_file_names_are_made_safe(sent, kept):
    assert uploads.sanitize_filename(sent) == kept
    assert len(uploads.sanitize_filename(sent)) <= uploads.FILENAME_MAX


def test_a_long_name_with_an_over_long_extension_is_cut_as_a_whole():
    name = "a" * 100 + "." + "b" * 40

    kept = uploads.sanitize_filename(name)

    assert kept == name[: uploads.FILENAME_MAX]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200e", "\u2066", "\ufeff", "\x00", "\x7f"])
def test_invisible_and_control_characters_are_removed(invisible):
    assert uploads.sanitize_filename(f"pay{invisible}slip.pdf") == "payslip.pdf"


# --- the sink ----------------------------------------------------------------------------


@pytest.fixture
def make_sink(settings, recovery_identity):
    sinks: list[uploads.UploadSink] = []

    def make(*, max_bytes: int = 1 << 20, memory_limit: int = 1 << 16) -> uploads.UploadSink:
        sink = uploads.UploadSink(
            settings=settings,
            recipients=[recovery_identity.recipient],
            max_bytes=max_bytes,
            memory_limit=memory_limit,
        )
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.discard()


def receive(sink: uploads.UploadSink, data: bytes, *, filename: str = "f.bin", piece: int = 7):
    """Feed ``data`` to the sink in small pieces, as the form parser does."""
    target = sink.open_part(None, "application/octet-stream", filename)
    for start in range(0, len(data), piece):
        target.write(data[start : start + piece])
    target.seek(0)


def blob_files(settings) -> list:
    folder = settings.instance_path / BLOB_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_image_is_held_in_memory_until_it_is_cleaned(make_sink, settings, recovery_identity):
    sink = make_sink()
    image = PNG_HEAD + random_bytes(500)

    receive(sink, image, filename="photo.png")

    assert (sink.kind, sink.size, sink.filename) == (FileType.PNG, len(image), "photo.png")
    assert blob_files(settings) == []  # nothing on disk while it waits to be cleaned
    held = sink.take_memory()
    assert held == image
    assert sink.take_memory() is None  # handed over once
    blob = sink.seal(b"cleaned image")
    blob.publish()
    assert decrypt(blob.path.read_bytes(), identities=[recovery_identity], padded=True) == (
        b"cleaned image"
    )


def test_any_other_file_is_encrypted_as_it_arrives(make_sink, settings, recovery_identity):
    sink = make_sink()
    data = b"MZ" + random_bytes(5000)

    receive(sink, data)

    assert sink.kind is FileType.OTHER
    assert sink.take_memory() is None
    [part] = blob_files(settings)
    assert part.name.endswith(PART_SUFFIX)
    blob = sink.seal(None)
    blob.publish()
    stored = blob.path.read_bytes()
    assert data[:64] not in stored
    assert decrypt(stored, identities=[recovery_identity], padded=True) == data


def test_an_image_too_large_to_clean_in_memory_is_streamed_and_flagged(
    make_sink, recovery_identity
):
    sink = make_sink(memory_limit=1000)
    image = JPEG_HEAD + random_bytes(3000)

    receive(sink, image, filename="big.jpg")

    assert sink.kind is FileType.JPEG
    assert sink.too_large_to_strip and not sink.too_large
    assert sink.take_memory() is None
    blob = sink.seal(None)
    blob.publish()
    assert decrypt(blob.path.read_bytes(), identities=[recovery_identity], padded=True) == image


def test_past_the_limit_the_data_is_counted_and_dropped(make_sink, settings):
    sink = make_sink(max_bytes=1000)

    receive(sink, random_bytes(2500))

    assert sink.too_large
    assert sink.size == 2500  # the whole request was read, so it can be answered
    assert blob_files(settings) == []  # the part already encrypted was removed
    assert sink.take_memory() is None
    with pytest.raises(RuntimeError):
        sink.seal(None)


def test_a_file_of_exactly_the_limit_is_accepted(make_sink):
    sink = make_sink(max_bytes=1000)

    receive(sink, random_bytes(1000))

    assert not sink.too_large


def test_only_the_first_file_part_is_kept(make_sink, recovery_identity):
    sink = make_sink()
    receive(sink, b"first file " * 10, filename="first.txt")

    second = sink.open_part(None, "application/octet-stream", "second.txt")
    assert second.write(b"second file") == len(b"second file")

    assert (sink.parts, sink.filename, sink.size) == (2, "first.txt", 110)
    blob = sink.seal(sink.take_memory())
    blob.publish()
    stored = decrypt(blob.path.read_bytes(), identities=[recovery_identity], padded=True)
    assert stored == b"first file " * 10


def test_discard_removes_the_partial_blob_and_can_be_repeated(make_sink, settings):
    sink = make_sink()
    receive(sink, random_bytes(4000))
    assert len(blob_files(settings)) == 1

    sink.discard()
    sink.discard()

    assert blob_files(settings) == []
