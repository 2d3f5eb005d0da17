"""Hand-written SQL for the hot path, run through the driver without SQLAlchemy's compiler.

The ledger runs a dozen small statements per request; building and compiling each with the
SQL expression language costs more than the database work itself. A ``Sql`` is written once
with ``:name`` parameters and executed as is on SQLite, or with ``%(name)s`` on PostgreSQL.
Values cross this seam in storage form: SQLite keeps times as UTC text, so ``stored_time`` and
``read_time`` convert in the same format that ``types.UTCDateTime`` uses.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_NAME = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Sql:
    __slots__ = ("postgres", "sqlite")

    def __init__(self, text: str) -> None:
        self.sqlite = text
        self.postgres = _NAME.sub(r"%(\1)s", text)

    def __call__(
        self, conn: Connection, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = ()
    ) -> Rows:
        """Run on the transaction's own DB-API connection, read every row at once.

        SQLAlchemy's result machinery costs about 100 µs a statement, several times the
        statement itself on SQLite; driver errors are wrapped as SQLAlchemy's (so callers see
        ``OperationalError`` and friends, and a broken connection is invalidated as usual)."""
        text = self.sqlite if conn.dialect.name == "sqlite" else self.postgres
        cursor = conn.connection.cursor()
        try:
            if isinstance(params, Mapping):
                cursor.execute(text, dict(params))
            elif params:
                cursor.executemany(text, [dict(p) for p in params])
            else:
                cursor.execute(text)
            description = cursor.description
            if not description:
                return Rows(cursor.rowcount, [])
            row = _row_type(tuple(column[0] for column in description))
            return Rows(cursor.rowcount, [row(*values) for values in cursor.fetchall()])
        except conn.dialect.loaded_dbapi.Error as exc:
            disconnected = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
            if disconnected:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                text, params, exc, conn.dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected, dialect=conn.dialect,
            ) from exc  # fmt: skip
        finally:
            cursor.close()


class Rows:
    """The rows of one statement (a light stand-in for SQLAlchemy's ``CursorResult``)."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def all(self) -> list[Any]:
        return list(self._rows)


@lru_cache(maxsize=1024)
def _row_type(names: tuple[str, ...]) -> type:
    """A named tuple type for rows of these columns, with SQLAlchemy's ``_mapping``."""
    base = namedtuple("Row", names, rename=True)  # type: ignore[misc]

    class Row(base):  # type: ignore[valid-type,misc]
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(self._asdict())

    return Row


_CACHE: dict[str, Sql] = {}


def cached(text: str) -> Sql:
    """The ``Sql`` for ``text``, built once (for statements whose text depends on a count)."""
    statement = _CACHE.get(text)
    if statement is None:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        statement = _CACHE[text] = Sql(text)
    return statement


def pairs(prefix: str, values: Sequence[tuple[str, int]]) -> tuple[str, dict[str, Any]]:
    """``((:p_b0, :p_w0), …)`` and its parameters, for ``(budget_id, window_index) IN …``."""
    names = ", ".join(f"(:{prefix}b{i}, :{prefix}w{i})" for i in range(len(values)))
    params: dict[str, Any] = {}
    for i, (budget_id, window) in enumerate(values):
        params[f"{prefix}b{i}"] = budget_id
        params[f"{prefix}w{i}"] = window
    return f"({names})", params


def items(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``(:p0, :p1, …)`` and its parameters, for ``column IN …``."""
    names = ", ".join(f":{prefix}{i}" for i in range(len(values)))
    return f"({names})", {f"{prefix}{i}": value for i, value in enumerate(values)}


def stored_time(conn: Connection, value: datetime | None) -> Any:
    if value is None:
        return None
    value = value.astimezone(UTC)
    return value.strftime(_SQLITE_TIME) if conn.dialect.name == "sqlite" else value


def read_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.strptime(value, _SQLITE_TIME).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def stored_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def read_json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value
