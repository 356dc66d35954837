"""The OpenAPI 3.1 document of the REST API, derived from the routes
themselves (flask-smorest, marshmallow): each /api/v1 route declares its
parameters, form fields, headers and responses once, on its view, and both
this document and the checking of query, path and header parameters come
from those declarations. The contract they describe is
docs/product.md#the-rest-api.

The document is served at GET /api/v1/openapi.json without a key: it holds
nothing of any publisher, and a client generator must be able to read it
before anyone has a key.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from functools import cache
from typing import Any, NoReturn

import flask_smorest
import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import Flask, Request, jsonify
from flask.typing import ResponseReturnValue
from flask_smorest.spec.plugins import FlaskPlugin
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.routing import IntegerConverter

from shared.errors import InvalidValue

TITLE = "licensecodes REST API"
DESCRIPTION = (
    "Bulk loading of license codes. Every operation but this document's takes "
    "`Authorization: Bearer <api key>` and returns the caller's publisher's objects only: another "
    "publisher's object is a 404, exactly like a missing one. Errors are "
    '`{"error": {"code": ..., "message": ...}}`. Times are ISO 8601 UTC.'
)
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (`lc_<prefix>_<secret>`), in this header only: never in a URL.",
}

# The error responses, by status, as every operation refers to them; web.errors
# writes their bodies. 401 and 429 carry the header that tells what to do next.
ERROR_RESPONSES: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "A parameter out of its range or shape (`invalid`), or an API key in the query string (`api_key_in_url`).",
        {},
    ),
    401: (
        "No API key, or one that is not valid or was revoked (`unauthorized`).",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    ),
    404: ("No such object for the caller (`not_found`); another publisher's is not found either.", {}),
    409: ("Not possible in the object's present state, or an Idempotency-Key used for another request.", {}),
    410: ("The uploaded file it needs is no longer kept (`file_gone`): upload the file again.", {}),
    413: ("The file is over MAX_UPLOAD_MB (`file_too_large`); nothing was stored.", {}),
    415: ("A compressed request body (`unsupported_media_type`); send the file as it is.", {}),
    429: (
        "Too many calls for the key or its publisher (`rate_limited`).",
        {"Retry-After": {"required": True, "description": "seconds to wait", "schema": {"type": "integer"}}},
    ),
}
# What every operation that takes a key can return, whatever it does.
KEYED_ERRORS = (400, 401, 429)


class _Parser(FlaskParser):
    """Reads the declared query, path and header parameters. A value that
    does not fit its declaration is the API's ordinary 400 `invalid`
    (web.errors), its message naming the parameter, as every other
    refused value is."""

    DEFAULT_VALIDATION_STATUS = 400

    def handle_error(
        self,
        error: ma.ValidationError,
        req: Request,
        schema: ma.Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        raise InvalidValue(_first_message(error.messages)) from None

    def _raw_load_json(self, req: Request) -> Any:
        """A JSON body, which a body of another type is not, whatever it
        holds: it would otherwise count as no body at all. No body at all is
        an empty object."""
        if not req.get_data(cache=True):
            return {}
        if not is_json_request(req):
            raise InvalidValue("send the body as JSON, with the header Content-Type: application/json")
        return super()._raw_load_json(req)

    def _handle_invalid_json_error(self, error: Exception, req: Request, *args: Any, **kwargs: Any) -> NoReturn:
        raise InvalidValue(f"the body is not valid JSON ({error})") from None


def _first_message(messages: Any) -> str:
    """webargs nests the messages by location, then by parameter name."""
    location, by_name = next(iter(messages.items()))
    name, problems = next(iter(by_name.items()))
    if name == "_schema":  # a JSON body that is not an object
        return "the body must be a JSON object"
    problem = problems[0] if isinstance(problems, list) else str(problems)
    return f"the {name} header {problem}" if location == "headers" else f"{name} {problem}"


class Blueprint(flask_smorest.Blueprint):
    """A blueprint whose routes declare what they take and return."""

    ARGUMENTS_PARSER = _Parser()

    def errors(self, *statuses: int, keyed: bool = True) -> Callable[[Any], Any]:
        """Document the error responses a view returns: `statuses`, and those
        of every operation that takes a key."""
        codes = sorted({*statuses, *(KEYED_ERRORS if keyed else ())})

        def decorator(view: Any) -> Any:
            for status in codes:
                view = self.alt_response(status, response=http.HTTPStatus(status).name)(view)
            return view

        return decorator

    def multipart(self, schema: type[ma.Schema]) -> Callable[[Any], Any]:
        """Document a multipart/form-data body with these parts, for the
        document only: the view streams the body itself (web.receive), and
        parsing it here would hold the whole file in memory or on local disk
        before the view could refuse it."""
        body = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
        return self.doc(requestBody=body)


class _Converter(OpenAPIConverter):
    """Our response objects are closed: every property always present and no
    other. apispec says so (`additionalProperties: false`) only for a schema
    without a description; we want both."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)
        if getattr(schema, "unknown", ma.RAISE) == ma.RAISE:
            jsonschema["additionalProperties"] = False
        return jsonschema


class _Marshmallow(MarshmallowPlugin):
    Converter = _Converter


class _Flask(FlaskPlugin):
    """Path parameters listed on each operation, as the document always has,
    rather than once for the path."""

    def path_helper(self, rule: Any, operations: dict[str, Any], parameters: list[Any], **kwargs: Any) -> Any:
        path = super().path_helper(rule, operations, parameters, **kwargs)
        for operation in operations.values():
            operation["parameters"] = [*parameters, *operation.get("parameters", [])]
        parameters.clear()
        return path


class _Api(flask_smorest.Api):
    """Builds the document only: web.errors keeps writing every error body,
    and no catch-all `default` response hides an undocumented status."""

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        pass

    # Neither ETags nor flask-smorest's pagination: their components would only clutter the document.
    def _register_etag_headers(self) -> None:
        pass

    def _register_pagination_header(self) -> None:
        pass

    def _register_responses(self) -> None:
        from web.api.schemas import Error

        for status, (description, headers) in ERROR_RESPONSES.items():
            response = {
                "description": description,
                "content": {"application/json": {"schema": Error}},
                **({"headers": headers} if headers else {}),
            }
            self.spec.components.response(http.HTTPStatus(status).name, response, lazy=True)


def _unsigned_id(converter: IntegerConverter) -> dict[str, Any]:
    """Our ids are PostgreSQL bigints; Flask's int converter takes no sign."""
    return {"type": "integer", "format": "int64", "minimum": 0}


@cache
def document() -> dict[str, Any]:
    """The document, built on an app of its own: Flask knows a route's URL
    and methods only once a blueprint is registered on an app, and the
    document must be had without the database the real app needs."""
    from web import api

    app = Flask(__name__)
    app.config.update(API_TITLE=TITLE, API_VERSION="1", OPENAPI_VERSION="3.1.0")
    spec_options = {"info": {"description": DESCRIPTION}, "servers": [{"url": "/"}], "security": [{"apiKey": []}]}
    docs = _Api(app, spec_kwargs={"flask_plugin": _Flask(), "marshmallow_plugin": _Marshmallow(), **spec_options})
    docs.register_converter(IntegerConverter, _unsigned_id)
    docs.spec.components.security_scheme("apiKey", SECURITY_SCHEME)
    docs.register_blueprint(api.blueprint)
    docs.register_blueprint(blueprint)
    result: dict[str, Any] = docs.spec.to_dict()
    return result


blueprint = Blueprint("openapi", __name__, url_prefix="/api/v1", description="This document, without a key")


@blueprint.get("/openapi.json")
@blueprint.response(200, {"type": "object"}, description="The OpenAPI document")
@blueprint.errors(400, keyed=False)
@blueprint.doc(security=[])
def openapi_document() -> ResponseReturnValue:
    """This document"""
    return jsonify(document())
