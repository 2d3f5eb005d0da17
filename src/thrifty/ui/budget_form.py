"""The budget form: its values as the user typed them, and the API body they describe.

The form checks nothing itself: every value travels to the API as typed (amounts and
percentages as text), so the API's validation is the only one and its ``param`` says which
field to mark. What happens here is shaping: blank threshold rows are dropped, models are
split on commas and spaces, and an end date is sent only for a custom period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS, Action
from thrifty.ui.forms import Form

#: The form's fields, named as the API's ``param`` names them (``field_errors`` keys).
FIELD_NAMES = (
    "id", "name", "scope", "limit", "period", "start_date", "end_date", "timezone", "mode",
    "models", "thresholds", "carry_over",
)  # fmt: skip
SCOPE_TYPES = ("organization", "team", "user", "key", "tag")
PERIODS = ("daily", "weekly", "monthly", "quarterly", "yearly", "custom")
MODES = ("hard", "soft")
ACTIONS = tuple(action.value for action in Action)
#: Suggestions for the time zone field (any IANA name is accepted).
TIMEZONES = (
    "UTC", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
    "Europe/Amsterdam", "Europe/Stockholm", "Europe/Warsaw", "Europe/Istanbul", "Africa/Lagos",
    "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai",
    "Asia/Tokyo", "Asia/Seoul", "Australia/Sydney", "Pacific/Auckland", "America/New_York",
    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
    "America/Mexico_City", "America/Sao_Paulo",
)  # fmt: skip
BLANK_THRESHOLD_ROWS = 3  # empty rows offered below the budget's thresholds
MAX_THRESHOLD_ROWS = 50  # the API's limit
_THRESHOLD_INDEX = re.compile(r"^thresholds\[(\d+)\]")


@dataclass
class ThresholdRow:
    percent: str = ""
    actions: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not self.percent and not self.actions


@dataclass
class BudgetForm:
    """What the form shows: every value a string (or flag) as typed."""

    id: str = ""
    name: str = ""
    scope_type: str = "organization"
    scope_id: str = ""
    limit: str = ""
    period: str = "monthly"
    start_date: str = ""
    end_date: str = ""
    timezone: str = "UTC"
    mode: str = "hard"
    models: str = ""
    carry_over: bool = False
    carry_over_cap: str = ""
    thresholds: list[ThresholdRow] = field(default_factory=list)

    def threshold_rows(self) -> list[ThresholdRow]:
        """The rows to render: the budget's thresholds, then a few blank ones."""
        rows = self.thresholds + [ThresholdRow() for _ in range(BLANK_THRESHOLD_ROWS)]
        return rows[:MAX_THRESHOLD_ROWS]


def blank_form(today: date) -> BudgetForm:
    """A new budget: monthly from the first of this month, with the default thresholds."""
    rows = [
        ThresholdRow(format(t.percent, "f"), [a.value for a in t.actions])
        for t in DEFAULT_THRESHOLDS
    ]
    return BudgetForm(start_date=today.replace(day=1).isoformat(), thresholds=rows)


def form_of_budget(budget: dict[str, Any]) -> BudgetForm:
    """The form filled from the API's budget JSON (``GET /budgets/{id}``)."""
    carry = budget.get("carry_over") or {}
    return BudgetForm(
        id=budget["id"],
        name=budget["name"],
        scope_type=budget["scope"]["type"],
        scope_id=budget["scope"]["id"],
        limit=str(budget["limit"]),
        period=budget["period"],
        start_date=budget["start_date"],
        end_date=budget.get("end_date") or "",
        timezone=budget.get("timezone") or "UTC",
        mode=budget.get("mode") or "hard",
        models=", ".join(budget.get("models") or ()),
        carry_over=bool(carry.get("enabled")),
        carry_over_cap=str(carry.get("cap") or ""),
        thresholds=[
            ThresholdRow(str(t["percent"]), list(t["actions"])) for t in budget["thresholds"]
        ],
    )


def form_of_post(form: Form) -> BudgetForm:
    """The form as submitted; threshold rows left blank are dropped."""
    rows = [
        ThresholdRow(form.get(f"threshold_{n}_percent"), form.all(f"threshold_{n}_actions"))
        for n in range(MAX_THRESHOLD_ROWS)
        if f"threshold_{n}_percent" in form.values or f"threshold_{n}_actions" in form.lists
    ]
    return BudgetForm(
        id=form.get("id"),
        name=form.get("name"),
        scope_type=form.get("scope_type"),
        scope_id=form.get("scope_id"),
        limit=form.get("limit"),
        period=form.get("period"),
        start_date=form.get("start_date"),
        end_date=form.get("end_date"),
        timezone=form.get("timezone") or "UTC",
        mode=form.get("mode") or "hard",
        models=form.get("models"),
        carry_over=form.get("carry_over") == "on",
        carry_over_cap=form.get("carry_over_cap"),
        thresholds=[row for row in rows if not row.blank],
    )


def budget_body(values: BudgetForm) -> dict[str, Any]:
    """The API's budget body (``POST /budgets``, ``PUT /budgets/{id}``) for the form."""
    models = [m for m in re.split(r"[\s,]+", values.models) if m]
    body: dict[str, Any] = {
        "name": values.name,
        "scope": {"type": values.scope_type, "id": values.scope_id},
        "limit": values.limit,
        "period": values.period,
        "start_date": values.start_date,
        "end_date": (values.end_date or None) if values.period == "custom" else None,
        "timezone": values.timezone,
        "mode": values.mode,
        "models": models or None,
        # No rows at all: the built-in thresholds.
        "thresholds": [{"percent": t.percent, "actions": t.actions} for t in values.thresholds]
        or None,
        "carry_over": {
            "enabled": values.carry_over,
            "cap": (values.carry_over_cap or None) if values.carry_over else None,
        },
    }
    if values.id:
        body["id"] = values.id
    return body


def threshold_row_of(param: str | None) -> int | None:
    """The threshold row an API error names (``thresholds[2].percent`` → 2), if any. Rows
    are re-rendered in the order they were sent, so the API's index is the row's."""
    found = _THRESHOLD_INDEX.match(param or "")
    return int(found.group(1)) if found else None
