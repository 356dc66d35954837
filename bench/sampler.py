"""Samples the resident memory of a `licensecodes serve`'s processes, by
role, until a line arrives on stdin; prints the peaks as JSON. Run by
bench.service.MemoryPeaks in a process of its own."""

from __future__ import annotations

import json
import select
import sys

import psutil

ROLES = ("web", "worker")


def processes_of(serve_pid: int, role: str) -> list[psutil.Process]:
    """The processes of a role: web (gunicorn), or worker (both pools), with their descendants."""
    found = []
    for child in psutil.Process(serve_pid).children():
        try:
            if child.cmdline()[2:4] == [role, role]:  # python -m web web, python -m worker worker
                found += [child, *child.children(recursive=True)]
        except psutil.Error:  # it ended meanwhile
            continue
    return found


def main(serve_pid: int) -> None:
    peaks = dict.fromkeys(ROLES, 0)
    while not select.select([sys.stdin], [], [], 0.02)[0]:
        for role in ROLES:
            for process in processes_of(serve_pid, role):
                try:
                    peaks[role] = max(peaks[role], process.memory_info().rss)
                except psutil.Error:
                    pass
    print(json.dumps(peaks))


if __name__ == "__main__":
    main(int(sys.argv[1]))
