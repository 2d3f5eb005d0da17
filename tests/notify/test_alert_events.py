"""The alert events beyond thresholds: forecast run-out, upstream down, overrides; who hears
what; the signature scheme."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.budgets.principal import DirectoryFacts
from thrifty.errors import AuthenticationFailed
from thrifty.notify import forecasts
from thrifty.notify.events import Backoff, EventView, hears, summary
from thrifty.notify.signing import signature, signed_headers, verify
from thrifty.notify.upstream import UpstreamAlerts
from thrifty.providers.health import Outcome, ProviderHealth
from thrifty.storage import alerts_repo, budgets_repo, ledger, overrides_repo, postings
from thrifty.storage.database import Database

NOW = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)
USD = 1_000_000_000
ENG = Scope(ScopeType.TEAM, "eng")


def _budget(database: Database, limit_usd: int) -> BudgetSpec:
    spec = BudgetSpec(
        id="eng-monthly",
        scope=ENG,
        limit_nano=limit_usd * USD,
        period=Period(PeriodKind.MONTHLY, date(2026, 1, 1)),
        thresholds=(),
    )
    database.write(lambda c: budgets_repo.insert_budget(c, spec, "eng", NOW))
    return spec


def _spend_daily(database: Database, usd_per_day: int, days: int) -> None:
    for i in range(days):
        at = NOW.replace(hour=9) - timedelta(days=days - i)
        charge = ledger.Charge(f"r{i}", (ENG,), 0, NOW, team_id="eng", model="gpt-4o")
        usage = ledger.Usage(model="gpt-4o", input_tokens=10)
        database.write(
            lambda c, ch=charge, t=at, u=usage: postings.post_usage(
                c, ch, usd_per_day * USD, u, used_at=t, now=t
            )
        )


def test_run_out_alert_once_per_window(database: Database) -> None:
    _budget(database, 500)  # $30 a day: $330 by the 12th, about $900 by the month's end
    _spend_daily(database, 30, 11)
    assert forecasts.scan_once(database, NOW) == 1
    assert forecasts.scan_once(database, NOW + timedelta(minutes=10)) == 0
    (event,) = database.read(lambda c: alerts_repo.list_alerts(c, kind="forecast_runout"))
    run_out = date.fromisoformat(event.payload["run_out"])
    assert date(2026, 11, 17) <= run_out <= date(2026, 11, 20)  # $170 left at $30 a day
    assert event.payload["period_end"].startswith("2026-12-01")


def test_no_run_out_alert_when_the_budget_lasts(database: Database) -> None:
    _budget(database, 5_000)
    _spend_daily(database, 30, 11)
    assert forecasts.scan_once(database, NOW) == 0


def test_upstream_down_once_per_outage_hour(database: Database) -> None:
    clock = [0.0]
    first, second = ProviderHealth(lambda: clock[0]), ProviderHealth(lambda: clock[0])
    alerts = [UpstreamAlerts(lambda: NOW), UpstreamAlerts(lambda: NOW + timedelta(minutes=1))]
    for health, listener in zip((first, second), alerts, strict=True):
        health.on_open.append(listener.opened)
        for _ in range(6):  # five failures open the circuit; the sixth is ignored while open
            health.record("openai", "gpt-4o", Outcome.FAILED)
    assert [a.flush(database) for a in alerts] == [1, 0]  # two processes, one outage
    (event,) = database.read(lambda c: alerts_repo.list_alerts(c, kind="upstream_down"))
    assert event.budget_id == "" and event.payload["provider"] == "openai"
    assert event.payload["consecutive_failures"] == 5


def test_override_requests_and_decisions_are_events(database: Database) -> None:
    _budget(database, 10)
    made = database.write(
        lambda c: overrides_repo.create_override(
            c,
            budget_id="eng-monthly",
            amount_nano=USD,
            reason="launch",
            expires_at=NOW + timedelta(days=1),
            requested_by="key:k1",
            now=NOW,
        )
    )
    database.write(
        lambda c: overrides_repo.deny_override(
            c, made.override.id, decided_by="admin", reason="not now", now=NOW
        )
    )
    kinds = [e.kind for e in database.read(alerts_repo.list_alerts)]
    assert kinds == ["override_denied", "override_requested"]


FACTS = DirectoryFacts(
    team_org={"eng": "acme", "ops": "acme"}, user_team={"ann": "eng"}, key_user={"k1": "ann"}
)


def _event(scope: Scope | None, kind: str = "threshold") -> EventView:
    return EventView(1, kind, None if scope is None else "b1", "b", scope, {}, NOW)


@pytest.mark.parametrize(
    ("channel", "event", "heard"),
    [
        (None, Scope(ScopeType.KEY, "k1"), True),
        (Scope(ScopeType.ORGANIZATION, "acme"), Scope(ScopeType.KEY, "k1"), True),
        (Scope(ScopeType.ORGANIZATION, "other"), Scope(ScopeType.TEAM, "eng"), False),
        (Scope(ScopeType.TEAM, "eng"), Scope(ScopeType.USER, "ann"), True),
        (Scope(ScopeType.TEAM, "eng"), Scope(ScopeType.ORGANIZATION, "acme"), False),
        (Scope(ScopeType.TEAM, "ops"), Scope(ScopeType.KEY, "k1"), False),
        (Scope(ScopeType.USER, "ann"), Scope(ScopeType.KEY, "k1"), True),
        (Scope(ScopeType.TAG, "batch"), Scope(ScopeType.TAG, "batch"), True),
        (Scope(ScopeType.TAG, "batch"), Scope(ScopeType.TEAM, "eng"), False),
        (Scope(ScopeType.ORGANIZATION, "acme"), None, True),  # upstream down: every org
        (Scope(ScopeType.TEAM, "eng"), None, False),
    ],
)
def test_who_hears_what(channel: Scope | None, event: Scope | None, heard: bool) -> None:
    assert hears(channel, None, _event(event), FACTS) is heard


def test_kinds_filter_and_summaries() -> None:
    event = EventView(
        7,
        "threshold",
        "b1",
        "Eng",
        ENG,
        {"percent": "80", "used_nano": 8 * USD, "limit_nano": 10 * USD},
        NOW,
    )
    assert not hears(None, frozenset({"exhausted"}), event, FACTS)
    assert summary(event) == "budget 'Eng' (team:eng) crossed 80%: $8.00 of $10.00 used"
    assert event.body()["type"] == "budget.threshold_crossed" and event.body()["id"] == "evt_7"


def test_signature_scheme() -> None:
    body = b'{"a":1}'
    headers = signed_headers("s3cret", body, NOW)
    assert headers["X-Thrifty-Signature"] == signature("s3cret", int(NOW.timestamp()), body)
    verify(
        "s3cret",
        body,
        timestamp=headers["X-Thrifty-Timestamp"],
        signed=headers["X-Thrifty-Signature"],
        now=NOW + timedelta(seconds=299),
    )
    for secret, at, signed in (
        ("other", NOW, headers["X-Thrifty-Signature"]),
        ("s3cret", NOW + timedelta(seconds=301), headers["X-Thrifty-Signature"]),
        ("s3cret", NOW, "sha256=00"),
    ):
        with pytest.raises(AuthenticationFailed):
            verify(secret, body, timestamp=headers["X-Thrifty-Timestamp"], signed=signed, now=at)


def test_backoff_doubles_to_its_cap() -> None:
    import random

    backoff = Backoff(base_s=10, cap_s=60)
    delays = [backoff.delay(n, random.Random(n)).total_seconds() for n in range(1, 6)]
    for delay, nominal in zip(delays, (10, 20, 40, 60, 60), strict=True):
        assert 0.8 * nominal <= delay <= nominal
