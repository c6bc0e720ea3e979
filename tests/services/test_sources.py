"""Source login with a codename: the right source and key, refusals, and the flood limit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dissent.crypto import KeyKind
from dissent.crypto.codename import InvalidCodename, generate_codename
from dissent.extensions import current_context, db
from dissent.models import Role, Source
from dissent.services import sources
from dissent.services.errors import CodenameNotFound, Limit, RateLimited
from tests.helpers.filing import file_directly


class Refusing:
    """A rate limiter whose window is full."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def hit(self, key: str, *, limit: int, window_seconds: int) -> bool:
        self.keys.append(key)
        return False


@pytest.fixture
def filed(app, mission, make_staff):
    """Two sources who filed an observation each: their codenames and submissions."""
    make_staff(Role.ADVISER)
    with app.app_context(), db.unit():
        return [file_directly(db.session, current_context(), mission.id) for _ in range(2)]


def test_a_codename_opens_its_own_source_and_key(app, filed):
    with app.app_context():
        ctx = current_context()
        for codename, submitted in filed:
            found = sources.authenticate_source(db.session, ctx, codename=codename)

            assert found.source_id == submitted.source_id
            identity = sources.source_identity(ctx, found.identity_secret)
            assert identity.recipient.encode() == db.session.get(Source, found.source_id).recipient


# Made of words of the EFF list that the English list no longer has: only a codename
# made before the lists were split by language can look like this.
OLD_EFF_CODENAME = "obnoxious ungodly badass abacus zoom yo-yo impotency"


@pytest.mark.parametrize(
    "codename",
    [OLD_EFF_CODENAME, "dutch", "english"],
    ids=["old-eff-codename", "dutch-codename", "english-codename"],
)
def test_a_codename_of_any_list_still_logs_in(app, mission, make_staff, codename):
    make_staff(Role.ADVISER)
    if codename in ("dutch", "english"):
        codename = generate_codename(language={"dutch": "nl", "english": "en"}[codename])
    with app.app_context(), db.unit():
        _, submitted = file_directly(db.session, current_context(), mission.id, codename=codename)
    typed = "  " + "  ".join(word.upper() for word in codename.split()) + "\n"

    with app.app_context():
        found = sources.authenticate_source(db.session, current_context(), codename=typed)

    assert found.source_id == submitted.source_id


def test_a_well_formed_codename_nobody_has_is_not_found(app, filed):
    with app.app_context(), pytest.raises(CodenameNotFound):
        sources.authenticate_source(db.session, current_context(), codename=generate_codename())


@pytest.mark.parametrize("typed", ["", "one two three", "correct horse battery staple zzyzxq"])
def test_a_malformed_codename_is_refused_for_its_form(app, filed, typed):
    with app.app_context(), pytest.raises(InvalidCodename) as refused:
        sources.authenticate_source(db.session, current_context(), codename=typed)

    assert "zzyzxq" not in str(refused.value)


def test_a_flood_of_logins_is_refused_before_any_derivation(app, filed, monkeypatch):
    codename, _ = filed[0]
    derived: list[str] = []
    with app.app_context():
        limiter = Refusing()
        ctx = replace(current_context(), limiter=limiter)
        for way in ("derive", "try_derive"):
            monkeypatch.setattr(ctx.kdf_gate, way, lambda *args: derived.append("derived"))

        with pytest.raises(RateLimited) as refused:
            sources.authenticate_source(db.session, ctx, codename=codename)

    assert refused.value.limit is Limit.SOURCE_LOGIN
    assert limiter.keys == [Limit.SOURCE_LOGIN]  # one count for all sources together
    assert derived == []


def test_the_identity_is_of_the_instance_key_kind(app, filed):
    codename, _ = filed[0]
    with app.app_context():
        ctx = current_context()
        found = sources.authenticate_source(db.session, ctx, codename=codename)
        hybrid = sources.source_identity(ctx, found.identity_secret)
        x25519 = sources.source_identity(
            replace(ctx, settings=replace(ctx.settings, key_kind=KeyKind.X25519)),
            found.identity_secret,
        )

    assert hybrid.recipient.encode().startswith("age1pq1")
    assert not x25519.recipient.encode().startswith("age1pq1")
