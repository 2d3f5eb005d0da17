"""CSV text to a header and rows whose cells are read with the row and column in every error.

Accepts what provider exports and spreadsheets produce: a UTF-8 byte-order mark, CRLF line
ends, blank lines (skipped, but counted so row numbers stay those of the file), a tab instead
of a comma when the header has tabs and no commas. Column names match case-insensitively and
ignoring surrounding spaces; unknown columns are ignored by the layouts, duplicated ones
refused. Row 1 is the first record after the header (line 2 of a file without quoted line
breaks).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from thrifty.errors import InvalidInput
from thrifty.reconcile.cells import CellError, parse_count, parse_day, parse_usd_nano

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Header:
    """The header row: each column's name as written, and its position by normalised name."""

    names: tuple[str, ...]
    positions: dict[str, int]

    def has(self, *names: str) -> bool:
        """Whether any of ``names`` is a column."""
        return any(normalise(name) in self.positions for name in names)

    def first(self, *names: str) -> str | None:
        """The first of ``names`` that is a column (normalised), or ``None``."""
        return next((normalise(n) for n in names if normalise(n) in self.positions), None)


@dataclass(frozen=True, slots=True)
class Row:
    """One data row. Readers take the column names to try, in order; the first present wins."""

    number: int
    header: Header
    cells: tuple[str, ...]

    def text(self, *names: str) -> str | None:
        """The stripped text of the first present column of ``names``; ``None`` when empty."""
        column = self.header.first(*names)
        if column is None:
            return None
        value = self.cells[self.header.positions[column]].strip()
        return value or None

    def count(self, *names: str) -> int | None:
        return self._read(names, parse_count)

    def day(self, *names: str) -> date | None:
        return self._read(names, parse_day)

    def usd_nano(self, *names: str, minor_units: bool = False) -> int | None:
        return self._read(names, lambda text: parse_usd_nano(text, minor_units=minor_units))

    def is_empty(self, *names: str) -> bool:
        """Whether every one of ``names`` is absent or empty."""
        return all(self.text(name) is None for name in names)

    def error(self, name: str, reason: str) -> InvalidInput:
        """An ``InvalidInput`` naming this row and the column ``name`` as the file spells it."""
        position = self.header.positions.get(normalise(name))
        spelled = name if position is None else self.header.names[position]
        return InvalidInput(f'row {self.number}, column "{spelled}": {reason}', field=spelled)

    def _read(self, names: Sequence[str], parse: Callable[[str], T]) -> T | None:
        text = self.text(*names)
        if text is None:
            return None
        try:
            return parse(text)
        except CellError as error:
            column = self.header.first(*names)
            assert column is not None  # text was found in it
            raise self.error(column, str(error)) from None


def normalise(name: str) -> str:
    return name.strip().lower()


def read_table(text: str) -> tuple[Header, Iterator[Row]]:
    """The header of CSV ``text`` and an iterator over its non-blank rows.

    Raises ``InvalidInput`` for an empty file, a duplicated column, a row whose number of cells
    differs from the header's, or text the CSV reader cannot parse (naming the row).
    """
    if not isinstance(text, str):
        raise TypeError(f"read_table expects str, not {type(text).__name__}")
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        names = next(reader, None)
        while names is not None and not any(cell.strip() for cell in names):
            names = next(reader, None)
    except csv.Error as error:
        raise InvalidInput(f"header: not CSV ({error})", field="header") from None
    if names is None:
        raise InvalidInput("the file is empty: expected a header row", field="header")
    positions: dict[str, int] = {}
    for position, name in enumerate(names):
        key = normalise(name)
        if not key:
            continue
        if key in positions:
            raise InvalidInput(f'header: column "{name.strip()}" appears twice', field="header")
        positions[key] = position
    header = Header(tuple(name.strip() for name in names), positions)
    return header, _rows(reader, header)


def _rows(reader: Iterator[list[str]], header: Header) -> Iterator[Row]:
    number = 0
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as error:
            raise InvalidInput(f"row {number + 1}: not CSV ({error})", field="file") from None
        if cells is None:
            return
        number += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header.names):
            raise InvalidInput(
                f"row {number}: {len(cells)} cells, but the header has {len(header.names)}"
                " (a value with a comma must be quoted)",
                field="file",
            )
        yield Row(number, header, tuple(cells))
