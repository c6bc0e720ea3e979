"""Tests for dissent.crypto.age: round trips, tampering, atomic decryption, re-wrapping."""

from __future__ import annotations

import io
import os
import random
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dissent.crypto import (
    ArmorError,
    DecryptionError,
    HeaderError,
    KeyKind,
    NoIdentityMatchError,
    PayloadError,
    ScryptIdentity,
    ScryptRecipient,
    add_recipients,
    add_recipients_stream,
    decrypt,
    decrypt_stream,
    decrypt_to_path,
    encrypt,
    encrypt_stream,
    generate_identity,
    iter_decrypt,
    rewrap,
    rewrap_header,
    split_header,
)
from dissent.crypto._io import BufferedSource
from dissent.crypto.age import open_header

CHUNK = 64 * 1024
# One encrypted payload chunk: 64 KiB of plaintext and a 16-byte Poly1305 tag.
SEALED_CHUNK = CHUNK + 16
PAYLOAD_NONCE = 16
BOUNDARY_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 1]
MAX_SIZE = 300 * 1024

# Key generation is cheap, but hypothesis examples must not depend on fixtures, so a
# small pool of key holders is made once per module.
X25519_IDS = [generate_identity(KeyKind.X25519) for _ in range(5)]
HYBRID_IDS = [generate_identity(KeyKind.HYBRID) for _ in range(5)]
FOREIGN = {
    KeyKind.X25519: generate_identity(KeyKind.X25519),
    KeyKind.HYBRID: generate_identity(KeyKind.HYBRID),
}
ALICE, BOB, CAROL, DAVE = X25519_IDS[:4]

CRYPTO = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(deadline=None, max_examples=8, suppress_health_check=[HealthCheck.too_slow])


def plaintext(size: int, seed: int = 0) -> bytes:
    """Return reproducible pseudo-random bytes (cheaper than drawing them byte by byte)."""
    return random.Random(seed).randbytes(size)


sizes = st.integers(min_value=0, max_value=MAX_SIZE)
seeds = st.integers(min_value=0, max_value=2**32)
recipient_indices = st.lists(
    st.integers(min_value=0, max_value=4), min_size=1, max_size=4, unique=True
)


class TrickleReader:
    """A readable that hands out 1-7 bytes per ``read``, like a slow socket."""

    def __init__(self, data: bytes, seed: int = 0) -> None:
        self._data = data
        self._pos = 0
        self._rng = random.Random(seed)

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:  # read everything, as io readers do
            size = len(self._data) - self._pos
        n = min(self._rng.randint(1, 7), size)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def attempt(blob: bytes, identities, *, padded: bool = False):
    """Decrypt ``blob``; return what iter_decrypt released and the error it ended with."""
    released: list[bytes] = []
    try:
        for chunk in iter_decrypt(io.BytesIO(blob), identities=identities, padded=padded):
            released.append(chunk)
    except DecryptionError as exc:
        return b"".join(released), exc
    return b"".join(released), None


def assert_rejected(blob: bytes, identities, original: bytes) -> DecryptionError:
    """The file must fail, and whatever was released before failing must be authentic."""
    released, error = attempt(blob, identities)
    assert error is not None, "a modified file decrypted without error"
    assert original.startswith(released), "released plaintext that was not in the original"
    return error


def assert_never_wrong(blob: bytes, identities, original: bytes) -> None:
    """Either the file fails (releasing only a prefix) or it gives back the original."""
    released, error = attempt(blob, identities)
    if error is None:
        assert released == original
    else:
        assert original.startswith(released)


def flip(blob: bytes, position: int, bit: int) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 1 << bit
    return bytes(changed)


# --- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_round_trip_at_chunk_boundaries(size, armor) -> None:
    data = plaintext(size, seed=size)
    blob = encrypt(data, recipients=[ALICE.recipient, BOB.recipient], armor=armor)
    assert decrypt(blob, identities=[ALICE]) == data
    assert decrypt(blob, identities=[BOB]) == data
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=[CAROL])


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_payload_is_split_into_64_kib_chunks(size) -> None:
    blob = encrypt(plaintext(size), recipients=[ALICE.recipient])
    _, payload = split_header(blob)
    chunks = max(1, -(-size // CHUNK))
    assert len(payload) == PAYLOAD_NONCE + size + 16 * chunks
    lengths = [len(c) for c in iter_decrypt(io.BytesIO(blob), identities=[ALICE])]
    assert lengths == [CHUNK] * (chunks - 1) + [size - CHUNK * (chunks - 1)]


@CRYPTO
@given(size=sizes, seed=seeds, chosen=recipient_indices, armor=st.booleans())
def test_every_x25519_recipient_opens_the_file(size, seed, chosen, armor) -> None:
    data = plaintext(size, seed)
    blob = encrypt(data, recipients=[X25519_IDS[i].recipient for i in chosen], armor=armor)
    for i in chosen:
        assert decrypt(blob, identities=[X25519_IDS[i]]) == data
    others = [ident for i, ident in enumerate(X25519_IDS) if i not in chosen]
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=[*others, FOREIGN[KeyKind.X25519]])


@FEW
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK),
    seed=seeds,
    chosen=recipient_indices,
    armor=st.booleans(),
)
def test_every_hybrid_recipient_opens_the_file(size, seed, chosen, armor) -> None:
    data = plaintext(size, seed)
    blob = encrypt(data, recipients=[HYBRID_IDS[i].recipient for i in chosen], armor=armor)
    for i in chosen:
        assert decrypt(blob, identities=[HYBRID_IDS[i]]) == data
    others = [ident for i, ident in enumerate(HYBRID_IDS) if i not in chosen]
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=[*others, FOREIGN[KeyKind.HYBRID]])


def test_a_matching_identity_among_several_opens_the_file() -> None:
    blob = encrypt(b"report", recipients=[CAROL.recipient])
    assert decrypt(blob, identities=[ALICE, BOB, CAROL]) == b"report"


def test_an_x25519_identity_does_not_open_a_hybrid_file() -> None:
    blob = encrypt(b"report", recipients=[HYBRID_IDS[0].recipient])
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=X25519_IDS)


def test_armored_output_is_ascii_text() -> None:
    blob = encrypt(bytes(range(256)) * 10, recipients=[ALICE.recipient], armor=True)
    text = blob.decode("ascii")
    assert text.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert text.endswith("-----END AGE ENCRYPTED FILE-----\n")
    assert all(len(line) <= 64 for line in text.splitlines())


@pytest.mark.parametrize(
    ("before", "after"),
    [(b"", b""), (b"\n\n  ", b"\r\n\t \n"), (b"", b"\n" * 100)],
    ids=["bare", "blank lines and spaces", "many blank lines"],
)
def test_armor_may_be_surrounded_by_whitespace(before, after) -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient], armor=True)
    assert decrypt(before + blob + after, identities=[ALICE]) == b"report"


@pytest.mark.parametrize("junk", [b"x", b"\n# comment\n", b"\x00"])
def test_data_after_the_armor_is_rejected(junk) -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient], armor=True)
    with pytest.raises(ArmorError):
        decrypt(blob + junk, identities=[ALICE])


def test_armor_with_crlf_line_endings_opens() -> None:
    blob = encrypt(plaintext(1000), recipients=[ALICE.recipient], armor=True)
    assert decrypt(blob.replace(b"\n", b"\r\n"), identities=[ALICE]) == plaintext(1000)


def test_the_file_key_is_fresh_for_every_file() -> None:
    data = b"the same report, twice"
    first = encrypt(data, recipients=[ALICE.recipient])
    second = encrypt(data, recipients=[ALICE.recipient])
    assert first != second
    assert split_header(first)[1] != split_header(second)[1]
    keys = {
        open_header(BufferedSource(io.BytesIO(blob)), identities=[ALICE]).file_key
        for blob in (first, second)
    }
    assert len(keys) == 2


# --- recipient rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipients",
    [
        pytest.param([], id="none"),
        pytest.param([ALICE.recipient, HYBRID_IDS[0].recipient], id="x25519+hybrid"),
        pytest.param([HYBRID_IDS[0].recipient, ALICE.recipient], id="hybrid+x25519"),
        pytest.param(
            [ScryptRecipient("pass", work_factor=10), ALICE.recipient], id="scrypt+x25519"
        ),
        pytest.param(
            [ScryptRecipient("one", work_factor=10), ScryptRecipient("two", work_factor=10)],
            id="scrypt+scrypt",
        ),
    ],
)
def test_forbidden_recipient_sets_are_refused_before_writing(recipients) -> None:
    sink = io.BytesIO()
    with pytest.raises(ValueError):
        encrypt_stream(io.BytesIO(b"report"), sink, recipients=recipients)
    assert sink.getvalue() == b""


def test_a_passphrase_alone_opens_the_file() -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("correct horse", work_factor=10)])
    assert decrypt(blob, identities=[ScryptIdentity("correct horse")]) == b"report"


# --- tampering --------------------------------------------------------------------------


@CRYPTO
@given(
    size=st.integers(min_value=0, max_value=3 * CHUNK),
    seed=seeds,
    armor=st.booleans(),
    data=st.data(),
)
def test_a_flipped_bit_anywhere_is_detected(size, seed, armor, data) -> None:
    original = plaintext(size, seed)
    blob = encrypt(original, recipients=[ALICE.recipient, BOB.recipient], armor=armor)
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="position")
    bit = data.draw(st.integers(min_value=0, max_value=7), label="bit")
    assert_rejected(flip(blob, position, bit), [ALICE], original)


@pytest.mark.parametrize("kind", [KeyKind.X25519, KeyKind.HYBRID])
def test_every_bit_of_the_header_is_authenticated(kind) -> None:
    identity = FOREIGN[kind]
    original = b"short report"
    blob = encrypt(original, recipients=[identity.recipient])
    header, _ = split_header(blob)
    # Every bit of the short X25519 header; one bit of every byte of the ~1.7 KiB
    # hybrid header, to keep the test fast.
    for position in range(len(header)):
        bits = range(8) if kind is KeyKind.X25519 else [position % 8]
        for bit in bits:
            error = assert_rejected(flip(blob, position, bit), [identity], original)
            assert not isinstance(error, PayloadError), "header damage reached the payload"


def test_every_bit_of_a_small_payload_is_authenticated() -> None:
    original = b"short report"
    blob = encrypt(original, recipients=[ALICE.recipient])
    header, _ = split_header(blob)
    for position in range(len(header), len(blob)):
        for bit in range(8):
            released, error = attempt(flip(blob, position, bit), [ALICE])
            assert isinstance(error, PayloadError)
            assert released == b""


@pytest.mark.parametrize(
    "where",
    ["nonce", "first chunk", "first tag", "last chunk", "last tag"],
)
def test_a_flip_in_a_multi_chunk_payload_releases_only_authentic_chunks(where) -> None:
    original = plaintext(2 * CHUNK + 100)
    blob = encrypt(original, recipients=[ALICE.recipient])
    start = len(split_header(blob)[0]) + PAYLOAD_NONCE
    position = {
        "nonce": start - 1,
        "first chunk": start,
        "first tag": start + SEALED_CHUNK - 1,
        "last chunk": start + 2 * SEALED_CHUNK,
        "last tag": len(blob) - 1,
    }[where]
    released, error = attempt(flip(blob, position, 0), [ALICE])
    assert isinstance(error, PayloadError)
    expected_released = {"last chunk": 2 * CHUNK, "last tag": 2 * CHUNK}.get(where, 0)
    assert released == original[:expected_released]


def test_swapping_two_chunks_is_detected() -> None:
    original = plaintext(3 * CHUNK)
    blob = encrypt(original, recipients=[ALICE.recipient])
    start = len(split_header(blob)[0]) + PAYLOAD_NONCE
    first = blob[start : start + SEALED_CHUNK]
    second = blob[start + SEALED_CHUNK : start + 2 * SEALED_CHUNK]
    swapped = blob[:start] + second + first + blob[start + 2 * SEALED_CHUNK :]
    assert isinstance(assert_rejected(swapped, [ALICE], original), PayloadError)


def test_a_header_from_another_file_does_not_open_the_payload() -> None:
    one = encrypt(b"first report", recipients=[ALICE.recipient])
    two = encrypt(b"second report", recipients=[ALICE.recipient])
    spliced = split_header(one)[0] + split_header(two)[1]
    assert isinstance(assert_rejected(spliced, [ALICE], b"second report"), PayloadError)


@pytest.mark.parametrize("size", [5, CHUNK, 2 * CHUNK])
@pytest.mark.parametrize(
    "extra", [b"\x00", b"\n", bytes(SEALED_CHUNK)], ids=["byte", "lf", "chunk"]
)
def test_data_appended_after_the_final_chunk_is_rejected(size, extra) -> None:
    # With a full final chunk the extra bytes cannot hide inside it: only an explicit
    # end-of-file check catches them.
    original = plaintext(size)
    blob = encrypt(original, recipients=[ALICE.recipient])
    error = assert_rejected(blob + extra, [ALICE], original)
    assert isinstance(error, PayloadError)


@CRYPTO
@given(size=st.integers(min_value=0, max_value=3 * CHUNK), seed=seeds, data=st.data())
def test_a_binary_file_truncated_anywhere_is_rejected(size, seed, data) -> None:
    original = plaintext(size, seed)
    blob = encrypt(original, recipients=[ALICE.recipient])
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="cut")
    assert_rejected(blob[:cut], [ALICE], original)


@pytest.mark.parametrize("size", BOUNDARY_SIZES)
def test_truncation_at_every_structural_boundary_is_rejected(size) -> None:
    original = plaintext(size)
    blob = encrypt(original, recipients=[ALICE.recipient])
    header_len = len(split_header(blob)[0])
    start = header_len + PAYLOAD_NONCE
    cuts = {0, 1, header_len - 1, header_len, start - 1, start, len(blob) - 1}
    cuts |= {start + k * SEALED_CHUNK for k in range(1, 3)}
    for cut in sorted(c for c in cuts if 0 <= c < len(blob)):
        assert_rejected(blob[:cut], [ALICE], original)


def test_a_truncated_header_is_a_header_error() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    header, _ = split_header(blob)
    for cut in range(len(header) + PAYLOAD_NONCE):
        with pytest.raises(HeaderError):
            decrypt(blob[:cut], identities=[ALICE])


@CRYPTO
@given(size=st.integers(min_value=0, max_value=3 * CHUNK), seed=seeds, data=st.data())
def test_an_armored_file_truncated_anywhere_never_gives_wrong_plaintext(size, seed, data) -> None:
    original = plaintext(size, seed)
    blob = encrypt(original, recipients=[ALICE.recipient], armor=True)
    cut = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="cut")
    if cut == len(blob) - 1:
        # Only the final line feed is gone; the armor's end line may lack it.
        assert decrypt(blob[:cut], identities=[ALICE]) == original
    else:
        assert_rejected(blob[:cut], [ALICE], original)


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_a_padded_file_that_was_tampered_with_never_releases_padding(armor) -> None:
    original = b"yes"
    blob = encrypt(original, recipients=[ALICE.recipient], armor=armor, pad=True)
    for position in (len(blob) // 2, len(blob) - 40):
        released, error = attempt(flip(blob, position, 3), [ALICE], padded=True)
        assert error is not None
        assert original.startswith(released)


# --- decrypt_to_path --------------------------------------------------------------------


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".dissent-"))


def last_chunk_tampered(size: int) -> tuple[bytes, bytes]:
    original = plaintext(size)
    blob = encrypt(original, recipients=[ALICE.recipient])
    return original, flip(blob, len(blob) - 1, 0)


@pytest.mark.parametrize("size", [0, 5, 2 * CHUNK + 5])
def test_decrypt_to_path_writes_the_plaintext(tmp_path, size) -> None:
    original = plaintext(size)
    blob = encrypt(original, recipients=[ALICE.recipient])
    destination = tmp_path / "report.txt"
    decrypt_to_path(io.BytesIO(blob), destination, identities=[ALICE])
    assert destination.read_bytes() == original
    assert leftovers(tmp_path) == []


def test_decrypt_to_path_leaves_a_file_only_its_owner_can_read(tmp_path) -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    destination = tmp_path / "report.txt"
    decrypt_to_path(io.BytesIO(blob), destination, identities=[ALICE])
    assert stat.S_IMODE(destination.stat().st_mode) & 0o077 == 0


def test_decrypt_to_path_replaces_an_existing_file_on_success(tmp_path) -> None:
    destination = tmp_path / "report.txt"
    destination.write_bytes(b"old contents")
    blob = encrypt(b"new contents", recipients=[ALICE.recipient], armor=True)
    decrypt_to_path(io.BytesIO(blob), str(destination), identities=[ALICE])
    assert destination.read_bytes() == b"new contents"


def test_a_tampered_last_chunk_leaves_no_file_behind(tmp_path) -> None:
    # Two full chunks authenticate and are written before the third one fails.
    _, tampered = last_chunk_tampered(2 * CHUNK + 5)
    destination = tmp_path / "report.txt"
    with pytest.raises(PayloadError):
        decrypt_to_path(io.BytesIO(tampered), destination, identities=[ALICE])
    assert not destination.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_file_leaves_no_file_behind(tmp_path) -> None:
    blob = encrypt(plaintext(2 * CHUNK + 5), recipients=[ALICE.recipient])
    destination = tmp_path / "report.txt"
    with pytest.raises(PayloadError):
        decrypt_to_path(io.BytesIO(blob[:-10]), destination, identities=[ALICE])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("failure", ["tampered", "wrong identity", "padding"])
def test_an_existing_destination_is_untouched_on_failure(tmp_path, failure) -> None:
    destination = tmp_path / "report.txt"
    destination.write_bytes(b"old contents")
    _, tampered = last_chunk_tampered(2 * CHUNK + 5)
    if failure == "tampered":
        stream, identities, padded = tampered, [ALICE], False
    elif failure == "wrong identity":
        stream, identities, padded = encrypt(b"x", recipients=[ALICE.recipient]), [BOB], False
    else:  # authentic, but opened as padded when it is not
        stream, identities, padded = encrypt(b"x", recipients=[ALICE.recipient]), [ALICE], True
    with pytest.raises(DecryptionError):
        decrypt_to_path(io.BytesIO(stream), destination, identities=identities, padded=padded)
    assert destination.read_bytes() == b"old contents"
    assert leftovers(tmp_path) == []


# --- rewrap -----------------------------------------------------------------------------


def rewrapped(blob: bytes, identities, recipients) -> bytes:
    sink = io.BytesIO()
    rewrap(io.BytesIO(blob), sink, identities=identities, recipients=recipients)
    return sink.getvalue()


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_rewrap_adds_a_recipient(armor) -> None:
    original = plaintext(CHUNK + 10)
    blob = encrypt(original, recipients=[ALICE.recipient, BOB.recipient], armor=armor)
    new = rewrapped(blob, [BOB], [ALICE.recipient, BOB.recipient, CAROL.recipient])
    for identity in (ALICE, BOB, CAROL):
        assert decrypt(new, identities=[identity]) == original
    with pytest.raises(NoIdentityMatchError):
        decrypt(new, identities=[DAVE])


def test_rewrap_removes_a_recipient() -> None:
    original = b"report"
    blob = encrypt(original, recipients=[ALICE.recipient, BOB.recipient, CAROL.recipient])
    new = rewrapped(blob, [ALICE], [ALICE.recipient, CAROL.recipient])
    with pytest.raises(NoIdentityMatchError):
        decrypt(new, identities=[BOB])
    assert decrypt(new, identities=[ALICE]) == original
    assert decrypt(new, identities=[CAROL]) == original


def test_rewrap_copies_the_payload_byte_for_byte() -> None:
    blob = encrypt(plaintext(2 * CHUNK + 3), recipients=[ALICE.recipient])
    new = rewrapped(blob, [ALICE], [BOB.recipient, CAROL.recipient])
    old_header, old_payload = split_header(blob)
    new_header, new_payload = split_header(new)
    assert new_payload == old_payload
    assert new_header != old_header


def test_rewrap_of_an_armored_file_gives_the_binary_payload() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient], armor=True)
    new = rewrapped(blob, [ALICE], [BOB.recipient])
    assert new.startswith(b"age-encryption.org/v1\n")
    assert decrypt(new, identities=[BOB]) == b"report"


def test_a_wrong_identity_cannot_rewrap() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    sink = io.BytesIO()
    with pytest.raises(DecryptionError):
        rewrap(io.BytesIO(blob), sink, identities=[BOB], recipients=[BOB.recipient])
    assert sink.getvalue() == b""


@pytest.mark.parametrize("ids", [X25519_IDS, HYBRID_IDS], ids=["x25519", "hybrid"])
def test_adding_a_recipient_keeps_everyone_and_the_payload(ids) -> None:
    holder, other, newcomer, outsider = ids[:4]
    original = plaintext(CHUNK + 10)
    blob = encrypt(original, recipients=[holder.recipient, other.recipient], pad=True)

    new = add_recipients(blob, identities=[holder], recipients=[newcomer.recipient])

    for identity in (holder, other, newcomer):
        assert decrypt(new, identities=[identity], padded=True) == original
    with pytest.raises(NoIdentityMatchError):
        decrypt(new, identities=[outsider])
    old_header, old_payload = split_header(blob)
    new_header, new_payload = split_header(new)
    assert new_payload == old_payload
    # The old stanzas are kept byte for byte: only the MAC line changes.
    assert new_header.startswith(old_header.rpartition(b"---")[0])


def test_adding_recipients_streams_an_armored_file_to_binary() -> None:
    original = plaintext(2 * CHUNK + 3)
    blob = encrypt(original, recipients=[ALICE.recipient], armor=True)
    sink = io.BytesIO()

    add_recipients_stream(io.BytesIO(blob), sink, identities=[ALICE], recipients=[BOB.recipient])

    assert sink.getvalue().startswith(b"age-encryption.org/v1\n")
    assert decrypt(sink.getvalue(), identities=[BOB]) == original
    assert decrypt(sink.getvalue(), identities=[ALICE]) == original


def test_only_someone_who_can_open_a_file_can_add_to_it() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    with pytest.raises(NoIdentityMatchError):
        add_recipients(blob, identities=[BOB], recipients=[BOB.recipient])


def test_adding_a_tampered_header_is_refused() -> None:
    blob = bytearray(encrypt(b"report", recipients=[ALICE.recipient, BOB.recipient]))
    header, _ = split_header(bytes(blob))
    blob[len(header) - 10] ^= 1  # inside the MAC
    with pytest.raises(DecryptionError):
        add_recipients(bytes(blob), identities=[ALICE], recipients=[CAROL.recipient])


@pytest.mark.parametrize(
    ("made_for", "added"),
    [
        ([ALICE.recipient], HYBRID_IDS[0].recipient),  # X25519 file, post-quantum key
        ([HYBRID_IDS[0].recipient], ALICE.recipient),  # post-quantum file, X25519 key
    ],
    ids=["x25519-file", "hybrid-file"],
)
def test_adding_a_key_of_another_kind_is_refused(made_for, added) -> None:
    blob = encrypt(b"report", recipients=made_for)
    with pytest.raises(ValueError, match="kind"):
        add_recipients(blob, identities=[ALICE, HYBRID_IDS[0]], recipients=[added])


def test_a_passphrase_file_takes_no_added_recipient() -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("correct horse", work_factor=10)])
    with pytest.raises(ValueError):
        add_recipients(
            blob,
            identities=[ScryptIdentity("correct horse", max_work_factor=10)],
            recipients=[ALICE.recipient],
        )


def test_rewrap_refuses_a_mixed_recipient_set() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    with pytest.raises(ValueError):
        rewrapped(blob, [ALICE], [ALICE.recipient, HYBRID_IDS[0].recipient])


def test_rewrap_header_adds_and_removes_recipients() -> None:
    original = plaintext(CHUNK + 10)
    blob = encrypt(original, recipients=[ALICE.recipient, BOB.recipient])
    header, payload = split_header(blob)
    new_header = rewrap_header(
        header, identities=[ALICE], recipients=[ALICE.recipient, CAROL.recipient]
    )
    new = new_header + payload
    assert decrypt(new, identities=[CAROL]) == original
    assert decrypt(new, identities=[ALICE]) == original
    with pytest.raises(NoIdentityMatchError):
        decrypt(new, identities=[BOB])
    assert split_header(new) == (new_header, payload)


def test_rewrap_header_moves_a_file_to_hybrid_keys() -> None:
    original = b"report"
    blob = encrypt(original, recipients=[ALICE.recipient])
    header, payload = split_header(blob)
    hybrid = HYBRID_IDS[1]
    new_header = rewrap_header(header, identities=[ALICE], recipients=[hybrid.recipient])
    assert decrypt(new_header + payload, identities=[hybrid]) == original


def test_a_wrong_identity_cannot_rewrap_a_header() -> None:
    header, _ = split_header(encrypt(b"report", recipients=[ALICE.recipient]))
    with pytest.raises(DecryptionError):
        rewrap_header(header, identities=[BOB], recipients=[BOB.recipient])


def test_rewrap_header_refuses_more_than_a_header() -> None:
    blob = encrypt(b"report", recipients=[ALICE.recipient])
    with pytest.raises(HeaderError):
        rewrap_header(blob, identities=[ALICE], recipients=[BOB.recipient])


def test_rewrap_header_refuses_a_tampered_header() -> None:
    header, _ = split_header(encrypt(b"report", recipients=[ALICE.recipient]))
    tampered = flip(header, len(header) - 5, 1)
    with pytest.raises(DecryptionError):
        rewrap_header(tampered, identities=[ALICE], recipients=[BOB.recipient])


# --- streams ----------------------------------------------------------------------------


@FEW
@given(size=st.integers(min_value=0, max_value=2 * CHUNK + 50), seed=seeds, armor=st.booleans())
def test_a_trickling_reader_gives_the_same_results_as_bytesio(size, seed, armor) -> None:
    data = plaintext(size, seed)
    recipients = [ALICE.recipient, BOB.recipient]

    from_bytesio, from_trickle = io.BytesIO(), io.BytesIO()
    encrypt_stream(io.BytesIO(data), from_bytesio, recipients=recipients, armor=armor)
    encrypt_stream(TrickleReader(data, seed), from_trickle, recipients=recipients, armor=armor)
    assert len(from_trickle.getvalue()) == len(from_bytesio.getvalue())

    for blob in (from_bytesio.getvalue(), from_trickle.getvalue()):
        via_bytesio, via_trickle = io.BytesIO(), io.BytesIO()
        decrypt_stream(io.BytesIO(blob), via_bytesio, identities=[BOB])
        decrypt_stream(TrickleReader(blob, seed + 1), via_trickle, identities=[BOB])
        assert via_bytesio.getvalue() == data
        assert via_trickle.getvalue() == data
        chunking = [len(c) for c in iter_decrypt(TrickleReader(blob), identities=[BOB])]
        assert chunking == [len(c) for c in iter_decrypt(io.BytesIO(blob), identities=[BOB])]


def test_a_trickling_reader_sees_tampering_too() -> None:
    original = plaintext(CHUNK + 7)
    blob = encrypt(original, recipients=[ALICE.recipient])
    tampered = flip(blob, len(blob) - 3, 5)
    with pytest.raises(PayloadError):
        decrypt_stream(TrickleReader(tampered), io.BytesIO(), identities=[ALICE])


def test_encrypt_stream_to_a_real_file_round_trips(tmp_path) -> None:
    data = plaintext(CHUNK * 2 + 1)
    source, target = tmp_path / "plain", tmp_path / "plain.age"
    source.write_bytes(data)
    with source.open("rb") as src, target.open("wb") as dst:
        encrypt_stream(src, dst, recipients=[ALICE.recipient])
    with target.open("rb") as src:
        out = io.BytesIO()
        decrypt_stream(src, out, identities=[ALICE])
    assert out.getvalue() == data
    assert os.path.getsize(target) > len(data)
