from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from budget_builders import NOW, USD, spec, state

from thrifty.budgets.model import BudgetSpec, Mode, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.budgets.policy import Downgrading
from thrifty.budgets.status import Status, aggregate_status, scope_status, status_of
from thrifty.budgets.thresholds import Action, Threshold


def level(percent: str, **kwargs: object) -> Status:
    budget = spec(limit=100 * USD, **kwargs)  # type: ignore[arg-type]
    return status_of(state(budget, posted=int(Decimal(percent) * USD))).status


def test_status_follows_the_default_thresholds() -> None:
    assert level("0") is Status.NORMAL
    assert level("69.99") is Status.NORMAL  # 50% only notifies
    assert level("70") is Status.WARNING
    assert level("84.99") is Status.WARNING
    assert level("85") is Status.CRITICAL
    assert level("99.99") is Status.CRITICAL
    assert level("100") is Status.EXCEEDED
    assert level("130", mode=Mode.SOFT) is Status.EXCEEDED


def test_status_follows_custom_thresholds() -> None:
    thresholds = (
        Threshold(Decimal(20), (Action.PREFER_CHEAPER,)),
        Threshold(Decimal(40), (Action.BLOCK_NON_ESSENTIAL,)),
    )
    assert level("19", thresholds=thresholds) is Status.NORMAL
    assert level("20", thresholds=thresholds) is Status.WARNING
    assert level("40", thresholds=thresholds) is Status.CRITICAL


def test_status_numbers_for_a_month() -> None:
    # March 2025 in UTC: 31 days; at noon on the 15th, 14.5 days have passed.
    status = status_of(state(spec(limit=100 * USD), posted=29 * USD, held=USD, extension=USD))
    assert status.limit_nano == 101 * USD
    assert status.current_spend_nano == 29 * USD
    assert status.held_nano == USD
    assert status.remaining_nano == 71 * USD
    assert status.percent_used == Decimal("29.70")
    assert status.days_remaining == Decimal("16.50")
    assert status.burn_rate_nano_per_day == 2 * USD
    assert status.projected_total_nano == 62 * USD
    assert status.status is Status.NORMAL


def test_status_at_the_start_of_a_window_does_not_extrapolate_wildly() -> None:
    start = datetime(2025, 3, 1, 0, 1, tzinfo=UTC)
    status = status_of(state(spec(), posted=USD, now=start))
    assert status.burn_rate_nano_per_day == 24 * USD  # one hour assumed elapsed
    assert status.days_remaining == Decimal("31.00")


def test_status_in_a_zone_with_dst() -> None:
    budget = BudgetSpec(
        "b1",
        Scope(ScopeType.USER, "ann"),
        10 * USD,
        Period(PeriodKind.DAILY, date(2025, 1, 1), "America/New_York"),
    )
    now = datetime(2025, 3, 9, 16, tzinfo=UTC)  # noon EDT on a 23-hour day
    status = status_of(state(budget, posted=11 * USD, now=now))
    assert status.window.duration.total_seconds() == 23 * 3600
    assert status.days_remaining == Decimal("0.50")
    assert status.projected_total_nano == 23 * USD  # 11 USD in 11 hours, 23 hours in the day
    assert status.remaining_nano == 0


def test_zero_limit_is_exceeded() -> None:
    status = status_of(state(spec(limit=0)))
    assert status.status is Status.EXCEEDED
    assert status.percent_used == Decimal("100.00")


def test_aggregate_is_the_worst() -> None:
    assert aggregate_status([]) is Status.NORMAL
    assert aggregate_status([Status.WARNING, Status.EXCEEDED, Status.NORMAL]) is Status.EXCEEDED
    assert aggregate_status([Status.WARNING, Status.CRITICAL]) is Status.CRITICAL


def test_scope_status() -> None:
    chain = [state(spec("a"), posted=72 * USD), state(spec("b"), posted=10 * USD)]
    summary = scope_status(chain, now=NOW)
    assert [b.status for b in summary.budgets] == [Status.WARNING, Status.NORMAL]
    assert summary.aggregate_status is Status.WARNING
    assert summary.cost_restrictions.model_downgrading is Downgrading.PREFER
