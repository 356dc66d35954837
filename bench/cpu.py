"""The CPU time a `licensecodes serve` spends, by role, between two moments:
where a measurement's time went on a machine its own client shares.

The web and worker processes are serve's children (bench.sampler finds
them); PostgreSQL and Redis, started by serve and left running on their
own, are found by their data directory on their command line."""

from __future__ import annotations

from pathlib import Path

import psutil

from bench.sampler import processes_of

ROLES = ("web", "worker", "postgres", "redis")
Snapshot = dict[int, tuple[str, float]]  # pid: (role, CPU seconds so far)


def snapshot(serve_pid: int, data_dir: Path) -> Snapshot:
    """Each process of the service: its role and the CPU seconds (user and
    system) it has used since it started."""
    found: dict[int, tuple[str, psutil.Process]] = {}
    for role in ("web", "worker"):
        found |= {process.pid: (role, process) for process in processes_of(serve_pid, role)}
    for process in psutil.process_iter(["cmdline"]):
        role = _server_role(process.info["cmdline"] or [], data_dir)
        if role is not None:
            found |= {p.pid: (role, p) for p in (process, *_children(process))}
    times: Snapshot = {}
    for pid, (role, process) in found.items():
        try:
            used = process.cpu_times()
        except psutil.Error:  # it ended meanwhile
            continue
        times[pid] = (role, used.user + used.system)
    return times


def used_between(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """CPU seconds by role from `before` to `after`; a process that started
    in between counts from zero, one that ended in between is lost."""
    used = dict.fromkeys(ROLES, 0.0)
    for pid, (role, seconds) in after.items():
        used[role] += seconds - before.get(pid, (role, 0.0))[1]
    return used


def _server_role(cmdline: list[str], data_dir: Path) -> str | None:
    """postgres (the postmaster, started with -D <data dir>/postgres) or redis."""
    text = " ".join(cmdline)
    if f"-D {data_dir / 'postgres'}" in text:
        return "postgres"
    if "redis-server" in text and str(data_dir) in text:
        return "redis"
    return None


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return list(process.children(recursive=True))
    except psutil.Error:
        return []
