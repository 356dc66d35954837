"""The data model (docs/product.md#concepts).

The rules that must hold whatever code writes the rows live in the database:
unique codes, product ids and short codes; closed sets of states, formats and
reasons as CHECK constraints; ranges of numbers. Timestamps are set by the
database (`now()`), never by a host clock.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.statuses import (
    DECIDED,
    DELETABLE,
    PENDING,
    AllocationMode,
    AllocationStatus,
    CodeStatus,
    DeliveryStatus,
    EventType,
    PoolEventKind,
    RequestStatus,
    sql_list,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REQUEST_STATES = tuple(status.value for status in RequestStatus)
UPLOAD_FORMATS = ("txt", "csv")
# An upload request reads its codes from a file; a generation request has the
# Code Generator make them (docs/product.md#generation-requests).
REQUEST_KINDS = ("upload", "generation")
CODE_TYPES = ("activation", "evaluation")
CODE_STATUSES = tuple(status.value for status in CodeStatus)
ALLOCATION_STATUSES = tuple(status.value for status in AllocationStatus)
ALLOCATION_MODES = tuple(mode.value for mode in AllocationMode)
POOL_EVENT_KINDS = tuple(kind.value for kind in PoolEventKind)
EVENT_TYPES = tuple(event.value for event in EventType)
DELIVERY_STATUSES = tuple(status.value for status in DeliveryStatus)
MAX_WEBHOOK_URL_LENGTH = 2000
MAX_WEBHOOK_DESCRIPTION_LENGTH = 500
MAX_ALLOCATION_QUANTITY = 1000
MAX_REFERENCE_LENGTH = 200
MAX_RESERVATION_MINUTES = 10_080
REASON_CODES = (
    "empty_file",
    "encoding",
    "line_ending",
    "blank_line",
    "format",
    "product_mismatch",
    "prefix_missing",
    "expiry_out_of_range",
    "duplicate_in_file",
    "duplicate_existing",
    "too_many_codes",
    "processing_failed",
)
MAX_EVALUATION_EXPIRY_DAYS = 60
MAX_CODE_LENGTH = 128
# The largest values of PostgreSQL's integer and bigint.
MAX_INTEGER = 2**31 - 1
MAX_BIGINT = 2**63 - 1
# A product's available codes below this are low stock, unless its publisher sets another.
DEFAULT_LOW_STOCK_THRESHOLD = 100
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# A hostile file can have a problem on every line: a rejected request keeps
# the problems of this many lines, the lowest, and counts the rest
# (docs/product.md#what-a-rejected-request-says).
MAX_REPORTED_PROBLEMS = 10_000
IDEMPOTENCY_CONSTRAINT = "uq_upload_requests_idempotency_key"


def _one_of(column: str, values: Iterable[str]) -> str:
    return f"{column} IN {sql_list(values)}"


def _created_at() -> Mapped[datetime.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),)


class User(Base):
    """A person who logs in to the web screens of one publisher."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    # Stored lower-cased, so the unique index is case-insensitive in effect.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Part of the session cookie's identity: raising it ends every session
    # of this user, although the cookie itself lives on in the browser.
    session_version: Mapped[int] = mapped_column(Integer, server_default="1")
    # Sees the operator page: the queue of every publisher, counts and ages
    # only. Granted from the command line alone (`licensecodes grant-operator`).
    is_operator: Mapped[bool] = mapped_column(server_default=text("false"))
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        CheckConstraint("email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'", name="email_normalised"),
    )


class ApiKey(Base):
    """An API key: the visible prefix finds the row, the HMAC digest of the
    whole key proves it. The key itself is never stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100), server_default="")
    created_at: Mapped[datetime.datetime] = _created_at()
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))


class Product(Base):
    __tablename__ = "products"

    # The ProductID written in the first column of every TXT upload line,
    # chosen by the publisher; every product_id column refers to it.
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    short_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str | None] = mapped_column(String(MAX_CODE_LENGTH))
    activation_expiry_days: Mapped[int] = mapped_column(Integer)
    evaluation_expiry_days: Mapped[int] = mapped_column(Integer)
    # Available codes of a type below this are low stock; 0: never low.
    low_stock_threshold: Mapped[int] = mapped_column(Integer, server_default=str(DEFAULT_LOW_STOCK_THRESHOLD))
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        CheckConstraint("product_id > 0", name="product_id_positive"),
        CheckConstraint("short_code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]*$'", name="short_code_shape"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("prefix IS NULL OR length(prefix) > 0", name="prefix_not_empty"),
        CheckConstraint("activation_expiry_days >= 1", name="activation_expiry_positive"),
        CheckConstraint(
            f"evaluation_expiry_days BETWEEN 1 AND {MAX_EVALUATION_EXPIRY_DAYS}", name="evaluation_expiry_range"
        ),
        CheckConstraint("low_stock_threshold >= 0", name="low_stock_threshold_not_negative"),
    )


class UploadBlob(Base):
    """The bytes of one uploaded file, kept in PostgreSQL (web and worker may
    run on different hosts) as a sequence of chunks. A dry run and the real
    request confirmed from it share one blob."""

    __tablename__ = "upload_blobs"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    created_at: Mapped[datetime.datetime] = _created_at()


class UploadChunk(Base):
    __tablename__ = "upload_chunks"

    blob_id: Mapped[int] = mapped_column(ForeignKey("upload_blobs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored uncompressed (STORAGE EXTERNAL, migration 0005, which Alembic
    # does not compare): compressing cost more than half of an upload's time.
    data: Mapped[bytes] = mapped_column(LargeBinary)


class UploadRequest(Base):
    """One request and its way through the Code Generator (a job): an
    uploaded file, or (kind `generation`) codes for the Code Generator to make."""

    __tablename__ = "upload_requests"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"))
    # Null for a CSV file whose rows span several of the publisher's products.
    product_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("products.product_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), server_default="upload")
    # The file's format; NULL for a generation request, which has no file.
    format: Mapped[str | None] = mapped_column(String(8))
    code_type: Mapped[str] = mapped_column(String(16), server_default="activation")
    filename: Mapped[str] = mapped_column(String(255), server_default="")
    dry_run: Mapped[bool] = mapped_column(server_default=text("false"))
    blob_id: Mapped[int | None] = mapped_column(ForeignKey("upload_blobs.id", ondelete="SET NULL"), index=True)
    # The download prepared by the Code Generator (shared.loading.prepared_download):
    # the upload's own blob when the file is its own download, or one of
    # its own. NULL: the download is asked of the codes table.
    codes_blob_id: Mapped[int | None] = mapped_column(ForeignKey("upload_blobs.id", ondelete="SET NULL"))
    # The SHA-256 (hex) of that download, set when the request completes: a
    # header must precede a streamed body, so it is known before the first
    # byte. NULL for requests completed before it was kept (computed and
    # stored by their first download) and for requests without codes.
    codes_sha256: Mapped[str | None] = mapped_column(String(64))
    # When the uploaded file's bytes were deleted, UPLOAD_RETENTION_DAYS after
    # the request was decided (shared.retention); the request, its codes, its
    # report and its download stay.
    file_deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    # The client's Idempotency-Key, when it sent one: unique per publisher,
    # so a retried POST finds the request its first try created.
    idempotency_key: Mapped[str | None] = mapped_column(String(MAX_IDEMPOTENCY_KEY_LENGTH))
    # The prefix and expiry defaults of the products this request may name
    # (its own, or every product of its publisher for a CSV without one), as
    # they were when it was made: a product changed while the request waits
    # does not change how it is checked (shared.product_rules). NULL for
    # requests made before these were kept: their products are read as they are.
    product_rules: Mapped[list[Any] | None] = mapped_column()
    # A generation request's parameters (shared.generation.requests): the
    # quantity, the format of its codes, their expiry, build and seats.
    # NULL for an upload.
    # none_as_null: None is SQL NULL (an upload), never the JSON value null.
    generation: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    # The dry run this request was confirmed from; unique, so a dry run
    # becomes a real request at most once.
    confirmed_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("upload_requests.id", ondelete="SET NULL"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), server_default=RequestStatus.QUEUED.value)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    error_count: Mapped[int] = mapped_column(Integer, server_default="0")
    code_count: Mapped[int | None] = mapped_column(BigInteger)
    summary: Mapped[dict[str, Any] | None] = mapped_column()
    # Of the uploaded bytes; NULL for a generation request.
    sha256: Mapped[str | None] = mapped_column(String(64))
    # The uploaded file's size; for a generation request, the size its codes
    # file will have, which routes it to a queue (shared.broker) and measures its progress.
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime.datetime] = _created_at()
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    # The claim of the worker processing it: a fencing token and a lease.
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    lease_until: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # The database session doing the claimed work (pid and start, which
    # together name one session), so that the sweep can end a session that
    # outlived its lease: a paused worker's open transaction would otherwise
    # hold its locks, and block the retry, until the worker wakes up.
    claim_backend_pid: Mapped[int | None] = mapped_column(Integer)
    claim_backend_start: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    # When a wake-up message was last published for it; the sweep publishes
    # again for a request still queued long after that (the message was lost).
    enqueued_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    # How far the claimed work has got (shared.loading.progress), written about once
    # a second by the worker's lease thread: zero when claimed, NULL once the
    # request leaves processing, so a request given back shows nothing stale.
    lines_checked: Mapped[int | None] = mapped_column(BigInteger)
    bytes_checked: Mapped[int | None] = mapped_column(BigInteger)

    # What the screens ask of a request, so that no template compares status strings.
    @property
    def is_generation(self) -> bool:
        return self.kind == "generation"

    @property
    def kind_label(self) -> str:
        return "Generation" if self.is_generation else "Upload"

    @property
    def display_name(self) -> str:
        """What the screens call the request: its file's name, or what a generation makes."""
        if self.is_generation and self.generation is not None:
            return f"{self.generation['quantity']:,} codes generated"
        return self.filename or "(no name)"

    @property
    def is_pending(self) -> bool:
        return self.status in PENDING

    @property
    def is_processing(self) -> bool:
        return self.status == RequestStatus.PROCESSING

    @property
    def is_completed(self) -> bool:
        return self.status == RequestStatus.COMPLETED

    @property
    def is_rejected(self) -> bool:
        return self.status == RequestStatus.REJECTED

    @property
    def can_delete(self) -> bool:
        return self.status in DELETABLE

    @property
    def has_codes_download(self) -> bool:
        """A completed real request: a dry run stores no codes to download."""
        return self.is_completed and not self.dry_run

    @property
    def reported_problems(self) -> int:
        """How many problems the error report lists (the first ones by line)."""
        return min(self.error_count, MAX_REPORTED_PROBLEMS)

    @property
    def report_is_cut(self) -> bool:
        return self.error_count > self.reported_problems

    @property
    def status_label(self) -> str:
        return RequestStatus(self.status).label

    __table_args__ = (
        CheckConstraint(_one_of("status", REQUEST_STATES), name="status_known"),
        CheckConstraint(_one_of("kind", REQUEST_KINDS), name="kind_known"),
        CheckConstraint(f"format IS NULL OR {_one_of('format', UPLOAD_FORMATS)}", name="format_known"),
        # An upload has a file (its format and SHA-256); a generation has its parameters and no file.
        CheckConstraint(
            "CASE WHEN kind = 'generation' "
            "THEN generation IS NOT NULL AND format IS NULL AND sha256 IS NULL AND blob_id IS NULL "
            "ELSE generation IS NULL AND format IS NOT NULL AND sha256 IS NOT NULL END",
            name="kind_fields",
        ),
        CheckConstraint(_one_of("code_type", CODE_TYPES), name="code_type_known"),
        CheckConstraint(f"reason_code IS NULL OR {_one_of('reason_code', REASON_CODES)}", name="reason_code_known"),
        CheckConstraint(
            f"(status = '{RequestStatus.REJECTED}') = (reason_code IS NOT NULL)", name="rejected_has_reason"
        ),
        CheckConstraint(
            f"(status = '{RequestStatus.PROCESSING}') = (claim_token IS NOT NULL)", name="processing_has_claim"
        ),
        CheckConstraint(
            f"status = '{RequestStatus.PROCESSING}' OR (lines_checked IS NULL AND bytes_checked IS NULL)",
            name="progress_only_while_processing",
        ),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        CheckConstraint("sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        CheckConstraint("codes_sha256 IS NULL OR codes_sha256 ~ '^[0-9a-f]{64}$'", name="codes_sha256_hex"),
        CheckConstraint("error_count >= 0 AND attempts >= 0", name="counts_not_negative"),
        # The lists of requests, newest first, with each filter: every page
        # starts at its first row (docs/architecture.md#reads-at-scale).
        Index("ix_upload_requests_publisher_id_created", "publisher_id", text("id DESC")),
        Index("ix_upload_requests_publisher_status_created", "publisher_id", "status", text("id DESC")),
        Index("ix_upload_requests_product_created", "product_id", text("id DESC")),
        Index("ix_upload_requests_product_status_created", "product_id", "status", text("id DESC")),
        UniqueConstraint("publisher_id", "idempotency_key", name=IDEMPOTENCY_CONSTRAINT),
        # The sweep looks for requests that have waited or held a lease too long.
        Index(
            "ix_upload_requests_pending",
            "status",
            "created_at",
            postgresql_where=text(_one_of("status", PENDING)),
        ),
        # /metrics and the operator page count the last hour's decisions on
        # every scrape: without it, a scan of every request ever made.
        Index(
            "ix_upload_requests_decided_finished",
            "finished_at",
            postgresql_where=text(_one_of("status", DECIDED)),
        ),
    )


class UploadProblem(Base):
    """The problems of a rejected request for its error report, the first
    MAX_REPORTED_PROBLEMS by line (the request itself lists the first 100
    and counts them all)."""

    __tablename__ = "upload_problems"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("upload_requests.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_upload_problems_request_line", "request_id", "line"),)


class LicenseCode(Base):
    """One stored code; the string is unique on the whole server."""

    __tablename__ = "license_codes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Collation "C": codes compare byte for byte (case matters: docs/product.md#the-txt-format),
    # and a prefix search can use the unique index.
    code: Mapped[str] = mapped_column(String(MAX_CODE_LENGTH, collation="C"), unique=True)
    # No foreign keys here, on purpose: PostgreSQL checks them row by row,
    # which cost 4.7 s of every million codes stored (bench/README.md). Codes
    # are written only by the Code Generator's INSERT … SELECT, which joins
    # the product and holds the claim on the request, and neither products
    # nor requests are ever deleted (a request is deleted by its status).
    product_id: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[int] = mapped_column(BigInteger)
    line_no: Mapped[int] = mapped_column(Integer)
    code_type: Mapped[str] = mapped_column(String(16))
    expiry_days: Mapped[int] = mapped_column(Integer)
    build_no: Mapped[int | None] = mapped_column(Integer)
    seats: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default=CodeStatus.AVAILABLE.value)
    attributes: Mapped[dict[str, Any] | None] = mapped_column()
    # The allocation that holds the code now (reserved, distributed or
    # revoked with it); None while it is in the pool or was revoked as part
    # of a leaked batch. No foreign key, as above: moved only by shared.pool.
    allocation_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        CheckConstraint(f"length(code) BETWEEN 1 AND {MAX_CODE_LENGTH}", name="code_length"),
        CheckConstraint(_one_of("code_type", CODE_TYPES), name="code_type_known"),
        CheckConstraint(_one_of("status", CODE_STATUSES), name="status_known"),
        CheckConstraint(
            f"expiry_days >= 1 AND (code_type = 'activation' OR expiry_days <= {MAX_EVALUATION_EXPIRY_DAYS})",
            name="expiry_range",
        ),
        CheckConstraint("build_no IS NULL OR build_no >= 0", name="build_no_not_negative"),
        CheckConstraint("seats IS NULL OR seats >= 1", name="seats_positive"),
        CheckConstraint("line_no >= 1", name="line_no_positive"),
        # A request's codes, for its download (sorted by line there). Not
        # (request_id, line_no): stored in code order, its keys would land
        # at random and cost 2.4 s a million; request_id alone appends.
        Index("ix_license_codes_request_id", "request_id"),
        # Every page of a product's codes, with or without a status or a
        # prefix, starts at its first row here (docs/architecture.md#reads-at-scale).
        Index("ix_license_codes_product_status_code", "product_id", "status", "code"),
        # The pool: the available codes of a product and type, oldest request
        # first and in file order within it, the order takes hand them out
        # in (docs/architecture.md#the-code-pool). Partial, so a take reads
        # only codes it may take; a new request's keys all land past the
        # old ones, so a large upload touches none of the old pages.
        Index(
            "ix_license_codes_pool",
            "product_id",
            "code_type",
            "request_id",
            "line_no",
            postgresql_where=text(f"status = '{CodeStatus.AVAILABLE}'"),
        ),
        Index("ix_license_codes_allocation_id", "allocation_id", postgresql_where=text("allocation_id IS NOT NULL")),
    )


class CodeCount(Base):
    """How many codes one product holds of one code type in one status,
    kept in the transaction that stores or moves them, so that no screen,
    total or metric counts rows (docs/architecture.md#maintained-counts).
    A row exists once the product has had a code of that type and status."""

    __tablename__ = "code_counts"

    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    codes: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        CheckConstraint(_one_of("code_type", CODE_TYPES), name="code_type_known"),
        CheckConstraint(_one_of("status", CODE_STATUSES), name="status_known"),
        CheckConstraint("codes >= 0", name="codes_not_negative"),
    )


class ForeignDuplicateBudget(Base):
    """What one publisher was told on one UTC day about codes that exist
    under another publisher's products (docs/product.md#duplicates): how
    many it was named, and how many more were withheld from it. Written in
    the transaction of each rejection, so the count is exact; never deleted,
    so /metrics can count the withheld codes as a counter."""

    __tablename__ = "foreign_duplicate_budgets"

    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[datetime.date] = mapped_column(Date, primary_key=True)
    named: Mapped[int] = mapped_column(Integer, server_default="0")
    withheld: Mapped[int] = mapped_column(Integer, server_default="0")
    # Rejections that withheld at least one code: the ones the operators are alerted to.
    withheld_requests: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        CheckConstraint("named >= 0 AND withheld >= 0 AND withheld_requests >= 0", name="counts_not_negative"),
    )


class Allocation(Base):
    """Codes of one product and code type handed to one reference (the
    publisher's order): taken, reserved, distributed, released, expired,
    revoked, or waiting as a backorder (docs/product.md#the-code-pool)."""

    __tablename__ = "allocations"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.product_id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(MAX_REFERENCE_LENGTH))
    code_type: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # How long a reservation holds, also for a backorder filled later.
    reservation_minutes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime.datetime] = _created_at()
    filled_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    distributed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    expired_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Sending the same reference again is how a shop retries safely.
        UniqueConstraint("product_id", "reference", name="uq_allocations_product_reference"),
        CheckConstraint(_one_of("code_type", CODE_TYPES), name="code_type_known"),
        CheckConstraint(_one_of("mode", ALLOCATION_MODES), name="mode_known"),
        CheckConstraint(_one_of("status", ALLOCATION_STATUSES), name="status_known"),
        CheckConstraint(f"quantity BETWEEN 1 AND {MAX_ALLOCATION_QUANTITY}", name="quantity_range"),
        CheckConstraint(
            f"reservation_minutes IS NULL OR reservation_minutes BETWEEN 1 AND {MAX_RESERVATION_MINUTES}",
            name="reservation_minutes_range",
        ),
        CheckConstraint(f"status <> '{AllocationStatus.RESERVED}' OR expires_at IS NOT NULL", name="reserved_expires"),
        # A product's allocations, newest first (its list, by status too).
        Index("ix_allocations_product_created", "product_id", text("id DESC")),
        Index("ix_allocations_product_status_created", "product_id", "status", text("id DESC")),
        # The reservations the beat expires, soonest first.
        Index(
            "ix_allocations_reserved_expires",
            "expires_at",
            postgresql_where=text(f"status = '{AllocationStatus.RESERVED}'"),
        ),
        # The backorders of a product and type, in the order they were made.
        Index(
            "ix_allocations_backorders",
            "product_id",
            "code_type",
            "id",
            postgresql_where=text(f"status = '{AllocationStatus.BACKORDERED}'"),
        ),
    )


class AllocationCode(Base):
    """A code an allocation was given, kept after the code went back to the
    pool (a release, an expiry), so that an allocation shows what it held."""

    __tablename__ = "allocation_codes"

    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id", ondelete="CASCADE"), primary_key=True)
    code_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class HandOutDay(Base):
    """Codes of a product and type distributed on one UTC day: the stock's
    rate and its chart, read without counting allocations."""

    __tablename__ = "hand_out_days"

    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[datetime.date] = mapped_column(Date, primary_key=True)
    codes: Mapped[int] = mapped_column(BigInteger, server_default="0")

    __table_args__ = (
        CheckConstraint(_one_of("code_type", CODE_TYPES), name="code_type_known"),
        CheckConstraint("codes >= 0", name="codes_not_negative"),
    )


class PoolEvent(Base):
    """A moment of the pool, written in the transaction that made it (the
    stock falling below its threshold, a backorder filled, a reservation
    expired), for the publisher's systems to be told of."""

    __tablename__ = "pool_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    product_id: Mapped[int] = mapped_column(BigInteger)
    code_type: Mapped[str] = mapped_column(String(16))
    allocation_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        CheckConstraint(_one_of("kind", POOL_EVENT_KINDS), name="kind_known"),
        Index("ix_pool_events_product_created", "product_id", text("id DESC")),
    )


class BackupTaken(Base):
    """A backup written whole by `licensecodes backup`, for the doctor and
    /metrics to tell how old the last one is (docs/operating.md#routine-maintenance)."""

    __tablename__ = "backups_taken"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    taken_at: Mapped[datetime.datetime] = _created_at()
    schema_revision: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    codes: Mapped[int] = mapped_column(BigInteger)


class WebhookEndpoint(Base):
    """A URL of a publisher's system that is sent the events it subscribes
    to, signed with its secret (docs/product.md#events-signed-webhooks).
    The secrets are kept sealed under the server's secret key
    (shared.events.secrets): a copy of the database alone cannot sign."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(MAX_WEBHOOK_URL_LENGTH))
    events: Mapped[list[Any]] = mapped_column()
    description: Mapped[str] = mapped_column(String(MAX_WEBHOOK_DESCRIPTION_LENGTH), server_default="")
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    # Why the server disabled it (a 410, three days of failures); NULL when enabled or paused by its publisher.
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    # The secret before the last rotation, signing beside the new one until previous_secret_until.
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        CheckConstraint("jsonb_typeof(events) = 'array' AND jsonb_array_length(events) > 0", name="events_listed"),
        CheckConstraint("NOT enabled OR disabled_reason IS NULL", name="reason_only_when_disabled"),
    )


class WebhookMessage(Base):
    """The outbox: one event, written in the transaction of the change it
    reports, with a delivery per endpoint subscribed to it then
    (docs/architecture.md#webhooks-the-outbox-and-delivery). `message_id` is
    the `webhook-id` receivers de-duplicate by."""

    __tablename__ = "webhook_messages"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # `msg_` and a random UUID's hex digits, made by shared.events.outbox.
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    publisher_id: Mapped[int] = mapped_column(ForeignKey("publishers.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (CheckConstraint(_one_of("type", EVENT_TYPES), name="type_known"),)


class WebhookDelivery(Base):
    """One message to one endpoint: pending until an attempt succeeds or the
    delivery gives up. A worker claims it with a fresh token and moves
    next_attempt_at past the attempt, so a worker that dies mid-attempt
    leaves it due again, and its late result, fenced by the token, changes nothing."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), server_default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Since when it has been tried: three days of failures from here disable the endpoint. A replay resets it.
    retrying_since: Mapped[datetime.datetime] = _created_at()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime.datetime] = _created_at()

    __table_args__ = (
        UniqueConstraint("endpoint_id", "message_id", name="uq_webhook_deliveries_endpoint_message"),
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status_known"),
        CheckConstraint(
            f"(status = '{DeliveryStatus.PENDING}') = (next_attempt_at IS NOT NULL)", name="pending_has_next_attempt"
        ),
        # An endpoint's log, newest first.
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", text("id DESC")),
        # The deliveries that are due, soonest first.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(f"status = '{DeliveryStatus.PENDING}'"),
        ),
    )


class WebhookAttempt(Base):
    """One try of a delivery, for the endpoint's delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[datetime.datetime] = _created_at()
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    # The first 1 KB of the answer, as text.
    response: Mapped[str] = mapped_column(Text, server_default="")
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)
