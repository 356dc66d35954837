"""The program's own exceptions.

    LicenseCodesError
    ├── ConfigError            bad environment; fix it and start again
    ├── EmbeddedServiceError   the embedded PostgreSQL or Redis would not start
    ├── ClaimLost              a worker no longer holds the request it works on
    └── DomainError            a request the rules refuse; shown to the user as is
        ├── NotFound           no such object for this caller
        ├── Conflict           the name or number is already taken
        └── InvalidValue       a value outside its allowed range or shape

Problems inside an uploaded file are data (line, reason code, message), not
exceptions: they never reach this tree.
"""

from __future__ import annotations


class LicenseCodesError(Exception):
    """Base of every error this program raises on purpose."""


class ConfigError(LicenseCodesError):
    pass


class EmbeddedServiceError(LicenseCodesError):
    pass


class ClaimLost(LicenseCodesError):
    """This worker no longer holds the request (its lease ran out and the
    sweep gave it to another): its work must change nothing, and retrying
    it is the other worker's job, not this one's."""

    retryable = False


class DomainError(LicenseCodesError):
    pass


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidValue(DomainError):
    pass
