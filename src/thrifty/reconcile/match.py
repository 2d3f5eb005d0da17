"""Match an invoice against the gateway's ledger by day, model and account.

Both sides are summed per (UTC day, gateway model id, account); invoice model names are mapped
to gateway ids first (``thrifty.reconcile.models``). Each group is compared measure by
measure — the cost and the input, cached input and output tokens, where the invoice carries
them — and reported when a measure differs beyond the :class:`Tolerance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import overload

from thrifty.reconcile.invoice import MEASURES, Invoice, InvoiceLine
from thrifty.reconcile.models import ModelMatch, match_models
from thrifty.reconcile.report import Discrepancy, Figures, Report

#: ``price(model, day, input_tokens, cached_input_tokens, output_tokens)`` → nano-USD at the
#: price in force on that UTC day, or ``None``
#: when no price is known. ``input_tokens`` includes the cached ones.
Price = Callable[[str, date, int, int, int], int | None]
TOKENS = ("input_tokens", "cached_input_tokens", "output_tokens")
JUDGED = (*TOKENS, "cost_nano")  # requests are shown, not judged (retries, refusals differ)
_Key = tuple[date, str, str | None]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One (day, model, account) sum of the gateway's ledger."""

    day: date
    model: str
    account: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    requests: int
    cost_nano: int


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far apart the two sides may be and still agree.

    A cost differs when its delta exceeds both ``cost_nano`` and ``cost_ratio`` of the larger
    side's cost; a token count when its delta exceeds both ``tokens`` and ``tokens_ratio`` of
    the larger side's count. Defaults: $0.01 and 1%; any token delta above 1%.
    """

    cost_nano: int = 10_000_000
    cost_ratio: Decimal = Decimal("0.01")
    tokens: int = 0
    tokens_ratio: Decimal = Decimal("0.01")

    def __post_init__(self) -> None:
        for name in ("cost_nano", "tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Tolerance.{name} must be a non-negative int, not {value!r}")
        for name in ("cost_ratio", "tokens_ratio"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"Tolerance.{name} must be a non-negative Decimal, not {value!r}")

    def differs(self, delta: int, a: int, b: int, *, cost: bool) -> bool:
        absolute, ratio = (
            (self.cost_nano, self.cost_ratio) if cost else (self.tokens, self.tokens_ratio)
        )
        size = abs(delta)
        return size > absolute and Decimal(size) > ratio * max(abs(a), abs(b))


@dataclass(slots=True)
class _Group:
    """The running sums of one side's group (internal; the report gets :class:`Figures`)."""

    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    requests: int | None = None
    cost_nano: int | None = 0
    sources: set[str | None] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)
    mapped: bool = True

    def add(self, measure: str, value: int | None) -> None:
        if value is not None:
            setattr(self, measure, (getattr(self, measure) or 0) + value)

    def figures(self) -> Figures:
        return Figures(
            self.input_tokens,
            self.cached_input_tokens,
            self.output_tokens,
            self.requests,
            None if None in self.sources else self.cost_nano,
        )

    @property
    def source(self) -> str | None:
        if None in self.sources:
            return None
        return "priced" if "priced" in self.sources else "billed"


def reconcile(
    invoice: Invoice,
    ledger: Sequence[LedgerLine],
    *,
    model_names: Mapping[str, str] | None = None,
    account_names: Mapping[str, str] | None = None,
    accounts: bool = True,
    tolerance: Tolerance | None = None,
    price: Price | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Report:
    """Compare ``invoice`` with the ``ledger`` sums and report every discrepancy, largest first.

    ``model_names`` maps provider model names to gateway ids (before the fallbacks of
    ``thrifty.reconcile.models``); ``account_names`` maps the invoice's accounts to the
    ledger's (unlisted ones are kept). With ``accounts`` false, or when the invoice carries no
    account on any line, groups are (day, model) only. ``price`` fills in the cost of an
    invoice line that has tokens but no cost; the report then says the cost was ``priced``.
    Only days from ``first_day`` to ``last_day`` (inclusive; by default the invoice's period,
    empty buckets included) are compared; lines outside are counted, not matched.
    """
    tolerance = tolerance or Tolerance()
    start = first_day or invoice.first_day
    end = last_day or invoice.last_day

    def inside(day: date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    lines = [line for line in invoice.lines if inside(line.day)]
    ledger_in = [line for line in ledger if inside(line.day)]
    matches = match_models(
        (line.model for line in lines), (line.model for line in ledger), model_names or {}
    )
    by_account = accounts and any(line.account is not None for line in lines)
    billed = _invoice_groups(lines, matches, account_names or {}, by_account, price)
    recorded = _ledger_groups(ledger_in, by_account)
    carried = {m for m in (*TOKENS, "requests") if m in invoice.measures}

    discrepancies = []
    for key in sorted(billed.keys() | recorded.keys(), key=_order):
        found = _compare(key, billed.get(key), recorded.get(key), carried, tolerance)
        if found is not None:
            discrepancies.append(found)
    discrepancies.sort(key=_size)

    invoice_total = _total((g.figures() for g in billed.values()), {*carried, "cost_nano"})
    ledger_total = _total((g.figures() for g in recorded.values()), MEASURES)
    measures = {m for m in MEASURES if _value(invoice_total, m) is not None}
    total_delta = Figures(
        *(
            _value(invoice_total, m, 0) - _value(ledger_total, m, 0) if m in measures else None
            for m in MEASURES
        )
    )
    return Report(
        layout=invoice.layout,
        variant=invoice.variant,
        first_day=start,
        last_day=end,
        by_account=by_account,
        cost_source=_cost_source(billed.values()),
        invoice=invoice_total,
        ledger=ledger_total,
        delta=total_delta,
        groups=len(billed.keys() | recorded.keys()),
        matched=len(billed.keys() & recorded.keys()),
        discrepancies=tuple(discrepancies),
        models=tuple(matches.values()),
        invoice_lines_outside_period=len(invoice.lines) - len(lines),
        ledger_lines_outside_period=len(ledger) - len(ledger_in),
    )


def _invoice_groups(
    lines: Iterable[InvoiceLine],
    matches: Mapping[str, ModelMatch],
    account_names: Mapping[str, str],
    by_account: bool,
    price: Price | None,
) -> dict[_Key, _Group]:
    groups: dict[_Key, _Group] = {}
    for line in lines:
        match = matches[line.model]
        model = match.ledger_model or line.model
        account = account_names.get(line.account, line.account) if line.account else None
        group = groups.setdefault((line.day, model, account if by_account else None), _Group())
        for measure in (*TOKENS, "requests"):
            group.add(measure, getattr(line, measure))
        cost, source = line.cost_nano, "billed"
        if cost is None:
            cost, source = _priced(line, model, price), "priced"
        group.add("cost_nano", cost)
        group.sources.add(source if cost is not None else None)
        group.names.add(line.model)
        group.rows.append(line.row)
        group.mapped = group.mapped and match.ledger_model is not None
    return groups


def _priced(line: InvoiceLine, model: str, price: Price | None) -> int | None:
    tokens = (line.input_tokens, line.cached_input_tokens, line.output_tokens)
    if price is None or all(count is None for count in tokens):
        return None
    return price(model, line.day, *(count or 0 for count in tokens))


def _ledger_groups(ledger: Iterable[LedgerLine], by_account: bool) -> dict[_Key, _Group]:
    groups: dict[_Key, _Group] = {}
    for line in ledger:
        group = groups.setdefault(
            (line.day, line.model, line.account if by_account else None), _Group()
        )
        for measure in (*TOKENS, "requests", "cost_nano"):
            group.add(measure, getattr(line, measure))
        group.sources.add("billed")
    return groups


def _compare(
    key: _Key,
    billed: _Group | None,
    recorded: _Group | None,
    carried: set[str],
    tolerance: Tolerance,
) -> Discrepancy | None:
    day, model, account = key
    invoice = billed.figures() if billed else None
    ledger = recorded.figures() if recorded else None
    if invoice is None:
        # Not billed at all: the invoice's side is zero for the cost and for what it counts.
        compared = {*carried, "cost_nano"}
    else:
        compared = {m for m in MEASURES if _value(invoice, m) is not None}
    delta = Figures(
        *(_value(invoice, m, 0) - _value(ledger, m, 0) if m in compared else None for m in MEASURES)
    )
    differing = tuple(
        m
        for m in JUDGED
        if m in compared
        and tolerance.differs(
            _value(delta, m, 0), _value(invoice, m, 0), _value(ledger, m, 0), cost=m == "cost_nano"
        )
    )
    if not differing:
        return None
    if invoice is None:
        kind = "missing_in_invoice"
    elif ledger is None:
        kind = "missing_in_ledger"
    else:
        kind = "cost_mismatch" if "cost_nano" in differing else "tokens_mismatch"
    return Discrepancy(
        kind=kind,
        day=day,
        model=model,
        account=account,
        invoice=invoice,
        ledger=ledger,
        delta=delta,
        delta_percent=_percent(delta.cost_nano, _value(ledger, "cost_nano", 0)),
        differing=tuple("cost" if m == "cost_nano" else m for m in differing),
        cost_source=billed.source if billed else None,
        model_mapped=billed.mapped if billed else True,
        invoice_models=tuple(sorted(billed.names)) if billed else (),
        invoice_rows=tuple(sorted(billed.rows)) if billed else (),
    )


@overload
def _value(figures: Figures | None, measure: str) -> int | None: ...
@overload
def _value(figures: Figures | None, measure: str, missing: int) -> int: ...
def _value(figures: Figures | None, measure: str, missing: int | None = None) -> int | None:
    """A measure of ``figures``; ``missing`` when the side or the measure is absent."""
    value: int | None = None if figures is None else getattr(figures, measure)
    return missing if value is None else value


def _total(groups: Iterable[Figures], measures: Iterable[str]) -> Figures:
    """Sums of ``measures`` (others ``None``); the cost is ``None`` if any group's is."""
    sums: dict[str, int | None] = {m: 0 if m in measures else None for m in MEASURES}
    for figures in groups:
        for measure, total in sums.items():
            value = getattr(figures, measure)
            if total is not None:
                sums[measure] = (
                    None if value is None and measure == "cost_nano" else total + (value or 0)
                )
    return Figures(**sums)


def _cost_source(groups: Iterable[_Group]) -> str:
    sources = {group.source for group in groups}
    if not sources - {None}:
        return "none"
    if None in sources:
        return "partial"
    if sources == {"billed"}:
        return "billed"
    return "priced" if sources == {"priced"} else "mixed"


def _percent(delta: int | None, ledger_cost: int | None) -> Decimal | None:
    if delta is None or not ledger_cost:
        return None
    return (Decimal(delta) * 100 / Decimal(ledger_cost)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)


def _order(key: _Key) -> tuple[date, str, str]:
    return key[0], key[1], key[2] or ""


def _size(found: Discrepancy) -> tuple[int, int, date, str, str]:
    tokens = max((abs(getattr(found.delta, m) or 0) for m in TOKENS), default=0)
    return (-abs(found.delta_nano or 0), -tokens, found.day, found.model, found.account or "")
