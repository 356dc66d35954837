"""The program's own exceptions, and what each means to a caller.

    LicenseCodesError
    ├── ConfigError            bad environment; fix it and start again
    ├── EmbeddedServiceError   the embedded PostgreSQL or Redis would not start
    ├── ClaimLost              a worker no longer holds the request it works on
    └── DomainError            a request the rules refuse; shown to the user as is
        ├── NotFound           no such object for this caller                    404
        ├── Conflict           not possible in the object's present state        409
        │   ├── IdempotencyKeyTaken   the key already names another request      409
        │   ├── ReferenceConflict     the reference names another allocation     409
        │   ├── PoolEmpty             fewer codes available than asked           409
        │   ├── MoveRefused           an allocation's status forbids the move    409
        │   └── AlreadyTaken   a number or name unique on the server, held       409
        ├── InvalidValue       a value outside its allowed range or shape        400
        │   └── InvalidFields  values of several named fields, each with its problem  400
        └── UploadRefused      an upload refused before anything is stored       400

Each class says, as class attributes, the HTTP status and error code the
web returns for it (`http_status`, `code`; web/errors.py reads them) and
whether trying the same thing again can succeed (`retryable`). None of the
domain errors is retryable: the same request meets the same rule.

Problems inside an uploaded file are data (line, reason code, message), not
exceptions: they never reach this tree (docs/product.md#rejections).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from shared.uploads import Asked


class LicenseCodesError(Exception):
    """Base of every error this program raises on purpose."""

    retryable: ClassVar[bool] = False


class ConfigError(LicenseCodesError):
    pass


class EmbeddedServiceError(LicenseCodesError):
    # A server that would not start may start at the next try (a port or a
    # lock freed meanwhile); the message says what stood in the way.
    retryable = True


class ClaimLost(LicenseCodesError):
    """This worker no longer holds the request (its lease ran out and the
    sweep gave it to another): its work must change nothing, and retrying
    it is the other worker's job, not this one's."""


class DomainError(LicenseCodesError):
    http_status: ClassVar[int] = 400
    code: str = "invalid"


class NotFound(DomainError):
    http_status = 404
    code = "not_found"


class Conflict(DomainError):
    http_status = 409
    code = "conflict"


class IdempotencyKeyTaken(Conflict):
    """Another try with the same Idempotency-Key created its request first.
    `asked`: what this try's request would have asked for; web/idempotency.py
    returns the earlier request when it asked for the same, and refuses the
    key with 409 otherwise."""

    def __init__(self, asked: Asked) -> None:
        super().__init__("the Idempotency-Key was used by another request")
        self.asked = asked


class ReferenceConflict(Conflict):
    """The reference already names an allocation that asked for something else."""

    code = "reference_conflict"


class PoolEmpty(Conflict):
    """Fewer codes available than asked: nothing was taken."""

    code = "pool_empty"


class MoveRefused(Conflict):
    """A move that does not apply to the allocation's status (docs/product.md#the-code-pool)."""

    code = "invalid_status"


class AlreadyTaken(Conflict):
    """A product id or short code is held already, on the whole server. The
    message is the same whoever holds it, the caller or another publisher
    (docs/product.md#products); `field` names what is taken, and the error
    code says it (`product_id_taken`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = f"{field}_taken"


class InvalidValue(DomainError):
    pass


class FileGone(DomainError):
    """What was asked needs an uploaded file the server no longer keeps
    (docs/product.md#how-long-uploaded-files-are-kept)."""

    http_status = 410
    code = "file_gone"


class InvalidFields(InvalidValue):
    """Values of a form or a JSON object refused, each field with its own
    problem (`problems`, field → phrase), so that a screen can show each
    beside its field; the message names them all."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field} {problem}" for field, problem in problems.items()))
        self.problems = problems


class UploadRefused(DomainError):
    """An upload refused as a whole before its request is created (no file
    part, an empty file, not a CSV where one is required), each with its
    own error code (docs/product.md#the-rest-api)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class BackupError(LicenseCodesError):
    """A backup that cannot be taken or restored: the file, the database
    it goes into, or the tools (docs/operating.md#backup-and-restore)."""
