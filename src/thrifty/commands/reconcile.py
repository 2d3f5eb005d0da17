"""``thrifty reconcile --invoice FILE``: match a provider's usage or invoice export with the
ledger, from the database, as ``POST /api/v1/reconciliation`` does (the report is stored and
can be read back with ``GET /api/v1/reconciliation/{id}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from thrifty.errors import InvalidInput


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    pairs = {}
    for value in values or ():
        name, sep, target = value.partition("=")
        if not sep or not name or not target:
            raise InvalidInput(f"{flag} takes NAME=ID, not {value!r}", field=flag)
        pairs[name] = target
    return pairs


def _decimal(text: str, flag: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{flag}: not a number: {text!r}", field=flag) from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{flag} must be a non-negative number", field=flag)
    return value


def _options(args: argparse.Namespace) -> Any:
    from thrifty.budgets.model import Scope, parse_scope_type
    from thrifty.budgets.money import settlement_nano
    from thrifty.reconcile.match import Tolerance
    from thrifty.storage.reconcile_repo import Options

    adjust_to = None
    if args.adjust_to:
        kind, sep, ident = args.adjust_to.partition(":")
        if not sep or not ident:
            raise InvalidInput("--adjust-to takes TYPE:ID (team:eng)", field="--adjust-to")
        adjust_to = Scope(parse_scope_type(kind, field="--adjust-to"), ident)
    tolerance = Tolerance(
        settlement_nano(_decimal(args.tolerance_usd, "--tolerance-usd")),
        _decimal(args.tolerance_ratio, "--tolerance-ratio"),
    )
    return Options(
        layout=args.layout,
        account_by=args.account_by,
        accounts=_pairs(args.account, "--account"),
        account_column=args.account_column,
        model_names=_pairs(args.model_name, "--model-name"),
        provider=args.provider,
        tolerance=tolerance,
        adjust_to=adjust_to,
    )


def _table(report: dict[str, Any]) -> str:
    totals = report["totals"]
    lines = [
        f"reconciliation {report['id']}: {report['layout']} export, "
        f"{report['first_day']} to {report['last_day']}, cost {report['cost_source']}",
        f"invoice {totals['invoice']['cost_usd']} USD, ledger {totals['ledger']['cost_usd']} USD,"
        f" delta {totals['delta']['cost_usd']} USD; {report['counts']['discrepancies']}"
        f" discrepancies in {report['counts']['groups']} groups",
    ]
    if report["discrepancies"]:
        lines.append(f"{'kind':<19} {'day':<10} {'model':<28} {'account':<16} {'delta USD':>12}")
    for d in report["discrepancies"]:
        lines.append(
            f"{d['kind']:<19} {d['day']:<10} {d['model'][:28]:<28} "
            f"{(d['account'] or '-')[:16]:<16} {d['delta_usd'] or '?':>12}"
        )
    posted = [a for a in report["adjustments"] if a["posted"]]
    if posted:
        lines.append(f"posted {len(posted)} adjustment(s)")
    elif report["adjustments"]:
        lines.append(
            f"{len(report['adjustments'])} adjustment(s) proposed; --post-adjustments posts them"
        )
    return "\n".join(lines) + "\n"


def run_reconcile(args: argparse.Namespace) -> int:
    from thrifty.app import load_registry, prepare_database
    from thrifty.config.loader import load_config
    from thrifty.settings import Settings
    from thrifty.storage import directory_repo, reconcile_repo, rollups
    from thrifty.storage.database import Database

    try:
        text = Path(args.invoice).read_text("utf-8-sig")
    except OSError as error:
        raise InvalidInput(
            f"cannot read {args.invoice}: {error.strerror}", field="--invoice"
        ) from None
    options = _options(args)
    settings = Settings.from_env()
    database = Database(args.database_url or settings.database_url)
    now = datetime.now(UTC)
    try:
        prepare_database(database, load_config(args.config or settings.config), now)
        registry = load_registry(database)
        registry.refresh()
        database.write(rollups.catch_up)
        facts = database.read(directory_repo.load_directory).facts

        def write(conn: Any) -> dict[str, Any]:
            done = reconcile_repo.run(
                conn, text, options, registry=registry.get(), now=now, actor="cli"
            )
            if args.post_adjustments:
                done = reconcile_repo.post_adjustments(
                    conn, done["id"], facts=facts, now=now, actor="cli"
                )
            return done

        report = database.write(write)
    finally:
        database.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(_table(report))
    return 0


def add_commands(commands: Any) -> None:
    cmd = commands.add_parser("reconcile", help="match a provider's invoice export with the ledger")
    cmd.add_argument("--invoice", required=True, help="the usage or cost export (CSV)")
    cmd.add_argument(
        "--layout",
        choices=("auto", "openai", "anthropic", "generic"),
        default="auto",
        help="the export's layout (default: from its header)",
    )
    cmd.add_argument(
        "--account-by",
        choices=("key", "user", "team", "org", "provider"),
        help="match the export's accounts with this attribution (default: by day and model only)",
    )
    cmd.add_argument(
        "--account",
        action="append",
        metavar="ACCOUNT=ID",
        help="an export account (project, workspace, key) and the ledger id it is",
    )
    cmd.add_argument("--account-column", help="the export's column that names the account")
    cmd.add_argument(
        "--model-name",
        action="append",
        metavar="NAME=MODEL",
        help="an export model name and the gateway model id it is",
    )
    cmd.add_argument("--provider", help="compare with the ledger's usage of this provider only")
    cmd.add_argument("--tolerance-usd", default="0.01", help="cost deltas up to this agree (0.01)")
    cmd.add_argument(
        "--tolerance-ratio", default="0.01", help="… or up to this share of the cost (0.01)"
    )
    cmd.add_argument(
        "--adjust-to",
        metavar="TYPE:ID",
        help="who bears adjustments the account does not attribute (team:eng)",
    )
    cmd.add_argument(
        "--post-adjustments",
        action="store_true",
        help="post the proposed adjustments as audited ledger entries",
    )
    cmd.add_argument("--format", choices=("table", "json"), default="table")
    cmd.add_argument("--config", help="config file for the registry's models (THRIFTY_CONFIG)")
    cmd.add_argument("--database-url", help="database (THRIFTY_DATABASE_URL)")
    cmd.set_defaults(run=run_reconcile)
