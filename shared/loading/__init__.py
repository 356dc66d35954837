"""The loader: how the Code Generator decides one claimed request, an upload or a generation.

    job.py                the request, its products' rules and its reader; the per-request maximum
    generated.py          a generation request's codes made, stored and their collisions replaced
    load.py               decide(): the stages stage → check → store → decide, in one screen
    feed.py               the reader's items as COPY rows; problems counted, the first 10,000 kept
    staging.py            the staging table and the set-based SQL on it
    store.py              the insert, the duplicate queries, a dry run's summary
    foreign.py            other publishers' codes in a file, and the daily budget of naming them
    prepared_download.py  a TXT request's download, written while the file is read
    lease.py              keeping the claim alive; writing progress
    progress.py           how far a run has got, as the lease thread and the screens read it

docs/architecture.md#the-life-of-an-upload follows one request through them.
"""

from __future__ import annotations

from shared.loading.load import decide

__all__ = ["decide"]
