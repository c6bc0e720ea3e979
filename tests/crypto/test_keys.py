"""Tests for dissent.crypto.keys: generation, parsing, identity files, passphrases."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dissent.crypto import (
    MAX_SCRYPT_WORK_FACTOR,
    DecryptionError,
    HybridIdentity,
    HybridRecipient,
    KeyFormatError,
    KeyKind,
    NoIdentityMatchError,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
    decrypt,
    encrypt,
    format_identity_file,
    generate_identity,
    identity_from_secret,
    parse_identity,
    parse_identity_file,
    parse_recipient,
)
from dissent.crypto._encoding import bech32_encode

# Known answers from the age specification (c2sp.org/age).
SPEC_X25519_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_X25519_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
SPEC_HYBRID_IDENTITY = (
    "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
)
SPEC_HYBRID_RECIPIENT = (
    "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5"
    "aapdmwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj"
    "6a0ec477lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kf"
    "z35zsnxhsx8wwtmu9cy3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742"
    "479zrxzpvp2p3e9fed9f0739vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchz"
    "cfcs5mkyyjxhw0n2z6dvp9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8"
    "qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy"
    "23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgu"
    "tzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq92q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38p"
    "xxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq20"
    "29uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayr"
    "kfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk3"
    "8ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdyeyzpq2zkxtmzg"
    "29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmgv8x7ajw7258ugf9wvkmk4052"
    "ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6"
    "d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs"
    "77lddeqyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5"
    "yncz7jm5wv2qjk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tu"
    "jy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m2g433exgwppn"
    "kjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53jff0vjj96"
    "s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5hkntz"
    "z9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043"
    "x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2"
    "ykx3qheyty7saeq0d3fzv49zc0k"
)
SPEC_TAG_RECIPIENT = "age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e"

X25519_ID = generate_identity(KeyKind.X25519)
HYBRID_ID = generate_identity(KeyKind.HYBRID)
KINDS = [KeyKind.X25519, KeyKind.HYBRID]
FAST = 10  # scrypt work factor for tests: 2^10, a few milliseconds

secrets = st.binary(min_size=32, max_size=32)


# --- generation and known answers -------------------------------------------------------


def test_identities_default_to_the_post_quantum_hybrid() -> None:
    identity = generate_identity()
    assert isinstance(identity, HybridIdentity)
    assert isinstance(identity.recipient, HybridRecipient)
    assert identity.kind is KeyKind.HYBRID


@pytest.mark.parametrize(
    ("kind", "recipient_prefix", "secret_prefix"),
    [
        (KeyKind.X25519, "age1", "AGE-SECRET-KEY-1"),
        (KeyKind.HYBRID, "age1pq1", "AGE-SECRET-KEY-PQ-1"),
    ],
)
def test_generated_keys_are_written_as_age_writes_them(
    kind, recipient_prefix, secret_prefix
) -> None:
    identity = generate_identity(kind)
    recipient = identity.recipient.encode()
    secret = identity.secret_string()
    assert recipient.startswith(recipient_prefix)
    assert recipient == recipient.lower()
    assert str(identity.recipient) == recipient
    assert secret.startswith(secret_prefix)
    assert secret == secret.upper()
    assert identity.recipient.kind is kind


@pytest.mark.parametrize("kind", KINDS)
def test_generated_identities_are_distinct(kind) -> None:
    first, second = generate_identity(kind), generate_identity(kind)
    assert first.secret_bytes() != second.secret_bytes()
    assert first.recipient != second.recipient


def test_the_specification_x25519_key_pair() -> None:
    identity = parse_identity(SPEC_X25519_IDENTITY)
    assert isinstance(identity, X25519Identity)
    assert identity.secret_bytes() == b"\x42" * 32
    assert identity.recipient.encode() == SPEC_X25519_RECIPIENT
    assert identity.secret_string() == SPEC_X25519_IDENTITY


def test_the_specification_hybrid_key_pair() -> None:
    identity = parse_identity(SPEC_HYBRID_IDENTITY)
    assert isinstance(identity, HybridIdentity)
    assert identity.recipient.encode() == SPEC_HYBRID_RECIPIENT
    assert parse_recipient(SPEC_HYBRID_RECIPIENT) == identity.recipient


@pytest.mark.parametrize("kind", KINDS)
def test_a_generated_key_pair_encrypts_and_decrypts(kind) -> None:
    identity = generate_identity(kind)
    recipient = parse_recipient(identity.recipient.encode())
    blob = encrypt(b"report", recipients=[recipient])
    assert decrypt(blob, identities=[parse_identity(identity.secret_string())]) == b"report"


# --- round trips ------------------------------------------------------------------------


@settings(deadline=None, max_examples=30)
@given(secrets, st.sampled_from(KINDS))
def test_secret_string_parses_back_to_the_same_identity(secret, kind) -> None:
    identity = identity_from_secret(secret, kind=kind)
    parsed = parse_identity(identity.secret_string())
    assert type(parsed) is type(identity)
    assert parsed.secret_bytes() == secret
    assert parsed.recipient == identity.recipient


@settings(deadline=None, max_examples=30)
@given(secrets, st.sampled_from(KINDS))
def test_recipient_string_parses_back_to_the_same_recipient(secret, kind) -> None:
    recipient = identity_from_secret(secret, kind=kind).recipient
    parsed = parse_recipient(recipient.encode())
    assert parsed == recipient
    assert hash(parsed) == hash(recipient)
    assert parsed.encode() == recipient.encode()


@settings(deadline=None, max_examples=20)
@given(secrets, st.sampled_from(KINDS))
def test_identity_from_secret_is_deterministic(secret, kind) -> None:
    first = identity_from_secret(secret, kind=kind)
    second = identity_from_secret(secret, kind=kind)
    assert first.recipient == second.recipient
    assert first.secret_string() == second.secret_string()


def test_the_same_secret_gives_different_recipients_per_kind() -> None:
    secret = bytes(range(32))
    x25519 = identity_from_secret(secret, kind=KeyKind.X25519).recipient
    hybrid = identity_from_secret(secret, kind=KeyKind.HYBRID).recipient
    assert x25519 != hybrid


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_recipient(f"  {SPEC_X25519_RECIPIENT}\n").encode() == SPEC_X25519_RECIPIENT
    assert parse_identity(f"\t{SPEC_X25519_IDENTITY}\r\n").secret_bytes() == b"\x42" * 32


# --- malformed keys ---------------------------------------------------------------------


def typo(text: str, position: int, replacement: str) -> str:
    return text[:position] + replacement + text[position + 1 :]


@settings(max_examples=200)
@given(st.data())
def test_a_one_character_typo_in_an_x25519_recipient_is_caught(data) -> None:
    text = X25519_ID.recipient.encode()
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(
        st.characters(min_codepoint=33, max_codepoint=126).filter(lambda c: c != text[position])
    )
    with pytest.raises(KeyFormatError):
        parse_recipient(typo(text, position, replacement))


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_a_one_character_typo_in_a_hybrid_recipient_is_caught(data) -> None:
    text = HYBRID_ID.recipient.encode()
    position = data.draw(st.integers(min_value=len("age1pq1"), max_value=len(text) - 1))
    replacement = data.draw(
        st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l").filter(lambda c: c != text[position])
    )
    with pytest.raises(KeyFormatError):
        parse_recipient(typo(text, position, replacement))


@settings(max_examples=100)
@given(st.data())
def test_a_one_character_typo_in_a_secret_key_is_caught(data) -> None:
    text = X25519_ID.secret_string()
    position = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(
        st.sampled_from("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L-").filter(lambda c: c != text[position])
    )
    with pytest.raises(KeyFormatError):
        parse_identity(typo(text, position, replacement))


def test_a_typo_error_says_what_went_wrong() -> None:
    text = typo(SPEC_X25519_RECIPIENT, 10, "q" if SPEC_X25519_RECIPIENT[10] != "q" else "p")
    with pytest.raises(KeyFormatError, match="checksum"):
        parse_recipient(text)


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_recipient_in_mixed_case_is_refused(position) -> None:
    text = SPEC_X25519_RECIPIENT
    index = position % len(text)
    mixed = typo(text, index, text[index].upper())
    if mixed == text:  # a digit has no upper case; use the next letter
        index += 1
        mixed = typo(text, index, text[index].upper())
    with pytest.raises(KeyFormatError):
        parse_recipient(mixed)


def test_an_identity_in_mixed_case_is_refused() -> None:
    mixed = SPEC_X25519_IDENTITY[:-1] + SPEC_X25519_IDENTITY[-1].lower()
    with pytest.raises(KeyFormatError):
        parse_identity(mixed)


def test_a_recipient_in_upper_case_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="lower case"):
        parse_recipient(SPEC_X25519_RECIPIENT.upper())


def test_a_secret_key_in_lower_case_is_refused() -> None:
    with pytest.raises(KeyFormatError, match="upper case"):
        parse_identity(SPEC_X25519_IDENTITY.lower())


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(SPEC_TAG_RECIPIENT, id="age1tag"),
        pytest.param(bech32_encode("agex", bytes(32)), id="unknown hrp"),
        pytest.param(bech32_encode("age-secret-key-", bytes(32)), id="secret key hrp"),
        pytest.param(SPEC_X25519_IDENTITY, id="a secret key"),
    ],
)
def test_an_unknown_recipient_type_is_refused(text) -> None:
    with pytest.raises(KeyFormatError):
        parse_recipient(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(bech32_encode("age-secret-key-x-", bytes(32)).upper(), id="unknown hrp"),
        pytest.param(SPEC_X25519_RECIPIENT.upper(), id="a recipient"),
        pytest.param("", id="empty"),
        pytest.param("AGE-SECRET-KEY-1", id="no data"),
    ],
)
def test_an_unknown_secret_key_type_is_refused(text) -> None:
    with pytest.raises(KeyFormatError):
        parse_identity(text)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_keys_of_the_wrong_length_are_refused(size) -> None:
    with pytest.raises(KeyFormatError):
        parse_recipient(bech32_encode("age", bytes(size)))
    with pytest.raises(KeyFormatError):
        parse_recipient(bech32_encode("age1pq", bytes(size)))
    with pytest.raises(KeyFormatError):
        parse_identity(bech32_encode("age-secret-key-", bytes(size)).upper())
    with pytest.raises(KeyFormatError):
        parse_identity(bech32_encode("age-secret-key-pq-", bytes(size)).upper())


def test_an_invalid_ml_kem_key_is_refused() -> None:
    # ML-KEM-768 coefficients are below 3329; all 0xff bytes encode 4095s.
    with pytest.raises(KeyFormatError):
        parse_recipient(bech32_encode("age1pq", b"\xff" * 1216))


def test_a_key_format_error_is_not_a_decryption_error() -> None:
    with pytest.raises(KeyFormatError) as caught:
        parse_recipient("age1notakey")
    assert isinstance(caught.value, ValueError)
    assert not isinstance(caught.value, DecryptionError)


# --- secrets stay secret ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_printing_an_identity_never_shows_the_secret(kind) -> None:
    identity = generate_identity(kind)
    secret = identity.secret_string()
    raw = identity.secret_bytes()
    for shown in (repr(identity), str(identity), f"{identity}", repr([identity])):
        assert secret not in shown
        assert secret.lower() not in shown
        assert secret[len("AGE-SECRET-KEY-PQ-1") :][:20].lower() not in shown.lower()
        assert raw.hex() not in shown
        assert base64.b64encode(raw).decode()[:20] not in shown


def test_printing_a_passphrase_never_shows_it() -> None:
    passphrase = "correct horse battery staple"
    recipient = ScryptRecipient(passphrase, work_factor=FAST)
    identity = ScryptIdentity(passphrase)
    for shown in (repr(recipient), str(recipient), repr(identity), str(identity)):
        assert "horse" not in shown


# --- identity files ---------------------------------------------------------------------


def test_an_identity_file_has_the_age_layout() -> None:
    identity = parse_identity(SPEC_X25519_IDENTITY)
    created = datetime(2024, 5, 1, 12, 30, 15, 999, tzinfo=UTC)
    text = format_identity_file(identity, created=created)
    assert text == (
        "# created: 2024-05-01T12:30:15Z\n"
        f"# public key: {SPEC_X25519_RECIPIENT}\n"
        f"{SPEC_X25519_IDENTITY}\n"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_an_identity_file_parses_back(kind) -> None:
    identity = generate_identity(kind)
    (parsed,) = parse_identity_file(format_identity_file(identity))
    assert parsed.recipient == identity.recipient
    assert parsed.secret_bytes() == identity.secret_bytes()


def test_an_identity_file_may_hold_several_keys_comments_and_blank_lines() -> None:
    text = (
        "# my keys\n"
        "\n"
        f"{X25519_ID.secret_string()}\r\n"
        "   # indented comment\n"
        "   \n"
        f"  {HYBRID_ID.secret_string()}  \n"
        "# trailing comment"
    )
    parsed = parse_identity_file(text)
    assert [p.recipient for p in parsed] == [X25519_ID.recipient, HYBRID_ID.recipient]


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "# created: today\n# public key: age1...\n", "   \n# nothing\n"],
    ids=["empty", "blank", "comments only", "whitespace and comment"],
)
def test_an_identity_file_without_a_key_is_refused_with_a_message(text) -> None:
    with pytest.raises(KeyFormatError, match="no identity"):
        parse_identity_file(text)


def test_a_bad_line_in_an_identity_file_is_named() -> None:
    text = f"# comment\n{X25519_ID.secret_string()}\nAGE-SECRET-KEY-1NOTAKEY\n"
    with pytest.raises(KeyFormatError, match="line 3"):
        parse_identity_file(text)


def test_a_recipient_pasted_into_an_identity_file_is_refused() -> None:
    with pytest.raises(KeyFormatError):
        parse_identity_file(f"{X25519_ID.recipient.encode()}\n")


# --- scrypt -----------------------------------------------------------------------------


@pytest.mark.parametrize("work_factor", [0, -1, MAX_SCRYPT_WORK_FACTOR + 1, 64])
def test_an_out_of_range_work_factor_is_refused_at_construction(work_factor) -> None:
    with pytest.raises(ValueError, match="work factor"):
        ScryptRecipient("passphrase", work_factor=work_factor)


@pytest.mark.parametrize("passphrase", ["", b""])
def test_an_empty_passphrase_is_refused(passphrase) -> None:
    with pytest.raises(ValueError):
        ScryptRecipient(passphrase, work_factor=FAST)
    with pytest.raises(ValueError):
        ScryptIdentity(passphrase)


@pytest.mark.parametrize("passphrase", ["correct horse", "pässwörd ✓", b"\x00\xffraw bytes"])
def test_the_right_passphrase_opens_the_file(passphrase) -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient(passphrase, work_factor=FAST)])
    assert decrypt(blob, identities=[ScryptIdentity(passphrase)]) == b"report"


def test_a_str_passphrase_is_its_utf8_bytes() -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("pässwörd", work_factor=FAST)])
    assert decrypt(blob, identities=[ScryptIdentity("pässwörd".encode())]) == b"report"


@pytest.mark.parametrize("wrong", ["correct horsE", "correct horse ", "other"])
def test_a_wrong_passphrase_matches_no_identity(wrong) -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("correct horse", work_factor=FAST)])
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=[ScryptIdentity(wrong)])


def test_a_passphrase_file_does_not_open_with_a_key() -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("correct horse", work_factor=FAST)])
    with pytest.raises(NoIdentityMatchError):
        decrypt(blob, identities=[X25519_ID, HYBRID_ID])


def test_a_work_factor_above_the_identity_limit_is_refused_without_computing() -> None:
    blob = encrypt(b"report", recipients=[ScryptRecipient("pass", work_factor=12)])
    with pytest.raises(DecryptionError, match="work factor"):
        decrypt(blob, identities=[ScryptIdentity("pass", max_work_factor=11)])
    assert decrypt(blob, identities=[ScryptIdentity("pass", max_work_factor=12)]) == b"report"


def test_each_passphrase_file_has_its_own_salt() -> None:
    recipient = ScryptRecipient("pass", work_factor=FAST)
    first = encrypt(b"report", recipients=[recipient])
    second = encrypt(b"report", recipients=[recipient])
    assert first.split(b"\n")[1] != second.split(b"\n")[1]
    assert first.split(b"\n")[1].startswith(b"-> scrypt ")
    assert first.split(b"\n")[1].endswith(b" 10")


def test_x25519_recipient_objects_compare_by_key() -> None:
    recipient = X25519Recipient(b"\x09" + bytes(31))
    assert recipient == X25519Recipient(b"\x09" + bytes(31))
    assert recipient != X25519Recipient(b"\x0a" + bytes(31))
    assert len({recipient, X25519Recipient(b"\x09" + bytes(31))}) == 1
