"""Who can read what (dissent.services.keyring): one registry of every ciphertext, checked
against the schema and against what a whole case really stores."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, MetaData, String, Table, select

from dissent.crypto import DecryptionError, decrypt, generate_identity, unwrap_identity
from dissent.extensions import current_context, db
from dissent.models import Base, Role, StaffUser
from dissent.services import keyring
from dissent.services.sources import authenticate_source, source_identity
from tests.helpers.blobs import read_blob, stored_blobs
from tests.helpers.history import build_history
from tests.helpers.staff import PASSWORD

AGE_MAGIC = b"age-encryption.org/v1\n"


def unclassified(metadata: MetaData) -> list[str]:
    """Return the binary columns the registry neither holds nor names as not content."""
    known = {(kind.table, kind.column.key) for kind in keyring.CIPHERTEXTS if not kind.in_file} | {
        (attr.class_.__tablename__, attr.key) for attr in keyring.NOT_CONTENT
    }
    return sorted(
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary) and (table.name, column.name) not in known
    )


def test_every_binary_column_is_registered_or_named_not_content():
    assert unclassified(Base.metadata) == []


def test_a_new_encrypted_column_without_registration_fails_the_check():
    """What the check above does when someone adds a ciphertext and forgets the registry."""
    grown = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(grown)
    Table(
        "witness_statement",
        grown,
        Column("id", Integer, primary_key=True),
        Column("observation_id", ForeignKey("observation.id")),
        Column("body", LargeBinary),
    )
    grown.tables["note"].append_column(Column("summary", LargeBinary))

    assert unclassified(grown) == ["note.summary", "witness_statement.body"]


def test_the_registry_names_real_columns_and_file_names_are_text():
    for kind in keyring.CIPHERTEXTS:
        column = Base.metadata.tables[kind.table].columns[kind.column.key]
        if kind.in_file:
            assert isinstance(column.type, String), kind.kind
            assert kind.size in Base.metadata.tables[kind.table].columns, kind.kind
        else:
            assert isinstance(column.type, LargeBinary), kind.kind
        assert kind.key.class_ is kind.model, kind.kind
    assert len({kind.kind for kind in keyring.CIPHERTEXTS}) == len(keyring.CIPHERTEXTS)


@pytest.fixture
def history(app, new_client, mission, make_staff):
    adviser = make_staff(Role.ADVISER, username="first")
    leader = make_staff(Role.LEADERSHIP, username="chief")
    built = build_history(app, new_client, adviser=adviser, leader=leader)
    return built, adviser, leader


def stored_ciphertexts(app) -> list[tuple[str, str, bytes]]:
    """Return (table, column, value) of every age file in any column of any table."""
    found = []
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                for name, value in row.items():
                    if isinstance(value, bytes) and value.startswith(AGE_MAGIC):
                        found.append((table.name, name, value))
    return found


def test_everything_a_case_stores_encrypted_is_in_the_registry(app, history):
    registered = {(k.table, k.column.key) for k in keyring.CIPHERTEXTS if not k.in_file}
    staff_keys = {("staff_user", "wrapped_identity")}  # each person's own identity
    # On PostgreSQL the file kinds' blobs are chunks in this table; checked as blobs below.
    staff_keys.add(("blob_chunk", "data"))

    stored = {(table, column) for table, column, _ in stored_ciphertexts(app)}

    assert stored - staff_keys - registered == set()
    assert registered <= stored, "the case should hold every registered kind"
    with app.app_context():
        named = keyring.all_file_names(db.session)
    files = stored_blobs(app)
    assert files == set(named) and len(files) == 2  # the source's and the adviser's file


def readers_of_the_case(app, history) -> dict[str, object]:
    built, adviser, leader = history
    with app.app_context():
        ctx = current_context()
        source = authenticate_source(db.session, ctx, codename=built.codename)
        keys = {
            "source": source_identity(ctx, source.identity_secret),
            "stranger": generate_identity(ctx.settings.key_kind),
        }
        for login in (adviser, leader):
            user = db.session.get(StaffUser, login.id)
            keys[user.role.value] = unwrap_identity(user.wrapped_identity, passphrase=PASSWORD)
    return keys


def opens(identity, data: bytes) -> bool:
    try:
        decrypt(data, identities=[identity], padded=True)
    except DecryptionError:
        return False
    return True


def test_each_kind_opens_for_exactly_the_readers_it_names(app, history, recovery_identity):
    keys = readers_of_the_case(app, history)
    checked = set()
    with app.app_context():
        for kind in keyring.CIPHERTEXTS:
            for record in db.session.scalars(select(kind.model)):
                stored = getattr(record, kind.column.key)
                if stored is None:
                    continue
                data = read_blob(app, stored) if kind.in_file else stored
                who = {
                    "recovery": opens(recovery_identity, data),
                    "adviser": opens(keys["adviser"], data),
                    "source": opens(keys["source"], data),
                    "leadership": opens(keys["leadership"], data),
                    "stranger": opens(keys["stranger"], data),
                }
                expected = {
                    "recovery": True,
                    "adviser": True,
                    "source": kind.readers.source,
                    "leadership": kind.readers.leaders,
                    "stranger": False,
                }
                assert who == expected, kind.kind
                checked.add(kind.kind)
    assert checked == {kind.kind for kind in keyring.CIPHERTEXTS}


def test_a_response_is_not_for_the_source_and_an_escalation_is_for_its_leaders(
    app, mission, make_staff
):
    adviser = make_staff(Role.ADVISER)
    leader = make_staff(Role.LEADERSHIP)
    source_key = generate_identity().recipient
    with app.app_context():
        settings = current_context().settings
        chief = db.session.get(StaffUser, leader.id)
        adviser_key = db.session.get(StaffUser, adviser.id).recipient
        escalation = keyring.escalation_recipients(
            db.session,
            settings,
            mission_id=mission.id,
            source_recipient=source_key.encode(),
            leaders=[chief],
        )
        response = keyring.response_recipients(
            db.session, settings, mission_id=mission.id, leaders=[chief]
        )
        advisers_only = keyring.adviser_only_recipients(db.session, settings, mission_id=mission.id)

    as_text = lambda recipients: {r.encode() for r in recipients}  # noqa: E731
    everyone = {adviser_key, chief.recipient, settings.recovery_recipient.encode()}
    assert as_text(escalation) == everyone | {source_key.encode()}
    assert as_text(response) == everyone
    assert as_text(advisers_only) == {adviser_key, settings.recovery_recipient.encode()}


def test_a_mission_record_belongs_to_no_observation():
    (names,) = keyring.mission_kinds()
    with pytest.raises(ValueError, match="belongs to a mission"):
        names.of_observations([1])
