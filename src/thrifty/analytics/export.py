"""Usage and cost exports (pure): CSV of usage records, and FinOps FOCUS 1.2 daily charges.

``csv``: one row per usage record (a request's settled cost and tokens, who made it, what
served it). ``focus``: one row per UTC day, organisation, team, user, key, model, provider and
task type (the day sums), with every column the FOCUS 1.2 specification marks mandatory, in
its order, then ``Tags`` (a JSON object carrying org, team, user, key and task type) and
Thrifty's own ``x_`` columns. Costs are exact decimal USD strings.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from thrifty.budgets.money import format_nano

CSV_COLUMNS = (
    "request_id", "created_at", "org_id", "team_id", "user_id", "key_id", "tags", "model",
    "provider", "task_type", "status", "input_tokens", "cached_input_tokens", "output_tokens",
    "reasoning_tokens", "cost_usd", "estimated", "latency_ms",
)  # fmt: skip

#: The FOCUS 1.2 mandatory columns.
FOCUS_MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)  # fmt: skip
FOCUS_COLUMNS = (
    *FOCUS_MANDATORY, "ConsumedQuantity", "ConsumedUnit", "ChargeFrequency", "SubAccountId",
    "SubAccountName", "Tags", "x_Model", "x_TaskType", "x_Requests", "x_SuccessfulRequests",
    "x_InputTokens", "x_CachedInputTokens", "x_OutputTokens",
)  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(day: datetime) -> tuple[datetime, datetime]:
    start = day.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def csv_row(record: Mapping[str, Any]) -> dict[str, Any]:
    tags = record["tags"]
    if isinstance(tags, str):
        tags = json.loads(tags)
    return {
        **{name: record.get(name) for name in CSV_COLUMNS if name in record},
        "created_at": _iso(record["created_at"]),
        "tags": ";".join(str(t) for t in tags or ()),
        "cost_usd": format_nano(int(record["cost_nano"])),
        "estimated": bool(record["estimated"]),
    }


def focus_row(day_sum: Mapping[str, Any]) -> dict[str, Any]:
    """One FOCUS charge row from one day sum of ``usage_rollups``."""
    day: datetime = day_sum["bucket"]
    period_start, period_end = _month(day)
    cost = format_nano(int(day_sum["cost_nano"]))
    tokens = int(day_sum["input_tokens"]) + int(day_sum["output_tokens"])
    provider = day_sum["provider"] or "unknown"
    model = day_sum["model"] or "unknown"
    requests = int(day_sum["requests"])
    tags = {
        name: day_sum[column] or None
        for name, column in (
            ("org", "org_id"),
            ("team", "team_id"),
            ("user", "user_id"),
            ("key", "key_id"),
            ("taskType", "task_type"),
        )
    }
    return {
        "BilledCost": cost,
        "BillingAccountId": day_sum["org_id"] or "none",
        "BillingAccountName": day_sum["org_id"] or "none",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": _iso(period_end),
        "BillingPeriodStart": _iso(period_start),
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": f"{requests} requests to {model} via {provider}",
        "ChargePeriodEnd": _iso(day + timedelta(days=1)),
        "ChargePeriodStart": _iso(day),
        "ContractedCost": cost,
        "EffectiveCost": cost,
        "InvoiceIssuerName": provider,
        "ListCost": cost,
        "PricingQuantity": tokens,
        "PricingUnit": "Tokens",
        "ProviderName": provider,
        "PublisherName": provider,
        "ServiceCategory": "AI and Machine Learning",
        "ServiceName": model,
        "ConsumedQuantity": tokens,
        "ConsumedUnit": "Tokens",
        "ChargeFrequency": "Usage-Based",
        "SubAccountId": day_sum["team_id"] or "",
        "SubAccountName": day_sum["team_id"] or "",
        "Tags": json.dumps({k: v for k, v in tags.items() if v is not None}, sort_keys=True),
        "x_Model": model,
        "x_TaskType": day_sum["task_type"] or "",
        "x_Requests": requests,
        "x_SuccessfulRequests": int(day_sum["ok_requests"]),
        "x_InputTokens": int(day_sum["input_tokens"]),
        "x_CachedInputTokens": int(day_sum["cached_input_tokens"]),
        "x_OutputTokens": int(day_sum["output_tokens"]),
    }


def write_csv(columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """The CSV text, a chunk per row after the header (for streaming)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
