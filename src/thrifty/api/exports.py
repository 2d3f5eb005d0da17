"""``GET /api/v1/cost/export?format=csv|focus``: usage records as CSV, or daily charges in the
FinOps FOCUS 1.2 format (``analytics.export``), streamed; the range and filters are those of
the cost-analysis endpoints, and a key exports what it may see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlalchemy import Connection

from thrifty.analytics import export
from thrifty.analytics.costs import Granularity, period_start
from thrifty.api.auth import CallerDep
from thrifty.api.cost_analysis import WindowDep, caught_up, check_tags
from thrifty.storage import exports_repo
from thrifty.storage.database import Database
from thrifty.storage.rollups import Scope

router = APIRouter(prefix="/api/v1", tags=["exports"])
BATCH = 5_000
Reader = Callable[
    [Connection, Scope, datetime, datetime, int, int], tuple[list[dict[str, Any]], int | None]
]


def export_chunks(
    database: Database, kind: str, scope: Scope, start: datetime, end: datetime
) -> Iterator[str]:
    """The export's CSV text in chunks, read a batch at a time (each its own transaction)."""
    reader: Reader
    if kind == "focus":
        reader, row, columns = exports_repo.day_sums, export.focus_row, export.FOCUS_COLUMNS
        start = period_start(start, Granularity.DAY)
    else:
        reader, row, columns = exports_repo.records, export.csv_row, export.CSV_COLUMNS

    def rows() -> Iterator[dict[str, Any]]:
        after: int | None = 0
        while after is not None:
            batch, after = database.read(
                lambda conn, a=after: reader(conn, scope, start, end, a, BATCH)
            )
            yield from (row(item) for item in batch)

    return export.write_csv(columns, rows())


@router.get("/cost/export", summary="Usage and cost as CSV or FinOps FOCUS")
async def cost_export(
    caller: CallerDep, window: WindowDep, format: Literal["csv", "focus"] = "csv"
) -> StreamingResponse:
    check_tags(window.scope, [])
    await caught_up(caller.state.database)
    chunks = export_chunks(caller.state.database, format, window.scope, window.start, window.end)
    name = f"thrifty-{format}-{window.start:%Y%m%d}-{window.end:%Y%m%d}.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
