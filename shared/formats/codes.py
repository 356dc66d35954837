"""The rules for a license code (docs/product.md#the-txt-format), shared by the TXT and the
CSV format: 1 to 128 characters, no whitespace or control characters, the
first a letter or a digit (so that no code can act as a spreadsheet formula
once downloaded), and the product's prefix when it has one.

The checks take the decoded code. "Control characters" are read broadly, so
that a code looks like what it is: Unicode controls (Cc), invisible format
characters (Cf: the soft hyphen, zero-width spaces, direction overrides) and
every kind of whitespace. On a Windows-1252 text that is exactly the set the
TXT format has always refused, given that the TXT reader hands over its byte
0x85 (a line break in Latin-1, '…' in Windows-1252) as U+0085.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from shared.models import MAX_CODE_LENGTH

Failure = tuple[str, str]  # (reason_code, message after "line N: ")

_SHOWN = 40  # characters of a value quoted in a message
# The common good code: printable ASCII only, so no character needs a look-up.
_PLAIN = re.compile(rf"[0-9A-Za-z][!-~]{{0,{MAX_CODE_LENGTH - 1}}}")
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
CHARACTER_NAMES: Mapping[str, str] = {
    " ": "whitespace",
    "\x85": "a NEL line break (\\x85)",
    "\xa0": "a non-breaking space (\\xa0)",
}


def code_failure(code: str, prefix: str | None = None) -> Failure | None:
    """What is wrong with `code` for a product with `prefix`: None when it is
    good, else (reason_code, message tail), the reason `format` or
    `prefix_missing`."""
    failure = format_failure(code)
    if failure is not None:
        return "format", failure
    return prefix_failure(code, prefix)


def format_failure(code: str, names: Mapping[str, str] = CHARACTER_NAMES) -> str | None:
    """The message tail when `code` breaks a rule of its own (any product);
    `names` words the forbidden characters that deserve a name."""
    if _PLAIN.fullmatch(code):
        return None
    if not code:
        return "the code is empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"the code {shown(code)} is {len(code)} characters long; at most {MAX_CODE_LENGTH}"
    forbidden = next((char for char in code if is_forbidden(char)), None)
    if forbidden is not None:
        what = names.get(forbidden) or describe(forbidden)
        return f"the code {shown(code)} contains {what}; codes may not contain spaces, tabs or control characters"
    if not code[0].isalnum():
        return f"the code {shown(code)} starts with {shown(code[0])}; it must start with a letter or a digit"
    return None


def windows_1252_failure(code: str) -> str | None:
    """A code read from UTF-8 (CSV) must fit the download, which is
    Windows-1252 like the TXT format (docs/product.md#the-download)."""
    if code.isascii():
        return None
    try:
        code.encode("cp1252")
    except UnicodeEncodeError as error:
        char = code[error.start]
        return (
            f"the code {shown(code)} contains {shown(char)} (U+{ord(char):04X}), which the downloaded codes file "
            "(Windows-1252 text) cannot hold"
        )
    return None


def prefix_failure(code: str, prefix: str | None) -> Failure | None:
    if prefix and not code.startswith(prefix):
        return "prefix_missing", f"the code {shown(code)} does not start with the prefix '{prefix}'"
    return None


def shown(text: str) -> str:
    """A value quoted for a message: shortened, invisible characters escaped
    (a message never carries a control character, whatever the file held)."""
    text = text[: _SHOWN + 1]
    if len(text) > _SHOWN:
        return "'" + _escaped(text[: _SHOWN - 1]) + "…'"
    return "'" + _escaped(text) + "'"


def _escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def is_forbidden(char: str) -> bool:
    """Whether a code may never hold `char`: whitespace, a control or an invisible character."""
    return char.isspace() or unicodedata.category(char) in _INVISIBLE


def describe(char: str) -> str:
    """A forbidden character in words, escaped: "whitespace (\\u2028)"."""
    if ord(char) < 0x100:  # the words the TXT format has always used
        return f"a control character ({_escape(char)})"
    if char.isspace() or unicodedata.category(char) == "Zs":
        return f"whitespace ({_escape(char)})"
    return f"an invisible character ({_escape(char)})"
