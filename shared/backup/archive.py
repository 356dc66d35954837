"""The backup file: an uncompressed tar of three members, in this order,

    manifest.json   what the backup holds: its format, the schema revision,
                    when it was taken, the rows it holds (for the restore's
                    progress)
    secret_key      the key the server signs API keys and sessions with
    database.dump   pg_dump's custom format (compressed by pg_dump)

so that `tar -tvf` lists it and PostgreSQL's own tools restore the dump.
The dump is streamed into the file as pg_dump writes it: its tar header is
written again with the real size once it is done, so a backup needs no
second copy of itself on disk. The file is written beside its final name
and renamed into place only when whole, readable by its owner alone: it
holds every license code and the secret key."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from shared.errors import BackupError

FORMAT = "licensecodes-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SECRET_KEY = "secret_key"
DUMP = "database.dump"
_BLOCK = tarfile.BLOCKSIZE


@dataclasses.dataclass(frozen=True)
class Manifest:
    schema_revision: str
    created_at: str  # ISO 8601 UTC
    server_version: str
    rows: int  # about: the restore's progress counts towards it
    codes: int
    requests: int

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **dataclasses.asdict(self)}).encode()

    @classmethod
    def from_json(cls, raw: bytes, path: Path) -> Manifest:
        try:
            fields: dict[str, Any] = json.loads(raw)
            if fields.pop("format") != FORMAT:
                raise ValueError("not our format")
            version = fields.pop("format_version")
            if version != FORMAT_VERSION:
                raise BackupError(f"{path} is a backup of format {version}; this licensecodes reads {FORMAT_VERSION}")
            return cls(**fields)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise BackupError(f"{path} is not a licensecodes backup: its manifest is unreadable ({error})") from None


def _header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(time.time())
    header = info.tobuf(format=tarfile.GNU_FORMAT)  # sizes past 8 GB in the header's base-256 form
    assert len(header) == _BLOCK, "a member's header is one block"
    return header


def _pad(size: int) -> bytes:
    return b"\0" * (-size % _BLOCK)


def _member(name: str, data: bytes) -> bytes:
    return _header(name, len(data)) + data + _pad(len(data))


@contextlib.contextmanager
def writing(path: Path, manifest: Manifest, secret_key: str) -> Iterator[BinaryIO]:
    """A file to stream the dump into; the backup is whole at `path` once
    the block ends without an exception, and absent otherwise."""
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(_member(MANIFEST, manifest.to_json()) + _member(SECRET_KEY, secret_key.encode()))
            dump_header_at = out.tell()
            out.write(b"\0" * _BLOCK)
            out.flush()
            # The dump goes in through a descriptor of its own: pg_dump sets
            # flags on the one it writes to (O_APPEND), which would move
            # every later write of the header to the end of the file.
            with open(partial, "r+b") as dump:
                dump.seek(dump_header_at + _BLOCK)
                yield dump
                size = dump.seek(0, os.SEEK_END) - dump_header_at - _BLOCK
            out.seek(0, os.SEEK_END)
            out.write(_pad(size) + b"\0" * (2 * _BLOCK))  # the end of the archive
            out.seek(dump_header_at)
            out.write(_header(DUMP, size))
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@dataclasses.dataclass
class Backup:
    """A backup file opened for restoring."""

    path: Path
    manifest: Manifest
    secret_key: str
    _tar: tarfile.TarFile

    @contextlib.contextmanager
    def dump(self) -> Iterator[IO[bytes]]:
        member = self._tar.extractfile(DUMP)
        assert member is not None
        with member:
            yield member


@contextlib.contextmanager
def reading(path: Path) -> Iterator[Backup]:
    """Open a backup, checking that it is one and whole before anything is restored."""
    if not path.is_file():
        raise BackupError(f"there is no backup file {path}")
    try:
        tar = tarfile.open(path, "r:")
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"{path} is not a licensecodes backup: {error}") from None
    with tar:
        try:
            members = {member.name: member for member in tar.getmembers()}
        except (tarfile.TarError, OSError) as error:
            raise BackupError(f"{path} is damaged or cut short: {error}") from None
        missing = [name for name in (MANIFEST, SECRET_KEY, DUMP) if name not in members]
        if missing:
            raise BackupError(f"{path} is not a licensecodes backup: it has no {', '.join(missing)}")
        dump = members[DUMP]
        if dump.offset_data + dump.size > path.stat().st_size:
            raise BackupError(f"{path} is cut short: its dump ends past the end of the file")
        manifest = Manifest.from_json(_read(tar, MANIFEST), path)
        secret_key = _read(tar, SECRET_KEY).decode()
        yield Backup(path, manifest, secret_key, tar)


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    assert member is not None
    with member:
        return member.read()
