"""What the API's routes take and return, declared once (marshmallow) for
the OpenAPI document (web.openapi) and for the checking of query, path and
header parameters. The JSON bodies are still written by web.serialize and
web.api.licensespring; these schemas describe them, and schemathesis checks
that the two agree (tests/web/test_openapi.py). The enumerations and limits
are the program's own, so a new state or reason code reaches the document
by itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

import marshmallow as ma
from marshmallow import fields
from marshmallow.validate import Length, OneOf, Range, Regexp

from shared.events.endpoints import DESCRIPTION_SHAPE as WEBHOOK_DESCRIPTION_SHAPE
from shared.generation.shape import (
    DEFAULT_ALPHABET,
    DEFAULT_GROUP,
    DEFAULT_LENGTH,
    DEFAULT_SEPARATOR,
    MAX_ALPHABET,
    MAX_LENGTH,
    MAX_QUANTITY,
    MIN_ALPHABET,
    MIN_BITS,
    MIN_LENGTH,
    SEPARATORS,
    SPACE_PER_CODE,
)
from shared.listings import LISTED_STATES
from shared.models import (
    ALLOCATION_MODES,
    ALLOCATION_STATUSES,
    CODE_STATUSES,
    CODE_TYPES,
    DEFAULT_LOW_STOCK_THRESHOLD,
    MAX_ALLOCATION_QUANTITY,
    MAX_BIGINT,
    MAX_CODE_LENGTH,
    MAX_EVALUATION_EXPIRY_DAYS,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    MAX_INTEGER,
    MAX_REFERENCE_LENGTH,
    MAX_RESERVATION_MINUTES,
    MAX_WEBHOOK_DESCRIPTION_LENGTH,
    REASON_CODES,
    REQUEST_KINDS,
    UPLOAD_FORMATS,
)
from shared.paging import COUNT_LIMIT, MAX_LIMIT, MAX_NUMBERED_PAGES, PAGE_LIMIT_MESSAGE, is_whole_number
from shared.pool.allocations import DEFAULT_RESERVATION_MINUTES
from shared.product_fields import (
    CHANGEABLE,
    DEFAULT_ACTIVATION_EXPIRY_DAYS,
    DEFAULT_EVALUATION_EXPIRY_DAYS,
    MAX_NAME_LENGTH,
    NAME_SHAPE,
    PREFIX_SHAPE,
    RULES,
    SHORT_CODE_SHAPE,
)
from shared.statuses import SUBSCRIBABLE, DeliveryStatus, EventType
from web.accept import BOOLEAN_WORDS
from web.idempotency import HEADER as IDEMPOTENCY_HEADER
from web.idempotency import REPLAYED_HEADER

MAX_DELIVERIES_PAGE = 100
# Longest page and per_page we read: more digits than this is no page anyone means.
MAX_DIGITS = 9
SHA256_HEX = r"^[0-9a-f]{64}$"
# No control character but TAB, LF and CR (web.input_guard).
NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


S = TypeVar("S", bound=type[ma.Schema])


def closed(schema: S) -> S:
    """An object with exactly these properties, every one always present
    (web.openapi adds `additionalProperties: false`)."""
    for field in schema._declared_fields.values():
        field.required = True
    return schema


def _id(description: str = "") -> fields.Integer:
    return fields.Integer(metadata={"format": "int64", **({"description": description} if description else {})})


def _count(description: str = "") -> fields.Integer:
    return fields.Integer(validate=Range(min=0), metadata={"description": description} if description else {})


def _time(*, allow_none: bool = False) -> fields.String:
    # A String, not a DateTime: web.serialize writes the times; this only says what they look like.
    return fields.String(allow_none=allow_none, metadata={"format": "date-time", "description": "ISO 8601, UTC (`Z`)"})


def _one_of(choices: tuple[str, ...] | list[str], *, allow_none: bool = False, **metadata: Any) -> fields.String:
    return fields.String(validate=OneOf(choices), allow_none=allow_none, metadata=metadata)


# The JSON bodies.


@closed
class Problem(ma.Schema):
    class Meta:
        description = "A problem in the file: its line and a sentence that names it."

    line = fields.Integer(validate=Range(min=0))
    reason_code = _one_of(REASON_CODES)
    message = fields.String()


@closed
class Progress(ma.Schema):
    class Meta:
        description = "A processing request's progress, updated about once a second."

    lines_checked = _count("lines of the file read and checked so far")
    percent = fields.Integer(
        validate=Range(min=0, max=100),
        metadata={
            "description": "of the file's bytes read, rounded down; 100 while the last checks "
            "(duplicates) and the storing of the codes run"
        },
    )


@closed
class CodeFormatShape(ma.Schema):
    class Meta:
        description = "The format of generated codes: prefix, random characters in groups, suffix."

    alphabet = fields.String(metadata={"description": "the characters the random part is drawn from"})
    length = fields.Integer(
        validate=Range(min=MIN_LENGTH, max=MAX_LENGTH), metadata={"description": "random characters"}
    )
    group = fields.Integer(
        validate=Range(min=0, max=MAX_LENGTH), metadata={"description": "characters a group; 0: none"}
    )
    separator = _one_of(SEPARATORS)
    prefix = fields.String()
    suffix = fields.String()


@closed
class GenerationShape(ma.Schema):
    class Meta:
        description = "What a generation request asks for (docs/product.md#generation-requests)."

    quantity = fields.Integer(validate=Range(min=1, max=MAX_QUANTITY))
    format = fields.Nested(CodeFormatShape)
    expiry_days = fields.Integer(
        validate=Range(min=1), allow_none=True, metadata={"description": "null: the product's default"}
    )
    build_no = fields.Integer(validate=Range(min=0), allow_none=True)
    seats = fields.Integer(validate=Range(min=1), allow_none=True)


@closed
class Upload(ma.Schema):
    class Meta:
        description = "A request: an upload or a generation (docs/product.md#the-rest-api)."

    id = _id()
    kind = _one_of(REQUEST_KINDS)
    format = _one_of(UPLOAD_FORMATS, allow_none=True, description="the file's; null for a generation")
    product_id = fields.Integer(
        allow_none=True, metadata={"format": "int64", "description": "null for a CSV that spans several products"}
    )
    code_type = _one_of(CODE_TYPES)
    filename = fields.String(
        validate=Length(max=255), allow_none=True, metadata={"description": "null for a generation"}
    )
    generation = fields.Nested(
        GenerationShape, allow_none=True, metadata={"description": "a generation's parameters; null for an upload"}
    )
    dry_run = fields.Boolean()
    status = _one_of(LISTED_STATES)
    reason_code = _one_of(REASON_CODES, allow_none=True)
    reason = fields.String(allow_none=True)
    errors = fields.List(fields.Nested(Problem), metadata={"description": "the first 100 problems"})
    error_count = _count()
    code_count = fields.Integer(validate=Range(min=0), allow_none=True)
    summary = fields.Dict(
        allow_none=True,
        metadata={
            "description": "a dry run's report (codes, by_code_type, by_product, expiry_days, with_build_no, "
            "with_seats)"
        },
    )
    sha256 = fields.String(
        validate=Regexp(SHA256_HEX),
        allow_none=True,
        metadata={"description": "of the uploaded file; null for a generation"},
    )
    codes_sha256 = fields.String(
        validate=Regexp(SHA256_HEX),
        allow_none=True,
        metadata={
            "description": "of the codes download (codes.txt), also sent with it in the Repr-Digest and "
            "X-Content-SHA256 headers; null until the request completes, and for a dry run"
        },
    )
    size_bytes = fields.Integer(
        validate=Range(min=1), allow_none=True, metadata={"description": "of the uploaded file; null for a generation"}
    )
    created_at = _time()
    started_at = _time(allow_none=True)
    finished_at = _time(allow_none=True)
    deadline_at = _time()
    file_deleted_at = fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "ISO 8601, UTC (`Z`): when the uploaded file's bytes were deleted, some days after the "
            "request was decided (the request, its codes, its report and its download stay); null while it is kept",
        },
    )
    progress = fields.Nested(
        Progress,
        allow_none=True,
        metadata={"description": "how far the Code Generator has got; null unless the status is processing"},
    )


@closed
class Product(ma.Schema):
    product_id = _id()
    short_code = fields.String()
    name = fields.String()
    prefix = fields.String(allow_none=True)
    activation_expiry_days = fields.Integer(validate=Range(min=1))
    evaluation_expiry_days = fields.Integer(validate=Range(min=1, max=MAX_EVALUATION_EXPIRY_DAYS))
    low_stock_threshold = fields.Integer(
        validate=Range(min=0), metadata={"description": "fewer available codes of a type than this is low; 0: never"}
    )
    stock = fields.Nested(
        lambda: ProductStock(),
        metadata={"description": "each code type's stock, as GET /products/<product_id>/stock gives it"},
    )
    created_at = _time()


@closed
class ProductList(ma.Schema):
    items = fields.List(fields.Nested(Product))


# A product's fields as the caller sends them. Each is taken as it comes, of
# any JSON type, and checked by shared.product_fields, the rules the screens
# and the command line apply too, so that all three refuse the same values in
# the same words (a 400 naming each field). The document says what each must
# be, from the same limits.


class JsonValue(fields.Raw):
    """A value of any JSON type, as sent; a number with no fraction (`13.0`)
    is the whole number it is, as JSON Schema counts it."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return int(value) if isinstance(value, float) and value.is_integer() else value


_DAYS = {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}
_REQUIRED = object()
_PRODUCT_FIELDS: dict[str, tuple[str, dict[str, Any], Any]] = {
    # name: (description, JSON Schema, the default when it is left out on creation, or _REQUIRED)
    "product_id": (
        "the ProductID of TXT lines; unique on the server",
        {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_BIGINT},
        _REQUIRED,
    ),
    "short_code": (
        "the name CSV files give the product; unique on the server",
        {"type": "string", "pattern": f"^{SHORT_CODE_SHAPE.pattern}$"},
        _REQUIRED,
    ),
    "name": (
        "for people; blanks at the ends are dropped",
        {"type": "string", "maxLength": MAX_NAME_LENGTH, "pattern": f"^{NAME_SHAPE.pattern}$"},
        _REQUIRED,
    ),
    "prefix": (
        "every code uploaded must start with it (the server never adds it); null: none",
        {"type": "string", "pattern": f"^{PREFIX_SHAPE.pattern}$"},
        None,
    ),
    "activation_expiry_days": (
        "the expiry of an activation code whose file leaves it out",
        _DAYS,
        DEFAULT_ACTIVATION_EXPIRY_DAYS,
    ),
    "evaluation_expiry_days": (
        "the expiry of an evaluation code whose file leaves it out",
        _DAYS | {"maximum": MAX_EVALUATION_EXPIRY_DAYS},
        DEFAULT_EVALUATION_EXPIRY_DAYS,
    ),
    "low_stock_threshold": (
        "fewer available codes of a type than this is low stock; 0: never low",
        {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER},
        DEFAULT_LOW_STOCK_THRESHOLD,
    ),
}


def _product_body(name: str, description: str, names: tuple[str, ...], *, creating: bool) -> type[ma.Schema]:
    """A JSON object of these product fields: on creation the required ones
    and the defaults of the others; on a change, only what is sent."""

    def field(name: str) -> fields.Raw:
        text, json_schema, default = _PRODUCT_FIELDS[name]
        # A null is refused in the rule's own words (what the value must be), but for a prefix, where it means none.
        messages = {"required": "is required", "null": RULES[name](None)}
        options: dict[str, Any] = {"allow_none": name == "prefix", "error_messages": messages}
        if creating and default is _REQUIRED:
            options["required"] = True
        elif creating:
            options["load_default"] = default
        return JsonValue(metadata={"description": text, **json_schema}, **options)

    meta = type("Meta", (), {"description": description})
    unknown = "is not a field of a product" if creating else "is not a field that can be changed"
    error_messages = {"unknown": f"{unknown}; the fields are {', '.join(names)}", "type": "must be a JSON object"}
    body: type[ma.Schema] = type(
        name, (ma.Schema,), {"Meta": meta, "error_messages": error_messages, **{n: field(n) for n in names}}
    )
    return body


NewProduct = _product_body("NewProduct", "A product to create (docs/product.md#products).", tuple(RULES), creating=True)
ProductChanges = _product_body(
    "ProductChanges",
    "The fields to change, and only those; the product id and the short code cannot be changed.",
    CHANGEABLE,
    creating=False,
)


@closed
class Code(ma.Schema):
    code = fields.String()
    product_id = _id()
    code_type = _one_of(CODE_TYPES)
    expiry_days = fields.Integer(validate=Range(min=1))
    build_no = fields.Integer(validate=Range(min=0), allow_none=True)
    seats = fields.Integer(validate=Range(min=1), allow_none=True)
    status = _one_of(CODE_STATUSES)
    request_id = _id()
    line = fields.Integer(validate=Range(min=1))
    allocation_id = fields.Integer(
        allow_none=True, metadata={"format": "int64", "description": "the allocation holding it; null in the pool"}
    )
    reference = fields.String(allow_none=True, metadata={"description": "that allocation's reference"})
    created_at = _time()


def _page_of(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    class Meta:
        description = "One page, the way to the next, and the total over all pages."

    page: type[ma.Schema] = type(
        name,
        (ma.Schema,),
        {
            "Meta": Meta,
            "items": fields.List(fields.Nested(item)),
            "next": fields.String(
                allow_none=True,
                metadata={"description": "the relative URL of the next page, or null on the last page"},
            ),
            "total": _count("every item of the list, or, when total_is_exact is false, more than this"),
            "total_is_exact": fields.Boolean(
                metadata={"description": f"false when the total was counted up to {COUNT_LIMIT:,} and there are more"}
            ),
        },
    )
    return closed(page)


UploadPage = _page_of(Upload, "UploadPage")
CodePage = _page_of(Code, "CodePage")


# The code pool (docs/product.md#the-code-pool).


@closed
class GivenCode(ma.Schema):
    code = fields.String()
    expiry_days = fields.Integer(validate=Range(min=1))
    build_no = fields.Integer(validate=Range(min=0), allow_none=True)
    seats = fields.Integer(validate=Range(min=1), allow_none=True)


@closed
class Allocation(ma.Schema):
    class Meta:
        description = "Codes of one product and code type handed to one reference."

    id = _id()
    product_id = _id()
    reference = fields.String(validate=Length(min=1, max=MAX_REFERENCE_LENGTH))
    code_type = _one_of(CODE_TYPES)
    quantity = fields.Integer(validate=Range(min=1, max=MAX_ALLOCATION_QUANTITY))
    mode = _one_of(ALLOCATION_MODES)
    status = _one_of(ALLOCATION_STATUSES)
    codes = fields.List(
        fields.Nested(GivenCode),
        metadata={"description": "the codes it was given, in pool order; empty while backordered"},
    )
    created_at = _time()
    filled_at = _time(allow_none=True)
    expires_at = _time(allow_none=True)
    distributed_at = _time(allow_none=True)
    released_at = _time(allow_none=True)
    expired_at = _time(allow_none=True)
    revoked_at = _time(allow_none=True)


AllocationPage = _page_of(Allocation, "AllocationPage")


@closed
class TypeStock(ma.Schema):
    available = _count()
    reserved = _count()
    distributed = _count()
    revoked = _count()
    backordered = _count("codes the waiting backorders ask for")
    backorders = _count("backorders waiting")
    handed_out_last_7_days = _count("codes distributed in the last 7 UTC days, today included")
    days_left = fields.Float(
        allow_none=True, metadata={"description": "available codes at the last 7 days' rate; null without hand-outs"}
    )
    low = fields.Boolean(metadata={"description": "fewer available codes than the product's low_stock_threshold"})


@closed
class ProductStock(ma.Schema):
    activation = fields.Nested(TypeStock)
    evaluation = fields.Nested(TypeStock)


@closed
class Stock(ma.Schema):
    product_id = _id()
    low_stock_threshold = _count()
    activation = fields.Nested(TypeStock)
    evaluation = fields.Nested(TypeStock)


@closed
class Holder(ma.Schema):
    id = _id()
    reference = fields.String()
    status = _one_of(ALLOCATION_STATUSES)


@closed
class BatchRevoked(ma.Schema):
    class Meta:
        description = "What a batch revoke did."

    request_id = _id()
    revoked = _count("codes of the request that were available and are now revoked")
    allocations = fields.List(
        fields.Nested(Holder), metadata={"description": "allocations holding codes of the request (the first 1,000)"}
    )
    allocations_total = _count("every allocation holding codes of the request")


@closed
class ImportJob(ma.Schema):
    job_id = _id()


@closed
class ImportCounts(ma.Schema):
    total_row_count = _count()
    valid_row_count = _count()
    invalid_rows = fields.List(fields.Nested(Problem))
    created_licenses_count = _count()
    existed_licenses_count = _count()


@closed
class ImportResult(ma.Schema):
    class Meta:
        description = "A CSV import job in LicenseSpring's words."

    id = _id()
    file_name = fields.String()
    # Our states in LicenseSpring's words (web.api.licensespring).
    status = _one_of(["pending", "running", "success", "error"])
    created_at = _time()
    started_at = _time(allow_none=True)
    finished_at = _time(allow_none=True)
    result = fields.Nested(ImportCounts, allow_none=True, metadata={"description": "null until the job is decided"})


@closed
class ErrorBody(ma.Schema):
    code = fields.String(metadata={"description": "machine-readable, e.g. `not_found`, `empty_file`"})
    message = fields.String(metadata={"description": "a sentence for a person"})


@closed
class Error(ma.Schema):
    class Meta:
        description = "Every error of the API (web.errors)."

    error = fields.Nested(ErrorBody)


# The parameters. A value that does not fit is a 400 `invalid` whose message
# names the parameter (web.openapi); the messages are those the API has
# always given.


class WholeNumber(fields.Integer):
    """ASCII digits only, as `is_whole_number` takes them: int() would also
    take "+1", " 1" and "1_000", and str.isdigit() "¹"."""

    def __init__(
        self,
        *,
        minimum: int,
        maximum: int | None = None,
        max_digits: int | None = None,
        over: str = "must be at most {max:,}, not {input}",
        **kwargs: Any,
    ):
        super().__init__(validate=Range(min=minimum, max=maximum, error=over), **kwargs)
        self.minimum = minimum
        self.max_digits = max_digits

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        raw = str(value)
        too_long = self.max_digits is not None and len(raw) > self.max_digits
        if not is_whole_number(raw) or too_long or int(raw) < self.minimum:
            at_least = f" of at least {self.minimum}" if self.minimum > 0 else ""
            raise ma.ValidationError(f"must be a whole number{at_least}, not {raw!r}")
        return int(raw)


class Paging(ma.Schema):
    limit = WholeNumber(
        minimum=1,
        maximum=MAX_LIMIT,
        max_digits=MAX_DIGITS,
        metadata={"description": f"items a page, 1 to {MAX_LIMIT} (default 50)"},
    )
    # Page numbers from before cursors: the first pages only (shared.paging.checked_page).
    page = WholeNumber(
        minimum=1,
        maximum=MAX_NUMBERED_PAGES,
        max_digits=MAX_DIGITS,
        over=PAGE_LIMIT_MESSAGE,
        metadata={"description": f"the page, 1 to {MAX_NUMBERED_PAGES}; deeper, send after; not read beside after"},
    )
    per_page = WholeNumber(
        minimum=1,
        maximum=10**MAX_DIGITS - 1,
        max_digits=MAX_DIGITS,
        metadata={"description": f"as limit; more than {MAX_LIMIT} is taken as {MAX_LIMIT}"},
    )


def _listed(choices: tuple[str, ...], description: str) -> fields.String:
    error = f"must be one of {', '.join(choices)}, not {{input!r}}"
    return fields.String(validate=OneOf(choices, error=error), metadata={"description": description})


class UploadQuery(Paging):
    after = WholeNumber(
        minimum=1,
        maximum=2**63 - 1,
        max_digits=19,
        metadata={"description": "the id of the last request of the page before (as the next link sends it)"},
    )
    product_id = WholeNumber(minimum=0, metadata={"description": "only this product's"})
    status = _listed(LISTED_STATES, "only those in this status")


class CodeQuery(Paging):
    q = fields.String(
        # What web.input_guard refuses in every parameter, declared here for the document.
        validate=Regexp(NO_CONTROL_CHARACTERS, error="must not contain control characters"),
        metadata={"description": "only codes that start with this (no control characters but TAB, CR and LF)"},
    )
    status = _listed(CODE_STATUSES, "only codes in this status")
    after = fields.String(
        validate=[
            Length(min=1, max=MAX_CODE_LENGTH),
            Regexp(NO_CONTROL_CHARACTERS, error="must not contain control characters"),
        ],
        metadata={"description": "the last code of the page before (as the next link sends it)"},
    )


class AllocationQuery(Paging):
    after = WholeNumber(
        minimum=1,
        maximum=2**63 - 1,
        max_digits=19,
        metadata={"description": "the id of the last allocation of the page before (as the next link sends it)"},
    )
    reference = fields.String(
        validate=[
            Length(min=1, max=MAX_REFERENCE_LENGTH),
            # What web.input_guard refuses in every parameter, declared here for the document.
            Regexp(NO_CONTROL_CHARACTERS, error="must not contain control characters"),
        ],
        metadata={"description": "only the one with this reference"},
    )
    status = _listed(ALLOCATION_STATUSES, "only allocations in this status")


PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]+$"


class AllocationAsk(ma.Schema):
    class Meta:
        description = "A take: codes for a reference (docs/product.md#the-code-pool)."

    reference = fields.String(
        required=True,
        validate=[
            Length(min=1, max=MAX_REFERENCE_LENGTH),
            Regexp(PRINTABLE, error="must be printable characters only"),
        ],
        metadata={"description": "the order or order line; the same reference again replays the allocation"},
    )
    quantity = fields.Integer(strict=True, validate=Range(min=1, max=MAX_ALLOCATION_QUANTITY), load_default=1)
    code_type = fields.String(validate=OneOf(CODE_TYPES), load_default="activation")
    mode = fields.String(
        validate=OneOf(ALLOCATION_MODES),
        load_default="distribute",
        metadata={"description": "distribute: handed out for good; reserve: held for reservation_minutes"},
    )
    reservation_minutes = fields.Integer(
        strict=True, validate=Range(min=1, max=MAX_RESERVATION_MINUTES), load_default=DEFAULT_RESERVATION_MINUTES
    )
    backorder = fields.Boolean(
        load_default=False,
        metadata={"description": "true: wait for codes (202, backordered) instead of 409 pool_empty"},
    )


def _described(description: str, json_schema: dict[str, Any], **options: Any) -> JsonValue:
    """A field passed on as sent, for shared.generation.shape to judge: the
    API's 400 then names the field in the same words as the command line's."""
    return JsonValue(metadata={"description": description, **json_schema}, **options)


# The format's fields, as JSON Schema: the object is passed on as sent, for
# shared.generation.shape to judge each field in its own words.
_GENERATION_FORMAT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "alphabet": {
            "type": "string",
            "pattern": "^[A-Za-z0-9]+$",
            "default": DEFAULT_ALPHABET,
            "description": f"{MIN_ALPHABET} to {MAX_ALPHABET} different ASCII letters and digits",
        },
        "length": {
            "type": "integer",
            "minimum": MIN_LENGTH,
            "maximum": MAX_LENGTH,
            "default": DEFAULT_LENGTH,
            "description": "random characters a code",
        },
        "group": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_LENGTH,
            "default": DEFAULT_GROUP,
            "description": "characters a group of the random part; 0: no groups",
        },
        "separator": {"type": "string", "enum": list(SEPARATORS), "default": DEFAULT_SEPARATOR},
        "prefix": {
            "type": ["string", "null"],
            "description": "before the random part; the product's prefix by default (null too), and must start with it",
        },
        "suffix": {"type": "string", "pattern": "^[A-Za-z0-9_.-]*$", "description": "after the random part"},
    },
}


class GenerationAsk(ma.Schema):
    class Meta:
        description = (
            f"Codes for the Code Generator to make. The random part must have at least {MIN_BITS} bits "
            f"(length times log2 of the alphabet's size) and {SPACE_PER_CODE:,} possible codes for each code "
            "asked for; otherwise 400 naming the bits and the minimum length."
        )
        # Passed on, to be named by shared.generation.shape with the others.
        unknown = ma.INCLUDE

    # Required, but checked with the other fields after the product is found: an
    # unknown product is a 404 whatever the body (tests/pipeline/test_tenant_isolation.py).
    quantity = _described("codes to make; required", {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY})
    code_type = _described("", {"type": "string", "enum": list(CODE_TYPES), "default": "activation"})
    format = _described("the format of the codes; a default for each field left out", _GENERATION_FORMAT)
    expiry_days = _described(
        "null: the product's default for the code type; at most 60 for evaluation codes",
        {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER},
        allow_none=True,
    )
    build_no = _described("", {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}, allow_none=True)
    seats = _described("", {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}, allow_none=True)
    dry_run = _described(
        "true: the Code Generator reports what it would make (with an example code) and stores nothing",
        {"type": "boolean", "default": False},
    )


class IdempotencyKey(fields.String):
    """Blanks at the ends are not part of the key (a client that pads it
    still means the same key); what is left is printable ASCII."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        key = str(value).strip()
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not (key.isascii() and key.isprintable()):
            raise ma.ValidationError(f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters")
        return key


class Idempotency(ma.Schema):
    key = IdempotencyKey(
        data_key=IDEMPOTENCY_HEADER,
        metadata={
            "description": "Send one with every new request; a retry with the same key and the same request "
            "(file, product, code type, dry run) returns the first try's request; the key with a different "
            "request is a 409.",
            # What a client should send; the blanks we strip are not part of it.
            "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH,
            "pattern": "^[!-~]([ -~]*[!-~])?$",
        },
    )


# The multipart bodies, for the document: web.receive streams them.


class UploadForm(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # other parts are ignored, not refused

    file = fields.Raw(
        required=True,
        metadata={"type": "string", "format": "binary", "description": "the file (TXT or CSV, told by its content)"},
    )
    code_type = fields.String(validate=OneOf(CODE_TYPES), load_default="activation")
    dry_run = fields.String(
        validate=OneOf(list(BOOLEAN_WORDS)),
        load_default="false",
        metadata={"description": "true: check everything and store nothing (case does not matter)"},
    )


class CsvImportForm(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    file = fields.Raw(
        required=True, metadata={"type": "string", "format": "binary", "description": "a CSV file with a header row"}
    )


# The headers of the responses.

CREATED_HEADERS = {"Location": {"required": True, "description": "the product's URL", "schema": {"type": "string"}}}
ACCEPTED_HEADERS = {
    "Location": {"required": True, "description": "the upload's URL", "schema": {"type": "string"}},
    REPLAYED_HEADER: {
        "required": False,
        "description": "present when an earlier try with the same Idempotency-Key created the request",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
ATTACHMENT_HEADERS = {"Content-Disposition": {"required": True, "schema": {"type": "string"}}}
CHECKSUM_HEADERS = {
    **ATTACHMENT_HEADERS,
    "Repr-Digest": {
        "required": True,
        "description": "the file's SHA-256 (RFC 9530), as in `sha-256=:<base64>:`",
        "schema": {"type": "string", "pattern": "^sha-256=:[A-Za-z0-9+/]{43}=:$"},
    },
    "X-Content-SHA256": {
        "required": True,
        "description": "the file's SHA-256 in hex, as the upload's codes_sha256",
        "schema": {"type": "string", "pattern": SHA256_HEX},
    },
}


# Webhooks (docs/product.md#events-signed-webhooks). The bodies' fields are
# taken as sent and checked by shared.events.endpoints, which names each bad one.

_WEBHOOK_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "url": ("https, or http to a host the operator allows; its addresses must be public", {"type": "string"}),
    "events": (
        "the events to send",
        {"type": "array", "minItems": 1, "items": {"type": "string", "enum": list(SUBSCRIBABLE)}},
    ),
    "description": (
        "for people; no control characters",
        {
            "type": "string",
            "maxLength": MAX_WEBHOOK_DESCRIPTION_LENGTH,
            "pattern": f"^{WEBHOOK_DESCRIPTION_SHAPE.pattern}$",
        },
    ),
    "enabled": ("false pauses the endpoint; true enables it again", {"type": "boolean"}),
}


def _webhook_body(name: str, description: str, names: tuple[str, ...], required: tuple[str, ...]) -> type[ma.Schema]:
    def field(field_name: str) -> fields.Raw:
        text, json_schema = _WEBHOOK_FIELDS[field_name]
        return JsonValue(
            required=field_name in required,
            allow_none=field_name == "description",
            error_messages={"required": "is required", "null": "must not be null"},
            metadata={"description": text, **json_schema},
        )

    meta = type("Meta", (), {"description": description})
    error_messages = {
        "unknown": f"is not a field that can be sent here; the fields are {', '.join(names)}",
        "type": "must be a JSON object",
    }
    body: type[ma.Schema] = type(
        name, (ma.Schema,), {"Meta": meta, "error_messages": error_messages, **{n: field(n) for n in names}}
    )
    return body


NewWebhook = _webhook_body(
    "NewWebhook", "An endpoint to register.", ("url", "events", "description"), required=("url", "events")
)
WebhookChanges = _webhook_body(
    "WebhookChanges", "The fields to change, and only those.", ("events", "description", "enabled"), required=()
)


@closed
class Webhook(ma.Schema):
    class Meta:
        description = "A webhook endpoint; its secret is shown only when it is made (created or rotated)."

    id = _id()
    url = fields.String()
    events = fields.List(_one_of(list(SUBSCRIBABLE)))
    description = fields.String()
    enabled = fields.Boolean()
    disabled_reason = fields.String(
        allow_none=True, metadata={"description": "why the server disabled it (a 410, three days of failures)"}
    )
    previous_secret_until = _time(allow_none=True)
    created_at = _time()


@closed
class WebhookWithSecret(Webhook):
    secret = fields.String(
        validate=Regexp(r"^whsec_[A-Za-z0-9+/]{43}=$"),
        metadata={"description": "whsec_ and the base64 of 32 random bytes; shown this once"},
    )


@closed
class WebhookList(ma.Schema):
    items = fields.List(fields.Nested(Webhook))


@closed
class WebhookMessageSent(ma.Schema):
    message_id = fields.String(metadata={"description": "the webhook-id it is sent with"})


@closed
class WebhookAttempt(ma.Schema):
    attempted_at = _time()
    status_code = fields.Integer(allow_none=True)
    duration_ms = _count()
    response = fields.String(metadata={"description": "the first 1 KB of the answer"})
    error = fields.String(allow_none=True)


@closed
class WebhookDelivery(ma.Schema):
    message_id = fields.String(metadata={"description": "the webhook-id; replay by it"})
    type = _one_of([event.value for event in EventType])
    status = _one_of([status.value for status in DeliveryStatus])
    attempts = _count()
    next_attempt_at = _time(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = _time()
    finished_at = _time(allow_none=True)
    attempt_log = fields.List(
        fields.Nested(WebhookAttempt), metadata={"description": "the latest attempts (20 at most), newest first"}
    )


@closed
class WebhookDeliveryPage(ma.Schema):
    items = fields.List(fields.Nested(WebhookDelivery))
    next = fields.String(allow_none=True, metadata={"description": "the page after this one; null on the last"})


class WebhookDeliveryQuery(ma.Schema):
    limit = WholeNumber(
        minimum=1,
        maximum=MAX_DELIVERIES_PAGE,
        max_digits=MAX_DIGITS,
        metadata={"description": f"deliveries a page, 1 to {MAX_DELIVERIES_PAGE} (default 50)"},
    )
    before = WholeNumber(
        minimum=1,
        maximum=2**63 - 1,
        max_digits=19,
        metadata={"description": "where the page starts (as the next link sends it)"},
    )
