"""What can go wrong for the client, each with the exit status that scripts
rely on (the table is in EXIT_STATUS_HELP and docs/cli.md).

    ClickException
     └── ClientError               3: cannot talk to the server as asked
          ├── RateLimited          3: too many calls (the waiting loop retries)
          └── Refused              1: the server said no to this file or request
"""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2  # click's own, for a bad option or a missing file
EXIT_SERVER = 3
EXIT_PENDING = 4

EXIT_STATUS_HELP = """\b
Exit status:
  0  done: completed (upload or generate --wait, status), accepted (upload,
     generate), downloaded, codes taken or taken before for the reference
     (take), stock read
  1  rejected, or refused at once (empty file, too large, not completed yet;
     generate: a bad value or a format too weak; take: too few codes available, the reference names another take, the
     reference's codes released, expired or revoked, a bad value)
  2  usage error: a bad option, a file that cannot be read, no API key
  3  no answer from the server: connection refused or timed out, a bad API
     key (401/403), an unknown product or upload (404), a server error (5xx)
  4  still queued or processing (status; upload or generate --wait when
     --timeout ran out); take: backordered, its codes not there yet
"""


class ClientError(click.ClickException):
    exit_code = EXIT_SERVER


class RateLimited(ClientError):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Refused(ClientError):
    exit_code = EXIT_REJECTED
