"""What an alert event says, and who hears it (pure).

Every alert is a row of ``alert_events`` (kind, budget, payload). This module names each kind
for receivers, renders the generic webhook body and the Slack message, decides which channels
an event reaches, and spaces out retries.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from thrifty.budgets.model import Scope, ScopeType
from thrifty.budgets.money import format_nano
from thrifty.budgets.principal import DirectoryFacts

#: Event kind (as stored) → the event type receivers see.
EVENT_TYPES: dict[str, str] = {
    "threshold": "budget.threshold_crossed",
    "exhausted": "budget.exhausted",
    "turnover": "budget.period_turned_over",
    "override_requested": "override.requested",
    "override_approved": "override.approved",
    "override_denied": "override.denied",
    "anomaly": "spend.anomaly",
    "forecast_runout": "budget.forecast_run_out",
    "upstream_down": "upstream.down",
    "external": "alert.external",
}
KINDS = tuple(EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class EventView:
    """One alert event with what receivers need to know of its budget."""

    id: int
    kind: str
    budget_id: str | None
    budget_name: str | None
    scope: Scope | None  # the budget's scope; None for events of no budget (upstream down)
    payload: dict[str, Any]
    created_at: datetime

    @property
    def type(self) -> str:
        return EVENT_TYPES.get(self.kind, f"alert.{self.kind}")

    def body(self) -> dict[str, Any]:
        """The generic webhook's JSON body (the same on every attempt)."""
        budget = None
        if self.budget_id is not None:
            budget = {"id": self.budget_id, "name": self.budget_name,
                      "scope": None if self.scope is None else
                      {"type": self.scope.type.value, "id": self.scope.id}}  # fmt: skip
        return {
            "id": f"evt_{self.id}",
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "summary": summary(self),
            "budget": budget,
            "data": self.payload,
        }

    def encoded(self) -> bytes:
        return json.dumps(self.body(), separators=(",", ":"), sort_keys=True).encode()


def _usd(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return f"${format_nano(int(value))}" if isinstance(value, int) else "?"


def summary(event: EventView) -> str:
    """One line a person can read in a chat channel."""
    p = event.payload
    name = event.budget_name or event.budget_id or ""
    where = f"budget {name!r}" + (f" ({event.scope})" if event.scope else "")
    match event.kind:
        case "threshold":
            return (f"{where} crossed {p.get('percent')}%: {_usd(p, 'used_nano')} of "
                    f"{_usd(p, 'limit_nano')} used")  # fmt: skip
        case "exhausted":
            return f"{where} is exhausted: {_usd(p, 'used_nano')} of {_usd(p, 'limit_nano')} used"
        case "turnover":
            return f"{where} started a new period"
        case "override_requested":
            return (f"override {p.get('override_id')} of ${p.get('amount')} requested on {where}"
                    f" by {p.get('requested_by')}: {p.get('reason')}")  # fmt: skip
        case "override_approved" | "override_denied":
            verb = "approved" if event.kind == "override_approved" else "denied"
            reason = f": {p['reason']}" if p.get("reason") else ""
            by = p.get("decided_by")
            return f"override {p.get('override_id')} on {where} {verb} by {by}{reason}"
        case "anomaly":
            model = f" on {p['model']}" if p.get("model") else ""
            return (f"unusual {p.get('metric')}{model} in {where} at {p.get('timestamp')}: "
                    f"{p.get('value')} against {p.get('expected')} expected")  # fmt: skip
        case "forecast_runout":
            return (f"{where} is forecast to run out on {p.get('run_out')}, before its period "
                    f"ends on {p.get('period_end')}")  # fmt: skip
        case "upstream_down":
            return (f"upstream {p.get('provider')} / {p.get('model')} is down: its circuit"
                    f" opened after {p.get('recent_failures')} failures")  # fmt: skip
        case "external":
            return f"[{p.get('source')}] {p.get('title')}" + (
                f": {p['message']}" if p.get("message") else ""
            )
        case _:
            return f"{event.type} on {where}"


def slack_body(event: EventView) -> bytes:
    """A Slack incoming-webhook message (``text`` is also what Slack-compatible tools read)."""
    text = f"*{event.type}*: {summary(event)}"
    message = {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context",
             "elements": [{"type": "mrkdwn",
                           "text": f"evt_{event.id} · {event.created_at.isoformat()}"}]},
        ],
    }  # fmt: skip
    return json.dumps(message, separators=(",", ":")).encode()


def hears(
    channel_scope: Scope | None,
    kinds: frozenset[str] | None,
    event: EventView,
    facts: DirectoryFacts,
) -> bool:
    """Whether a channel of ``channel_scope`` (None: everything) that sends ``kinds`` (None:
    all) hears ``event``. A scope hears its own budgets' events and those of what lies inside
    it (an organisation its teams, users and keys); events of no budget reach the channels of
    every organisation and the unscoped ones."""
    if kinds is not None and event.kind not in kinds:
        return False
    if channel_scope is None:
        return True
    scope = event.scope
    if scope is None:
        return channel_scope.type is ScopeType.ORGANIZATION and event.budget_id is None
    if scope == channel_scope:
        return True
    match channel_scope.type:
        case ScopeType.ORGANIZATION:
            return facts.org_of(scope) == channel_scope.id
        case ScopeType.TEAM:
            return scope.type in (ScopeType.USER, ScopeType.KEY) and (
                facts.team_of(scope) == channel_scope.id
            )
        case ScopeType.USER:
            return scope.type is ScopeType.KEY and facts.key_user.get(scope.id) == channel_scope.id
        case _:
            return False


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: ``base · 2^(attempt−1)``, at most ``cap``, until the
    delivery is ``give_up`` old."""

    base_s: float = 10.0
    cap_s: float = 3600.0
    give_up: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        raw = min(self.cap_s, self.base_s * 2 ** max(0, attempts - 1))
        jitter = (rng or random).uniform(0.8, 1.0)
        return timedelta(seconds=raw * jitter)
