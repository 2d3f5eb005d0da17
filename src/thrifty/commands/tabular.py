"""What the series commands (``thrifty forecast``, ``thrifty anomalies``) share: reading the
input series, and writing rows as CSV or as an aligned table."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from thrifty.analytics.series import Series, read_series
from thrifty.errors import InvalidInput

_FLAGS = {"input": "--input", "time_col": "--time-col", "value_col": "--value-col"}


def read_input(
    path: str, time_col: str | None, value_col: str | None, *, otherwise: str | None = "--input"
) -> Series:
    """The series of ``path``; an error names the file and the flag to fix, or ``otherwise``
    (None: what the reader named, e.g. the column of a bad cell)."""
    try:
        return read_series(path, time_col=time_col, value_col=value_col)
    except InvalidInput as exc:
        message = exc.message if exc.message.startswith(path) else f"{path}: {exc.message}"
        named = {time_col: "--time-col", value_col: "--value-col"}
        field = _FLAGS.get(exc.field or "") or named.get(exc.field) or otherwise or exc.field
        raise InvalidInput(message, field=field) from None


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as CSV with a header; ``None`` is an empty cell."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return out.getvalue()


def aligned(header: Sequence[str], cells: Sequence[Sequence[str]]) -> str:
    """A right-aligned text table, two spaces between columns."""
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
    return "".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) + "\n"
        for line in [list(header), *cells]
    )
