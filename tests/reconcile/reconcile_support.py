"""Shared by the reconciliation tests: the fixture exports, a price table, ledger builders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from thrifty.reconcile import LedgerLine

DATA = Path(__file__).parent / "data"

# Nano-USD per token (input, cached input, output): $2.50/M is 2,500 nano a token.
PRICES = {
    "gpt-4o": (2500, 1250, 10000),
    "gpt-4o-mini": (150, 75, 600),
    "claude-sonnet-4": (3000, 300, 15000),
    "anthropic/claude-3-5-haiku": (800, 80, 4000),
}


def fixture(name: str) -> str:
    return (DATA / name).read_text("utf-8")


def price(model: str, day: date, input_tokens: int, cached: int, output: int) -> int | None:
    """A stand-in for the catalog: input tokens include the cached ones."""
    rates = PRICES.get(model)
    if rates is None:
        return None
    return (input_tokens - cached) * rates[0] + cached * rates[1] + output * rates[2]


def day(n: int) -> date:
    return date(2025, 3, n)


def line(
    n: int,
    model: str,
    account: str | None,
    tokens: tuple[int, int, int] = (0, 0, 0),
    requests: int = 0,
    cost_nano: int = 0,
) -> LedgerLine:
    """A ledger sum on 2025-03-``n``; ``tokens`` are (input, cached input, output)."""
    return LedgerLine(day(n), model, account, *tokens, requests, cost_nano)


def usd(text: str) -> int:
    """Nano-USD of an exact decimal string of at most 9 places (test arithmetic, no floats)."""
    nano = Decimal(text).scaleb(9)
    assert nano == nano.to_integral_value(), text
    return int(nano)
