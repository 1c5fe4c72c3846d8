"""CPU time of processes, read from /proc (Linux), for benchmarks that say where a
workload's time went: in the worker processes, in their PostgreSQL backends, in a fake
provider."""

import os

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User and system time of a process so far; with `reaped`, also that of its
    children that have exited (a pool replaces its processes now and then). 0 once the
    process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def tree_cpu_seconds(pid: int) -> float:
    """A process and its descendants, living or reaped."""
    return cpu_seconds(pid, reaped=True) + sum(tree_cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    children = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as listing:
                children += [int(child) for child in listing.read().split()]
        except OSError:
            continue
    return children


class BackendCpu:
    """CPU of the PostgreSQL backends serving one database, except the caller's own.
    Backends come and go (workers reconnect every CELERY_DB_REUSE_MAX tasks), so each
    is remembered at its last reading: call `sample()` often."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._seen: dict[int, float] = {}

    def sample(self) -> float:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.database],
            )
            for (pid,) in cursor.fetchall():
                self._seen[pid] = max(self._seen.get(pid, 0.0), cpu_seconds(pid))
        return sum(self._seen.values())
