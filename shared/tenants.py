"""Publishers and the ways in: web users with passwords, API keys.

Functions take the session first and never commit: the caller owns the
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import func

from shared import apikeys
from shared.db import add_unique
from shared.errors import InvalidValue, NotFound
from shared.models import ApiKey, Publisher, User

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 8
# A key's last use is written at most once a minute: a busy client must not
# turn every call into a row update and a commit.
_USE_UNNOTED = ApiKey.last_used_at.is_(None) | (
    ApiKey.last_used_at < func.now() - literal_column("interval '1 minute'")
)
# Verified when the e-mail is unknown, so that a wrong address takes as long
# as a wrong password and logins do not reveal which addresses exist.
_DUMMY_HASH = _hasher.hash("an address that does not exist")


def create_publisher(session: Session, name: str) -> Publisher:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidValue("a publisher name must have 1 to 100 characters")
    publisher = Publisher(name=name)
    add_unique(session, publisher, {"uq_publishers_name": f"a publisher named {name!r} already exists"})
    return publisher


def publisher_named(session: Session, name: str) -> Publisher:
    publisher = session.scalar(select(Publisher).where(Publisher.name == name.strip()))
    if publisher is None:
        raise NotFound(f"there is no publisher named {name!r}")
    return publisher


def create_user(session: Session, publisher: Publisher, email: str, password: str) -> User:
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidValue(f"a password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(publisher_id=publisher.id, email=email, password_hash=_hasher.hash(password))
    add_unique(session, user, {"uq_users_email": f"a user with the e-mail address {email} already exists"})
    return user


def grant_operator(session: Session, email: str) -> User:
    """Let the user with this e-mail see the operator page."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"there is no user with the e-mail address {email.strip()}")
    user.is_operator = True
    session.flush()
    return user


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and domain) or "@" in domain or len(email) > 254 or any(c.isspace() for c in email):
        raise InvalidValue(f"{email!r} is not an e-mail address")
    return email


def authenticate_user(session: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """Invalidate every web session of the user (on logout)."""
    session.execute(update(User).where(User.id == user_id).values(session_version=User.session_version + 1))


def create_api_key(session: Session, publisher: Publisher, secret_key: str, label: str = "") -> str:
    """Store a new key for `publisher` and return it: the only time it is seen."""
    new_key = apikeys.generate()
    session.add(
        ApiKey(
            publisher_id=publisher.id,
            prefix=new_key.prefix,
            digest=apikeys.digest(new_key.plaintext, secret_key),
            label=label[:100],
        )
    )
    session.flush()
    return new_key.plaintext


@dataclass(frozen=True)
class KeyUse:
    """A call made with a valid, unrevoked key."""

    publisher_id: int
    # The key's last use was written now, as it is at most once a minute:
    # the caller commits it.
    noted: bool


def use_api_key(session: Session, plaintext: str, secret_key: str) -> KeyUse | None:
    """The publisher a valid, unrevoked key belongs to, its use noted when
    the last note is a minute old; None for any other key."""
    prefix = apikeys.prefix_of(plaintext)
    if prefix is None:
        return None
    key = session.execute(
        select(ApiKey.id, ApiKey.publisher_id, ApiKey.digest, _USE_UNNOTED.label("unnoted")).where(
            ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)
        )
    ).one_or_none()
    if key is None or not apikeys.matches(plaintext, key.digest, secret_key):
        return None
    return KeyUse(key.publisher_id, noted=bool(key.unnoted) and _note_use(session, key.id))


def api_keys_of(session: Session, publisher_id: int) -> list[ApiKey]:
    """The publisher's keys, revoked ones included, newest first."""
    newest_first = (ApiKey.created_at.desc(), ApiKey.id.desc())
    return list(session.scalars(select(ApiKey).where(ApiKey.publisher_id == publisher_id).order_by(*newest_first)))


def revoke_api_key(session: Session, publisher: Publisher, prefix: str) -> None:
    revoked = session.scalar(
        update(ApiKey)
        .where(ApiKey.publisher_id == publisher.id, ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiKey.id)
    )
    if revoked is None:
        raise NotFound(f"publisher {publisher.name!r} has no active API key starting lc_{prefix}")


def _note_use(session: Session, key_id: int) -> bool:
    """Write the key's last use unless a call beside this one just did; whether this one did."""
    noted = session.execute(update(ApiKey).where(ApiKey.id == key_id, _USE_UNNOTED).values(last_used_at=func.now()))
    return bool(noted.rowcount)  # type: ignore[attr-defined]
