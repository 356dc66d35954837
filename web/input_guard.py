"""Control characters are refused wherever input arrives: query parameters,
the variable parts of a URL, form fields and the names of uploaded files
(docs/architecture.md#hostile-input).

PostgreSQL text cannot hold NUL, so a NUL that reached a query would be a
500; and no field of ours means any other control character. Refusing them
here, before any view runs, covers every form and route, including those
added later. The refusal is a 400 `invalid` naming the field, as JSON under
/api/ and as the error page elsewhere (web.errors); the value itself is
never repeated, as it may be a secret. TAB, CR and LF pass: a text area
holds them, and a `next` or a search pasted with them is only a value that
matches nothing (web.auth holds `next` to a path on this site).

The form is checked when it is parsed, whoever parses it (CSRFProtect, a
WTForms form or a view): checking it in a hook would parse the body of an
upload, which web.receive streams instead (and checks as it goes).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from flask import Flask, Request, request
from werkzeug.datastructures import FileStorage, ImmutableMultiDict, MultiDict

from shared.errors import InvalidValue

WHITESPACE = frozenset("\t\r\n")


def init_app(app: Flask) -> None:
    app.request_class = CheckedRequest
    app.before_request(_check_url)


def refuse_control_characters(what: str, items: Iterable[tuple[str, str]]) -> None:
    """Raise InvalidValue naming the first item whose name or value holds a
    control character (Unicode category Cc: C0, DEL and C1) other than TAB, CR and LF."""
    for name, value in items:
        for text in (name, value):
            found = next((c for c in text if c not in WHITESPACE and unicodedata.category(c) == "Cc"), None)
            if found is not None:
                raise InvalidValue(
                    f"the {what} {name!r} contains a control character (U+{ord(found):04X}), which no field takes;"
                    " remove it and send again"
                )


class CheckedRequest(Request):
    """A request whose form is refused, as a whole, if a field holds a
    control character."""

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return  # parsed, and checked, already
        super()._load_form_data()
        try:
            refuse_control_characters("form field", self.form.items(multi=True))
            refuse_control_characters("file name of the form field", _file_names(self.files))
        except InvalidValue:
            # Nothing downstream may read what was refused, even by accident.
            for file in self.files.values():
                file.close()
            self.__dict__["form"] = self.parameter_storage_class()
            self.__dict__["files"] = ImmutableMultiDict()
            raise


def _file_names(files: MultiDict[str, FileStorage]) -> Iterable[tuple[str, str]]:
    return ((name, file.filename or "") for name, file in files.items(multi=True))


def _check_url() -> None:
    refuse_control_characters("query parameter", request.args.items(multi=True))
    refuse_control_characters("URL part", ((name, str(value)) for name, value in (request.view_args or {}).items()))
