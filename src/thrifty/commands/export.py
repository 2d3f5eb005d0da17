"""``thrifty export``: usage and cost as CSV or FinOps FOCUS 1.2, straight from the database.

``thrifty export --format focus --start 2026-11-01 --end 2026-12-01 [--team eng] [--output
FILE]`` writes what ``GET /api/v1/cost/export`` serves (rolling pending usage up first).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from thrifty.errors import InvalidInput

_FILTERS = (("org", "org_id"), ("team", "team_id"), ("user", "user_id"), ("key", "key_id"),
            ("model", "model"), ("provider", "provider"), ("task-type", "task_type"),
            ("tag", "tag"))  # fmt: skip


def _moment(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{field}: not an ISO 8601 date or time: {text!r}", field=field
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def run_export(args: argparse.Namespace) -> int:
    from thrifty.api.cost_analysis import check_tags
    from thrifty.api.exports import export_chunks
    from thrifty.settings import Settings
    from thrifty.storage import rollups
    from thrifty.storage.database import Database

    end = _moment(args.end, "--end") if args.end else datetime.now(UTC)
    start = _moment(args.start, "--start") if args.start else end - timedelta(days=30)
    if start >= end:
        raise InvalidInput("--start must be before --end", field="--start")
    scope = rollups.Scope(**{column: getattr(args, flag.replace("-", "_"))
                             for flag, column in _FILTERS})  # fmt: skip
    check_tags(scope, [])
    database = Database(args.database_url or Settings.from_env().database_url)
    try:
        database.migrate()
        database.write(rollups.catch_up)
        chunks = export_chunks(database, args.format, scope, start, end)
        if args.output:
            with open(args.output, "w", newline="", encoding="utf-8") as out:
                out.writelines(chunks)
        else:
            sys.stdout.writelines(chunks)
    finally:
        database.close()
    return 0


def add_commands(commands: Any) -> None:
    export = commands.add_parser("export", help="export usage and cost as CSV or FOCUS")
    export.add_argument(
        "--format", choices=("csv", "focus"), default="csv",
        help="csv: one row per request; focus: FOCUS 1.2 daily charges",
    )  # fmt: skip
    export.add_argument("--start", help="ISO 8601 date or time (default: 30 days before --end)")
    export.add_argument("--end", help="ISO 8601 date or time, exclusive (default: now)")
    for flag, _column in _FILTERS:
        export.add_argument(f"--{flag}", help=f"only this {flag.replace('-', ' ')}")
    export.add_argument("--output", help="file to write (default: standard output)")
    export.add_argument("--database-url", help="database (THRIFTY_DATABASE_URL)")
    export.set_defaults(run=run_export)
