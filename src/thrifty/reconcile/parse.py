"""Parse a provider's usage or cost export (CSV text) into an :class:`Invoice`."""

from __future__ import annotations

from datetime import date

from thrifty.errors import InvalidInput
from thrifty.reconcile.invoice import Invoice, InvoiceLine
from thrifty.reconcile.layouts import VARIANTS, Variant
from thrifty.reconcile.table import Header, normalise, read_table

LAYOUTS: tuple[str, ...] = ("openai", "anthropic", "generic")


def parse_invoice(text: str, layout: str = "auto", *, account_column: str | None = None) -> Invoice:
    """Parse CSV ``text`` exported by a provider.

    ``layout`` is ``"auto"`` (recognised from the header) or one of :data:`LAYOUTS` (its usage
    or cost variant is still recognised from the header). ``account_column`` names the column
    whose values are the accounts, instead of the layout's default (OpenAI: ``project_id``,
    else ``api_key_id``; Anthropic: ``workspace``/``workspace_id``, else
    ``api_key``/``api_key_id``; generic: ``account``).

    Raises ``InvalidInput`` naming the row and column of a bad cell
    (``row 7, column "cost_usd": not a number ('abc')``), or listing what each layout needs
    when the header fits none.
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise InvalidInput(
            f"layout must be auto or one of {', '.join(LAYOUTS)}, not {layout!r}", field="layout"
        )
    header, rows = read_table(text)
    variant = _detect(header, layout)
    account = _account_column(header, variant, account_column)
    lines: list[InvoiceLine] = []
    days: list[date] = []
    for row in rows:
        day = row.day(*variant.day_columns)
        if day is None:
            raise row.error(header.first(*variant.day_columns) or variant.day_columns[0], "empty")
        days.append(day)
        line = variant.read(row, day, row.text(account) if account else None)
        if line is not None:
            lines.append(line)
    return Invoice(
        layout=variant.layout,
        variant=variant.name,
        lines=tuple(lines),
        measures=variant.measures(header),
        account_column=header.names[header.positions[account]] if account else None,
        first_day=min(days, default=None),
        last_day=max(days, default=None),
    )


def _detect(header: Header, layout: str) -> Variant:
    candidates = [v for v in VARIANTS if layout in ("auto", v.layout)]
    for variant in candidates:
        if variant.matches(header):
            return variant
    shown = ", ".join(header.names[:12]) + (", …" if len(header.names) > 12 else "")
    needs = "; ".join(f"the {v.title} needs {v.requires}" for v in candidates)
    raise InvalidInput(f"header ({shown}) fits no known layout: {needs}", field="header")


def _account_column(header: Header, variant: Variant, override: str | None) -> str | None:
    if override is None:
        return header.first(*variant.account_columns)
    if not header.has(override):
        raise InvalidInput(
            f"account_column {override!r} is not a column of the file", field="account_column"
        )
    return normalise(override)
