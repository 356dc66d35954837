"""Publishers, their users and API keys, and their products, on the real
database. Each test owns the transaction, as the web and the worker do."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from shared import apikeys
from shared.errors import AlreadyTaken, Conflict, InvalidFields, InvalidValue, NotFound
from shared.models import ApiKey, Product, Publisher, User
from shared.products import NewProduct, ProductChanges, change_product, create_product, product_of, products_of
from shared.tenants import (
    KeyUse,
    authenticate_user,
    create_api_key,
    create_publisher,
    create_user,
    publisher_named,
    revoke_api_key,
    use_api_key,
)

SECRET = "the-server-secret"
PASSWORD = "correct horse battery"


def _publisher(sessions: sessionmaker[Session], name: str) -> Publisher:
    with sessions.begin() as session:
        return create_publisher(session, name)


# Publishers


def test_a_duplicate_publisher_name_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    _publisher(sessions, "Acme")

    with sessions.begin() as session:
        with pytest.raises(Conflict, match="Acme"):
            create_publisher(session, "  Acme ")
        assert session.scalars(select(Publisher.name)).all() == ["Acme"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_blank_or_overlong_publisher_name_is_invalid(sessions: sessionmaker[Session], name: str) -> None:
    with sessions.begin() as session:
        with pytest.raises(InvalidValue):
            create_publisher(session, name)


def test_a_publisher_is_found_by_its_name_and_an_unknown_name_is_not_found(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")

    with sessions() as session:
        assert publisher_named(session, " Acme ").id == acme.id
        with pytest.raises(NotFound, match="Nobody"):
            publisher_named(session, "Nobody")


# Users


def test_a_user_email_is_stored_lower_case(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")

    with sessions.begin() as session:
        user = create_user(session, acme, "  Ann.Smith@Example.COM ", PASSWORD)

    with sessions() as session:
        assert session.scalars(select(User.email)).all() == ["ann.smith@example.com"]
        assert session.get_one(User, user.id).publisher_id == acme.id


def test_the_same_email_in_another_case_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_user(session, acme, "ann@example.com", PASSWORD)

    with sessions.begin() as session:
        with pytest.raises(Conflict, match=r"ann@example\.com"):
            create_user(session, other, "ANN@Example.com", PASSWORD)


def test_a_password_shorter_than_8_characters_is_invalid(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")

    with sessions.begin() as session:
        with pytest.raises(InvalidValue, match="at least 8 characters"):
            create_user(session, acme, "ann@example.com", "7chars!")
        assert create_user(session, acme, "bob@example.com", "8chars!!").email == "bob@example.com"


@pytest.mark.parametrize("email", ["ann.example.com", "ann@", "@example.com", "ann smith@example.com", "", "   "])
def test_something_that_is_not_an_email_address_is_invalid(sessions: sessionmaker[Session], email: str) -> None:
    acme = _publisher(sessions, "Acme")

    with sessions.begin() as session:
        with pytest.raises(InvalidValue, match="is not an e-mail address"):
            create_user(session, acme, email, PASSWORD)


def test_the_stored_password_hash_is_not_the_password(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        create_user(session, acme, "ann@example.com", PASSWORD)

    with sessions() as session:
        stored = session.scalars(select(User.password_hash)).one()

    assert PASSWORD not in stored
    assert stored.startswith("$argon2")


def test_the_right_password_authenticates_the_user(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        user = create_user(session, acme, "ann@example.com", PASSWORD)

    with sessions() as session:
        found = authenticate_user(session, " Ann@Example.com", PASSWORD)

    assert found is not None
    assert (found.id, found.publisher_id) == (user.id, acme.id)


def test_a_wrong_password_or_an_unknown_email_authenticates_nobody(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        create_user(session, acme, "ann@example.com", PASSWORD)

    with sessions() as session:
        assert authenticate_user(session, "ann@example.com", PASSWORD + "!") is None
        assert authenticate_user(session, "ann@example.com", "") is None
        assert authenticate_user(session, "bob@example.com", PASSWORD) is None


# API keys


def test_an_api_key_resolves_to_its_own_publisher(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        acme_key = create_api_key(session, acme, SECRET)
        other_key = create_api_key(session, other, SECRET)

    with sessions.begin() as session:
        assert _publisher_of(session, acme_key, SECRET) == acme.id
        assert _publisher_of(session, other_key, SECRET) == other.id


def test_the_database_holds_a_digest_and_never_the_key(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET, label="ci")

    with sessions() as session:
        row = session.execute(text("SELECT * FROM api_keys")).one()
    secret_part = key.split("_", 2)[2]

    assert row.prefix == apikeys.prefix_of(key)
    assert row.digest != key
    assert apikeys.matches(key, row.digest, SECRET)
    for column, value in row._mapping.items():
        assert secret_part not in str(value), column


def test_a_revoked_key_resolves_to_nobody(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)
        kept = create_api_key(session, acme, SECRET)

    with sessions.begin() as session:
        revoke_api_key(session, acme, apikeys.prefix_of(key) or "")

    with sessions.begin() as session:
        assert _publisher_of(session, key, SECRET) is None
        assert _publisher_of(session, kept, SECRET) == acme.id


def test_a_key_cannot_be_revoked_twice_or_by_another_publisher(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)
    prefix = apikeys.prefix_of(key) or ""

    with sessions.begin() as session:
        with pytest.raises(NotFound):
            revoke_api_key(session, other, prefix)
    with sessions.begin() as session:
        assert _publisher_of(session, key, SECRET) == acme.id
        revoke_api_key(session, acme, prefix)
    with sessions.begin() as session:
        with pytest.raises(NotFound):
            revoke_api_key(session, acme, prefix)


def test_a_key_checked_under_another_secret_resolves_to_nobody(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)

    with sessions.begin() as session:
        assert _publisher_of(session, key, "another-secret") is None


def test_a_forged_or_malformed_key_resolves_to_nobody(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)
    forged = key[:-1] + ("y" if key.endswith("x") else "x")

    with sessions.begin() as session:
        assert _publisher_of(session, forged, SECRET) is None
        assert _publisher_of(session, key[:-1], SECRET) is None
        assert _publisher_of(session, "", SECRET) is None


def test_using_a_key_notes_when_it_was_last_used(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)
        assert session.scalars(select(ApiKey.last_used_at)).one() is None

    with sessions.begin() as session:
        assert use_api_key(session, key, SECRET) == KeyUse(acme.id, noted=True)

    with sessions() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() is not None


def test_a_key_used_again_within_the_minute_writes_nothing_until_the_minute_is_over(
    sessions: sessionmaker[Session],
) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        key = create_api_key(session, acme, SECRET)
        use_api_key(session, key, SECRET)
    with sessions.begin() as session:
        noted = session.scalars(select(ApiKey.last_used_at)).one()

    with sessions.begin() as session:
        assert use_api_key(session, key, SECRET) == KeyUse(acme.id, noted=False)
    with sessions.begin() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() == noted
        session.execute(update(ApiKey).values(last_used_at=ApiKey.last_used_at - text("interval '61 seconds'")))

    with sessions.begin() as session:
        assert use_api_key(session, key, SECRET) == KeyUse(acme.id, noted=True)
    with sessions() as session:
        assert session.scalars(select(ApiKey.last_used_at)).one() > noted


def _publisher_of(session: Session, key: str, secret_key: str) -> int | None:
    use = use_api_key(session, key, secret_key)
    return None if use is None else use.publisher_id


# Products


def test_an_invalid_product_is_not_created(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")

    with sessions.begin() as session:
        with pytest.raises(InvalidFields, match=r"evaluation_expiry_days .* not 61") as refused:
            create_product(session, acme, NewProduct(501, "acme-app", "Acme App", evaluation_expiry_days=61))
        assert set(refused.value.problems) == {"evaluation_expiry_days"}
        assert session.scalars(select(Product)).all() == []


def test_a_product_is_created_with_the_defaults(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(501, "acme-app", "  Acme App "))

    with sessions() as session:
        product = session.get_one(Product, 501)

    assert (product.publisher_id, product.short_code, product.name, product.prefix) == (
        acme.id,
        "acme-app",
        "Acme App",
        None,
    )
    defaults = (product.activation_expiry_days, product.evaluation_expiry_days, product.low_stock_threshold)
    assert defaults == (365, 30, 100)


def test_a_product_id_taken_by_anyone_is_the_same_conflict_naming_no_owner(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(501, "acme-app", "Acme App"))

    with sessions.begin() as session:
        with pytest.raises(AlreadyTaken) as by_another:
            create_product(session, other, NewProduct(501, "other-app", "Other App"))
        with pytest.raises(AlreadyTaken) as by_itself:
            create_product(session, acme, NewProduct(501, "acme-app-2", "Acme App 2"))
        assert session.scalars(select(Product.short_code)).all() == ["acme-app"]

    assert (
        str(by_another.value)
        == str(by_itself.value)
        == ("the product id 501 is already taken on this server; choose another")
    )
    assert by_another.value.code == by_itself.value.code == "product_id_taken"


def test_a_short_code_taken_by_another_publisher_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(501, "shared-name", "Acme App"))

    with sessions.begin() as session:
        with pytest.raises(AlreadyTaken, match="'shared-name' is already taken") as taken:
            create_product(session, other, NewProduct(502, "shared-name", "Other App"))
        assert session.scalars(select(Product.product_id)).all() == [501]
    assert (taken.value.code, taken.value.field) == ("short_code_taken", "short_code")
    assert "Acme" not in str(taken.value)


def test_a_publisher_lists_only_its_own_products(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(503, "acme-3", "Acme 3"))
        create_product(session, other, NewProduct(502, "other-2", "Other 2"))
        create_product(session, acme, NewProduct(501, "acme-1", "Acme 1"))

    with sessions() as session:
        assert [p.product_id for p in products_of(session, acme.id)] == [501, 503]
        assert [p.product_id for p in products_of(session, other.id)] == [502]
        assert product_of(session, acme.id, 503).short_code == "acme-3"


def test_another_publishers_product_is_not_found_exactly_like_a_missing_one(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_product(session, other, NewProduct(502, "other-app", "Other App"))

    with sessions() as session:
        with pytest.raises(NotFound) as foreign:
            product_of(session, acme.id, 502)
        with pytest.raises(NotFound) as missing:
            product_of(session, acme.id, 999)

    assert "502" in str(foreign.value)
    assert re.sub(r"\d+", "N", str(foreign.value)) == re.sub(r"\d+", "N", str(missing.value))
    assert "Other" not in str(foreign.value)


def test_a_change_sets_only_the_fields_sent(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(501, "acme-app", "Acme App", prefix="AA-", low_stock_threshold=5))

    with sessions.begin() as session:
        changes = ProductChanges({"name": "  Acme App 2 ", "prefix": None, "evaluation_expiry_days": 60})
        change_product(session, acme.id, 501, changes)

    with sessions() as session:
        product = session.get_one(Product, 501)
    assert (product.name, product.prefix, product.evaluation_expiry_days) == ("Acme App 2", None, 60)
    assert (product.short_code, product.activation_expiry_days, product.low_stock_threshold) == ("acme-app", 365, 5)


def test_a_change_with_a_bad_value_changes_nothing_and_names_each_field(sessions: sessionmaker[Session]) -> None:
    acme = _publisher(sessions, "Acme")
    with sessions.begin() as session:
        create_product(session, acme, NewProduct(501, "acme-app", "Acme App"))

    with sessions.begin() as session:
        with pytest.raises(InvalidFields) as refused:
            changes = {"name": "New name", "low_stock_threshold": -1, "short_code": "renamed", "product_id": 9}
            change_product(session, acme.id, 501, ProductChanges(changes))

    assert set(refused.value.problems) == {"low_stock_threshold", "short_code", "product_id"}
    assert refused.value.problems["short_code"].startswith("cannot be changed")
    with sessions() as session:
        assert session.get_one(Product, 501).name == "Acme App"


def test_another_publishers_product_cannot_be_changed_and_is_not_found(sessions: sessionmaker[Session]) -> None:
    acme, other = _publisher(sessions, "Acme"), _publisher(sessions, "Other")
    with sessions.begin() as session:
        create_product(session, other, NewProduct(502, "other-app", "Other App"))

    with sessions.begin() as session:
        with pytest.raises(NotFound, match="there is no product 502"):
            change_product(session, acme.id, 502, ProductChanges({"name": "Mine now"}))

    with sessions() as session:
        assert session.get_one(Product, 502).name == "Other App"
