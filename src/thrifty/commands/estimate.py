"""``thrifty estimate --input requests.jsonl``: estimate many requests offline, with totals."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from thrifty.api.responses import money
from thrifty.api.schemas import ChatRequestBody
from thrifty.app import load_registry, prepare_database, utc_now
from thrifty.config.loader import load_config
from thrifty.errors import InvalidInput, ThriftyError
from thrifty.routing.estimates import ModelTotal, accumulate, cheapest_fit, estimate_across
from thrifty.settings import Settings
from thrifty.storage.database import Database


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text("utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}", field="--input") from None


def _parse(line: str, number: int, path: str) -> ChatRequestBody:
    try:
        return ChatRequestBody.model_validate_json(line)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        raise InvalidInput(f"{path}:{number}: {where}: {first['msg']}", field=where) from None


def run_estimate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    loaded = load_config(args.config or settings.config)
    database = Database(args.database_url or settings.database_url)
    try:
        now = utc_now()
        prepare_database(database, loaded, now)
        registry = load_registry(database).refresh()
    finally:
        database.close()
    alternatives = [m.strip() for m in args.alternatives.split(",") if m.strip()]
    for model in alternatives:
        registry.get(model, field="--alternatives")

    lines = [(n, line) for n, line in enumerate(_read_lines(args.input), 1) if line.strip()]
    totals: dict[str, ModelTotal] = {}
    rows: list[dict[str, Any]] = []
    errors = 0
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("estimating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress or not console.is_terminal,
    )
    with progress:
        task = progress.add_task("estimate", total=len(lines))
        for number, line in lines:
            try:
                request = _parse(line, number, args.input)
                estimates = estimate_across(
                    request.priced(), [request.model, *alternatives], registry, now, field="model"
                )
            except ThriftyError as exc:
                errors += 1
                message = exc.message
                if not message.startswith(args.input):
                    message = f"{args.input}:{number}: {message}"
                rows.append({"line": number, "error": message})
                progress.advance(task)
                continue
            accumulate(totals, estimates)
            rows.append(
                {
                    "line": number,
                    "model": request.model,
                    "estimatedCost": money(estimates[0].estimate.cost),
                    "recommendation": cheapest_fit(estimates),
                }
            )
            progress.advance(task)

    if args.format == "json":
        summary = {
            model: {
                "requests": t.requests,
                "estimatedTokens": t.tokens,
                "estimatedCost": money(t.cost),
            }
            for model, t in totals.items()
        }
        json.dump({"results": rows, "totals": summary, "errors": errors}, sys.stdout, indent=2)
        print()
    else:
        _print_table(totals, len(lines))
        for row in rows:
            if "error" in row:
                console.print(row["error"], markup=False, soft_wrap=True)
    return 1 if errors else 0


def _print_table(totals: dict[str, ModelTotal], count: int) -> None:
    table = Table(title=f"Estimated cost of {count} request(s) per model")
    table.add_column("model")
    table.add_column("requests", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("estimated cost (USD)", justify="right")
    for model, total in sorted(totals.items(), key=lambda kv: kv[1].cost):
        table.add_row(model, str(total.requests), str(total.tokens), money(total.cost))
    Console().print(table)
