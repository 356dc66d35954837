"""The OpenAPI 3.1 document of the REST API v1 (docs/product.md#the-rest-api), served at
GET /api/v1/openapi.json without a key: it describes the API and holds
nothing of any publisher, and a client generator must be able to read it
before anyone has a key.

Built from Python rather than kept as a JSON file so that its enumerations
and limits are the program's own (web.openapi_schemas); a test checks that
it lists every /api/v1 route and schemathesis checks the app against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from shared.models import CODE_STATUSES, CODE_TYPES, MAX_IDEMPOTENCY_KEY_LENGTH
from shared.uploads import LISTED_STATES, MAX_PAGE
from web.idempotency import HEADER as IDEMPOTENCY_HEADER
from web.idempotency import REPLAYED_HEADER
from web.openapi_schemas import INTEGER, SCHEMAS, Schema, ref

blueprint = Blueprint("openapi", __name__, url_prefix="/api/v1")

Operation = dict[str, Any]

# What the accept step takes for dry_run (web.accept), in any case, blanks around.
DRY_RUN_VALUES = ["true", "false", "1", "0", "yes", "no", "on", "off", ""]


@blueprint.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(document())


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "licensecodes REST API",
            "version": "1",
            "description": (
                "Bulk loading of license codes. Every operation but this document's takes "
                "`Authorization: Bearer <api key>` and answers for the caller's publisher only: another "
                "publisher's object is a 404, exactly like a missing one. Errors are "
                '`{"error": {"code": ..., "message": ...}}`. Times are ISO 8601 UTC.'
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`lc_<prefix>_<secret>`), in this header only: never in a URL.",
                }
            },
            "responses": ERROR_RESPONSES,
        },
    }


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": ref("Error")}}}
    return response | ({"headers": headers} if headers else {})


ERROR_RESPONSES = {
    "BadRequest": _error(
        "A parameter out of its range or shape (`invalid`), or an API key in the query string (`api_key_in_url`)."
    ),
    "Unauthorized": _error(
        "No API key, or one that is not valid or was revoked (`unauthorized`).",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    ),
    "NotFound": _error("No such object for the caller (`not_found`); another publisher's is not found either."),
    "Conflict": _error("Not possible in the object's present state, or an Idempotency-Key used for another request."),
    "TooLarge": _error("The file is over MAX_UPLOAD_MB (`file_too_large`); nothing was stored."),
    "Compressed": _error("A compressed request body (`unsupported_media_type`); send the file as it is."),
    "RateLimited": _error(
        "Too many calls for the key or its publisher (`rate_limited`).",
        {"Retry-After": {"required": True, "description": "seconds to wait", "schema": {"type": "integer"}}},
    ),
}


def _errors(*statuses: int) -> dict[str, Any]:
    """The error answers an operation gives, besides those every operation with a key gives."""
    names = {404: "NotFound", 409: "Conflict", 413: "TooLarge", 415: "Compressed"}
    common = {"400": "BadRequest", "401": "Unauthorized", "429": "RateLimited"}
    refs = common | {str(status): names[status] for status in statuses}
    return {status: {"$ref": f"#/components/responses/{name}"} for status, name in sorted(refs.items())}


def _json(description: str, schema: Schema, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    return response | ({"headers": headers} if headers else {})


def _path_id(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": INTEGER}


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


PRODUCT_ID = _path_id("product_id", "the product's id")
UPLOAD_ID = _path_id("upload_id", "the upload request's id")
PAGING = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, "the page, from 1"),
    _query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": 999_999_999},
        "items a page (default 50); more than 200 is taken as 200",
    ),
]
IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Send one with every new request; a retry with the same key and the same request (file, product, "
        "code type, dry run) answers the first try's request; the key with a different request is a 409."
    ),
    # Printable ASCII, no blanks at the ends (they are stripped).
    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH, "pattern": "^[!-~]([ -~]*[!-~])?$"},
}
ACCEPTED_HEADERS = {
    "Location": {"required": True, "description": "the upload's URL", "schema": {"type": "string"}},
    REPLAYED_HEADER: {
        "required": False,
        "description": "present when an earlier try with the same Idempotency-Key created the request",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _multipart(properties: dict[str, Schema]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": properties},
            }
        },
    }


FILE = {"type": "string", "format": "binary", "description": "the file (TXT or CSV, told by its content)"}


def _download(media_type: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Content-Disposition": {"required": True, "schema": {"type": "string"}}, **(headers or {})},
        "content": {media_type: {"schema": {"type": "string"}}},
    }


CHECKSUM_HEADERS = {
    "Repr-Digest": {
        "required": True,
        "description": "the file's SHA-256 (RFC 9530), as in `sha-256=:<base64>:`",
        "schema": {"type": "string", "pattern": "^sha-256=:[A-Za-z0-9+/]{43}=:$"},
    },
    "X-Content-SHA256": {
        "required": True,
        "description": "the file's SHA-256 in hex, as the upload's codes_sha256",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
}


PATHS: dict[str, dict[str, Operation]] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _json("The OpenAPI document", {"type": "object"})},
        }
    },
    "/api/v1/products": {
        "get": {
            "summary": "The caller's products",
            "responses": {"200": _json("The products, by id", ref("ProductList")), **_errors()},
        }
    },
    "/api/v1/products/{product_id}": {
        "get": {
            "summary": "One product",
            "parameters": [PRODUCT_ID],
            "responses": {"200": _json("The product", ref("Product")), **_errors(404)},
        }
    },
    "/api/v1/products/{product_id}/codes": {
        "get": {
            "summary": "A product's codes, in code order",
            "parameters": [
                PRODUCT_ID,
                *PAGING,
                _query("q", {"type": "string", "pattern": "^[^\\x00]*$"}, "only codes that start with this (no NUL)"),
                _query("status", {"type": "string", "enum": list(CODE_STATUSES)}, "only codes in this status"),
            ],
            "responses": {"200": _json("A page of codes", ref("CodePage")), **_errors(404)},
        }
    },
    "/api/v1/products/{product_id}/uploads": {
        "post": {
            "summary": "Upload a file of codes for a product",
            "description": "Queued for the Code Generator; problems inside the file are its to find.",
            "parameters": [PRODUCT_ID, IDEMPOTENCY_KEY],
            "requestBody": _multipart(
                {
                    "file": FILE,
                    "code_type": {"type": "string", "enum": list(CODE_TYPES), "default": "activation"},
                    "dry_run": {
                        "type": "string",
                        "enum": DRY_RUN_VALUES,
                        "default": "false",
                        "description": "true: check everything and store nothing (case does not matter)",
                    },
                }
            ),
            "responses": {
                "202": _json("The upload request, queued (or the earlier try's)", ref("Upload"), ACCEPTED_HEADERS),
                **_errors(404, 409, 413, 415),
            },
        }
    },
    "/api/v1/licenses/import_from_csv/": {
        "post": {
            "summary": "Import licenses from a CSV file (LicenseSpring compatible)",
            "description": "The job is an ordinary upload request: /api/v1/uploads/{job_id}.",
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": _multipart({"file": FILE | {"description": "a CSV file with a header row"}}),
            "responses": {"200": _json("The job", ref("ImportJob")), **_errors(409, 413, 415)},
        }
    },
    "/api/v1/licenses-import-results/{job_id}/": {
        "get": {
            "summary": "A CSV import job (LicenseSpring compatible)",
            "parameters": [_path_id("job_id", "the job id import_from_csv answered")],
            "responses": {"200": _json("The job's result", ref("ImportResult")), **_errors(404)},
        }
    },
    "/api/v1/uploads": {
        "get": {
            "summary": "The caller's upload requests, newest first",
            "parameters": [
                *PAGING,
                _query("product_id", {"type": "integer", "minimum": 0}, "only this product's"),
                _query("status", {"type": "string", "enum": list(LISTED_STATES)}, "only those in this status"),
            ],
            "responses": {"200": _json("A page of upload requests", ref("UploadPage")), **_errors()},
        }
    },
    "/api/v1/uploads/{upload_id}": {
        "get": {
            "summary": "One upload request",
            "parameters": [UPLOAD_ID],
            "responses": {"200": _json("The upload request", ref("Upload")), **_errors(404)},
        },
        "delete": {
            "summary": "Delete an upload request while it is queued",
            "parameters": [UPLOAD_ID],
            "responses": {"204": {"description": "Deleted"}, **_errors(404, 409)},
        },
    },
    "/api/v1/uploads/{upload_id}/confirm": {
        "post": {
            "summary": "Import a completed dry run from the same stored bytes",
            "parameters": [UPLOAD_ID, IDEMPOTENCY_KEY],
            "responses": {
                "202": _json("The new upload request, queued", ref("Upload"), ACCEPTED_HEADERS),
                **_errors(404, 409),
            },
        }
    },
    "/api/v1/uploads/{upload_id}/codes.txt": {
        "get": {
            "summary": "The codes of a completed upload (TXT, Windows-1252, CR LF)",
            "parameters": [UPLOAD_ID],
            "responses": {
                "200": _download("text/plain", "The codes, in file order, expiry filled in", CHECKSUM_HEADERS),
                **_errors(404, 409),
            },
        }
    },
    "/api/v1/uploads/{upload_id}/errors.csv": {
        "get": {
            "summary": "Every problem of a rejected upload (CSV)",
            "parameters": [UPLOAD_ID],
            "responses": {"200": _download("text/csv", "The error report"), **_errors(404, 409)},
        }
    },
}
