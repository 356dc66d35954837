"""Receiving an upload: the multipart body is parsed as it arrives and the
file part is written straight into PostgreSQL (shared.storage).

Werkzeug's ordinary form parsing would spool a large file to a temporary
file on the local disk; web and worker may run on different hosts, and a
half-received file must leave nothing behind, so we parse with its sans-IO
decoder instead. Everything happens in the caller's transaction: a client
that hangs up mid-upload leaves no bytes stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Request
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnsupportedMediaType
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from shared.storage import BlobWriter, StoredFile
from web.input_guard import refuse_control_characters

READ_BYTES = 256 * 1024
# The decoder holds one read plus what it could not parse yet (part headers).
MAX_BUFFER_BYTES = 2 * READ_BYTES
MAX_FIELD_BYTES = 1024
# An upload has a file and a few fields; more parts than this is not one.
MAX_PARTS = 16
FILE_FIELD = "file"


@dataclass
class ReceivedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    stored: StoredFile | None = None


class _Receiver:
    def __init__(self, session: Session, max_file_bytes: int) -> None:
        self._session = session
        self._max_file_bytes = max_file_bytes
        self._writer: BlobWriter | None = None
        self._field: str | None = None
        self._value = bytearray()
        self.upload = ReceivedUpload()

    def finish(self) -> ReceivedUpload:
        if self._writer is not None:  # a file part that ended without a final piece (an empty file)
            self.upload.stored = self._writer.finish()
            self._writer = None
        return self.upload

    def handle(self, event: object) -> None:
        if isinstance(event, File):
            self._field = None
            # The form's rule (web.input_guard), applied as the stream passes: a field or file name
            # with a control character refuses the upload before its file is stored.
            refuse_control_characters("file name of the form field", [(event.name, event.filename)])
            if event.name == FILE_FIELD and self._writer is None and self.upload.stored is None:
                self._writer = BlobWriter(self._session)
                self.upload.filename = event.filename or ""
        elif isinstance(event, Field):
            self._field, self._value = event.name, bytearray()
        elif isinstance(event, Data):
            self._data(event)

    def _data(self, event: Data) -> None:
        if self._writer is not None:
            self._writer.write(event.data)
            if self._writer.size_bytes > self._max_file_bytes:
                raise RequestEntityTooLarge()
            if not event.more_data:
                self.upload.stored = self._writer.finish()
                self._writer = None
        elif self._field is not None:
            self._value += event.data
            if len(self._value) > MAX_FIELD_BYTES:
                raise BadRequest(f"the form field {self._field!r} is too long")
            if not event.more_data:
                value = self._value.decode("utf-8", "replace")
                refuse_control_characters("form field", [(self._field, value)])
                self.upload.fields[self._field] = value
                self._field = None


def receive_upload(request: Request, session: Session, max_file_bytes: int) -> ReceivedUpload:
    """Parse the multipart body, storing the part named `file`; a body that
    is not multipart has no file."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # Decompressing would let a small body become an endless one.
        raise UnsupportedMediaType(
            f"compressed request bodies (Content-Encoding: {encoding}) are not accepted; send the file as it is"
        )
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    if mimetype != "multipart/form-data" or not options.get("boundary"):
        return ReceivedUpload()  # no file part: the caller says how to send one
    # The decoder's buffer is bounded, so a body of endless headers is refused.
    decoder = MultipartDecoder(options["boundary"].encode(), max_form_memory_size=MAX_BUFFER_BYTES, max_parts=MAX_PARTS)
    receiver = _Receiver(session, max_file_bytes)
    stream = request.stream
    while True:
        chunk = stream.read(READ_BYTES)
        _receive(decoder, chunk or None)
        _drain(decoder, receiver)
        if not chunk:
            break
    return receiver.finish()


def _receive(decoder: MultipartDecoder, chunk: bytes | None) -> None:
    try:
        decoder.receive_data(chunk)
    except RequestEntityTooLarge:
        # What the decoder could not parse yet outgrew its buffer: a part header
        # that never ends. The body's shape is wrong, not the file's size.
        raise BadRequest(
            f"a multipart part header (or the text before the first part) is over the limit of"
            f" {MAX_BUFFER_BYTES // 1024} KB; send the file and the form fields with ordinary headers"
        ) from None


def _drain(decoder: MultipartDecoder, receiver: _Receiver) -> None:
    event = _next_event(decoder)
    while not isinstance(event, NeedData | Epilogue):
        receiver.handle(event)
        event = _next_event(decoder)


def _next_event(decoder: MultipartDecoder) -> object:
    try:
        return decoder.next_event()
    except RequestEntityTooLarge:
        # The decoder's limit on the body's shape, not the file's size:
        # "file too large" would send the publisher splitting a small file.
        raise BadRequest(
            f"the multipart body has more than {MAX_PARTS} parts; send the file and the form fields only"
        ) from None
    except ValueError as error:  # the decoder's word for a malformed body
        raise BadRequest(f"the multipart body is malformed: {error}") from None
