"""What the client prints about a request (an upload or a generation): its
state, its counts and, when rejected, every problem it was told of with its line."""

from __future__ import annotations

from typing import Any

from client.errors import EXIT_OK, EXIT_PENDING, EXIT_REJECTED

DECIDED = frozenset({"completed", "rejected"})
# The server's error report keeps the problems of this many lines, the
# lowest (docs/product.md#what-a-rejected-request-says); the client imports
# nothing of the server, so the figure is written here.
REPORTED_PROBLEMS = 10_000


def exit_status(upload: dict[str, Any]) -> int:
    return {"completed": EXIT_OK, "rejected": EXIT_REJECTED}.get(upload["status"], EXIT_PENDING)


def kind_of(upload: dict[str, Any]) -> str:
    """`upload` or `generation`, as the messages name the request."""
    return "generation" if upload.get("kind") == "generation" else "upload"


def details(upload: dict[str, Any]) -> list[str]:
    """The request's fields that a publisher asks about, one a line."""
    fields = [
        ("status", upload["status"]),
        ("product", upload["product_id"]),
        _what(upload),
        ("code type", upload["code_type"] + (", dry run" if upload["dry_run"] else "")),
        ("created", upload["created_at"]),
        ("started", upload["started_at"]),
        ("finished", upload["finished_at"]),
        ("deadline", upload["deadline_at"]),
        ("codes", upload["code_count"]),
        ("problems", upload["error_count"]),
    ]
    if upload.get("progress"):  # processing: how far the Code Generator has got
        lines, percent = upload["progress"]["lines_checked"], upload["progress"]["percent"]
        fields.append(("checked", f"{lines:,} line{'s' if lines != 1 else ''}, {percent}% of the file"))
    shown = [f"  {name + ':':<11}{'-' if value is None else value}" for name, value in fields]
    return [f"{kind_of(upload)} {upload['id']}", *shown]


def _what(upload: dict[str, Any]) -> tuple[str, str]:
    """The file uploaded, or what a generation makes."""
    made = upload.get("generation")
    if made is None:
        return "file", f"{upload['filename']} ({upload['format']}, {upload['size_bytes']} bytes)"
    shape = made["format"]
    layout = f"{shape['length']} characters of {shape['alphabet']}, groups of {shape['group']}"
    layout += f", prefix {shape['prefix']!r}"
    return "generate", f"{made['quantity']:,} codes ({layout})"


def verdict(upload: dict[str, Any]) -> list[str]:
    """The end of the story: codes stored, problems found, or still waiting."""
    status = upload["status"]
    if status == "completed":
        return _completed(upload)
    if status == "rejected":
        return _rejected(upload)
    return [f"{kind_of(upload)} {upload['id']} is still {status}; its deadline is {upload['deadline_at']}"]


def _completed(upload: dict[str, Any]) -> list[str]:
    if not upload["dry_run"]:
        return [f"{kind_of(upload)} {upload['id']} completed: {upload['code_count']:,} codes stored"]
    would = "made" if kind_of(upload) == "generation" else "stored"
    lines = [f"dry run {upload['id']} completed: {upload['code_count']:,} codes would be {would}; nothing was stored"]
    for name, value in (upload.get("summary") or {}).items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        lines.append(f"  {name}: {shown}")
    return lines


def _rejected(upload: dict[str, Any]) -> list[str]:
    errors, count = upload["errors"] or [], upload["error_count"] or 0
    # The reason is the first problem again: with problems listed, a count says more.
    why = f"{count:,} problem{'s' if count != 1 else ''}" if errors else upload["reason"] or upload["reason_code"]
    lines = [f"upload {upload['id']} rejected, nothing was stored: {why}"]
    lines += [_problem(error) for error in errors]
    if count > len(errors):
        which = "every one is" if count <= REPORTED_PROBLEMS else f"the first {REPORTED_PROBLEMS:,} by line are"
        lines.append(
            f"... and {count - len(errors):,} more ({count:,} problems in all); {which} in the report: "
            f"licensecodes download {upload['id']} --errors -o errors-{upload['id']}.csv"
        )
    return lines


def _problem(error: dict[str, Any]) -> str:
    message = str(error["message"])
    # The messages of the file formats already begin with their line.
    if error.get("line") and not message.startswith(f"line {error['line']}:"):
        message = f"line {error['line']}: {message}"
    return f"  {message} [{error['reason_code']}]"
