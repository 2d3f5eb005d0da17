"""Process-local caches of database state, invalidated across processes by version rows.

A writer bumps ``cache_versions[name]`` in the same transaction as its change. Each process
keeps its snapshot and checks the version in the background every second, so a change made by
one worker is seen by every other within about a second (and at once by the writer).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from thrifty.storage.schema import cache_versions

T = TypeVar("T")


def bump_version(conn: Connection, name: str) -> None:
    result = conn.execute(
        update(cache_versions)
        .where(cache_versions.c.name == name)
        .values(version=cache_versions.c.version + 1)
    )
    if result.rowcount == 0:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(
            dialect.insert(cache_versions)
            .values(name=name, version=1)
            .on_conflict_do_update(
                index_elements=["name"], set_={"version": cache_versions.c.version + 1}
            )
        )


def read_version(conn: Connection, name: str) -> int:
    value = conn.execute(
        select(cache_versions.c.version).where(cache_versions.c.name == name)
    ).scalar()
    return int(value or 0)


class VersionedCache(Generic[T]):
    """Holds one snapshot built by ``load``; ``refresh`` rebuilds it when the version moved.

    ``get`` never does I/O once loaded: the app refreshes every cache in a background task,
    and a process that writes refreshes at once after its own change.
    """

    def __init__(
        self,
        name: str,
        read: Callable[[Callable[[Connection], object]], object],
        load: Callable[[Connection], T],
    ) -> None:
        self.name = name
        self._read = read
        self._load = load
        self._lock = threading.Lock()
        self._version = -1
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        return value if value is not None else self.refresh()

    def refresh(self, *, force: bool = False) -> T:
        with self._lock:
            version = self._read(lambda conn: read_version(conn, self.name))
            if force or self._value is None or version != self._version:
                self._version, self._value = self._read(self._versioned_load)  # type: ignore[misc]
            assert self._value is not None
            return self._value

    def _versioned_load(self, conn: Connection) -> tuple[int, T]:
        return read_version(conn, self.name), self._load(conn)
