"""The JSON shapes of the REST API (web.serialize, web.api.licensespring)
as OpenAPI 3.1 components. The enumerations come from shared.models, so
a new state or reason code reaches the document by itself."""

from __future__ import annotations

from typing import Any

from shared.models import CODE_STATUSES, CODE_TYPES, REASON_CODES, UPLOAD_FORMATS
from shared.uploads import LISTED_STATES, MAX_PAGE, MAX_PER_PAGE

Schema = dict[str, Any]

INTEGER: Schema = {"type": "integer", "format": "int64"}
COUNT: Schema = {"type": "integer", "minimum": 0}
TIME: Schema = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC (`Z`)"}


def nullable(schema: Schema) -> Schema:
    """The same schema, or null (OpenAPI 3.1: JSON Schema's type lists)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    extra = {"enum": [*schema["enum"], None]} if "enum" in schema else {}
    return schema | {"type": [*(kind if isinstance(kind, list) else [kind]), "null"]} | extra


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(properties: dict[str, Schema], description: str = "") -> Schema:
    """An object with exactly these properties, every one always present."""
    schema: Schema = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    return schema | ({"description": description} if description else {})


def page_of(item: str) -> Schema:
    return closed(
        {
            "items": {"type": "array", "items": ref(item)},
            "page": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            "total": COUNT,
        },
        "One page, and the total over all pages.",
    )


SUMMARY = "a dry run's report (codes, by_code_type, by_product, expiry_days, with_build_no, with_seats)"

PROBLEM = closed(
    {
        "line": {"type": "integer", "minimum": 0},
        "reason_code": {"type": "string", "enum": list(REASON_CODES)},
        "message": {"type": "string"},
    },
    "A problem in the file: its line and a sentence that names it.",
)

UPLOAD = closed(
    {
        "id": INTEGER,
        "format": {"type": "string", "enum": list(UPLOAD_FORMATS)},
        "product_id": nullable(INTEGER) | {"description": "null for a CSV that spans several products"},
        "code_type": {"type": "string", "enum": list(CODE_TYPES)},
        "filename": {"type": "string", "maxLength": 255},
        "dry_run": {"type": "boolean"},
        "status": {"type": "string", "enum": list(LISTED_STATES)},
        "reason_code": nullable({"type": "string", "enum": list(REASON_CODES)}),
        "reason": nullable({"type": "string"}),
        "errors": {"type": "array", "items": ref("Problem"), "description": "the first 100 problems"},
        "error_count": COUNT,
        "code_count": nullable(COUNT),
        "summary": nullable({"type": "object"}) | {"description": SUMMARY},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "of the uploaded file"},
        "codes_sha256": nullable({"type": "string", "pattern": "^[0-9a-f]{64}$"})
        | {
            "description": "of the codes download (codes.txt), also sent with it in the Repr-Digest and "
            "X-Content-SHA256 headers; null until the request completes, and for a dry run"
        },
        "size_bytes": {"type": "integer", "minimum": 1},
        "created_at": TIME,
        "started_at": nullable(TIME),
        "finished_at": nullable(TIME),
        "deadline_at": TIME,
        "progress": nullable(ref("Progress"))
        | {"description": "how far the Code Generator has got; null unless the status is processing"},
    },
    "An upload request.",
)

PROGRESS = closed(
    {
        "lines_checked": COUNT | {"description": "lines of the file read and checked so far"},
        "percent": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "of the file's bytes read, rounded down; 100 while the last checks "
            "(duplicates) and the storing of the codes run",
        },
    },
    "A processing request's progress, updated about once a second.",
)

PRODUCT = closed(
    {
        "product_id": INTEGER,
        "short_code": {"type": "string"},
        "name": {"type": "string"},
        "prefix": nullable({"type": "string"}),
        "activation_expiry_days": {"type": "integer", "minimum": 1},
        "evaluation_expiry_days": {"type": "integer", "minimum": 1},
        "created_at": TIME,
    }
)

CODE = closed(
    {
        "code": {"type": "string"},
        "product_id": INTEGER,
        "code_type": {"type": "string", "enum": list(CODE_TYPES)},
        "expiry_days": {"type": "integer", "minimum": 1},
        "build_no": nullable({"type": "integer", "minimum": 0}),
        "seats": nullable({"type": "integer", "minimum": 1}),
        "status": {"type": "string", "enum": list(CODE_STATUSES)},
        "request_id": INTEGER,
        "line": {"type": "integer", "minimum": 1},
        "created_at": TIME,
    }
)

IMPORT_COUNTS = closed(
    {
        "total_row_count": COUNT,
        "valid_row_count": COUNT,
        "invalid_rows": {"type": "array", "items": ref("Problem")},
        "created_licenses_count": COUNT,
        "existed_licenses_count": COUNT,
    }
)

IMPORT_RESULT = closed(
    {
        "id": INTEGER,
        "file_name": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "running", "success", "error"]},
        "created_at": TIME,
        "started_at": nullable(TIME),
        "finished_at": nullable(TIME),
        "result": nullable(ref("ImportCounts")) | {"description": "null until the job is decided"},
    },
    "A CSV import job in LicenseSpring's words.",
)

ERROR = closed(
    {
        "error": closed(
            {
                "code": {"type": "string", "description": "machine-readable, e.g. `not_found`, `empty_file`"},
                "message": {"type": "string", "description": "a sentence for a person"},
            }
        )
    },
    "Every error of the API.",
)

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "Problem": PROBLEM,
    "Upload": UPLOAD,
    "Progress": PROGRESS,
    "UploadPage": page_of("Upload"),
    "Product": PRODUCT,
    "ProductList": closed({"items": {"type": "array", "items": ref("Product")}}),
    "Code": CODE,
    "CodePage": page_of("Code"),
    "ImportJob": closed({"job_id": INTEGER}),
    "ImportCounts": IMPORT_COUNTS,
    "ImportResult": IMPORT_RESULT,
}
