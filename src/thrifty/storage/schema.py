"""The SQL schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it.

Money is integer nano-USD (``BigInteger``) or exact decimal text, never a float column.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from thrifty.storage.types import DecimalText, UTCDateTime

metadata = MetaData()

models = Table(
    "models",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("provider", String(200), nullable=False),
    Column("upstream_model", String(200), nullable=False),
    Column("context_window", Integer, nullable=False),
    Column("max_output_tokens", Integer),
    Column("capabilities", JSON, nullable=False),
    Column("quality", JSON, nullable=False),
    Column("catalog_id", String(200)),
    Column("fallbacks", JSON),  # model ids to try in order when this one's upstream fails
    Column("source", String(16), nullable=False),  # config | api
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

model_prices = Table(
    "model_prices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(200), ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("input_per_mtok", DecimalText, nullable=False),
    Column("output_per_mtok", DecimalText, nullable=False),
    Column("cached_input_per_mtok", DecimalText),
    Column("cache_write_per_mtok", DecimalText),
    Column("source", String(16), nullable=False),  # config | api | webhook
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_model_prices_model", "model_id", "effective_from"),
)

# One row per cached collection; a writer bumps the version so every process reloads.
cache_versions = Table(
    "cache_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", BigInteger, nullable=False),
)

# --- Organisation, keys (issue: budgets) ----------------------------------------------------

orgs = Table(
    "orgs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", String(64), ForeignKey("orgs.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("team_id", String(64), ForeignKey("teams.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320)),
    Column("role", String(16), nullable=False),  # member | team_admin | org_admin
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),  # shown to identify a key; not secret
    Column("secret_hash", String(64), nullable=False, unique=True),  # SHA-256 hex
    Column("allowed_models", JSON),  # null: every model
    Column("tags", JSON, nullable=False),
    Column("default_priority", String(16)),
    Column("routing", JSON),  # the key's selection defaults: {"strategy", "quality"}; null: none
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)

# --- Budgets and the ledger ----------------------------------------------------------------

budgets = Table(
    "budgets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("scope_type", String(16), nullable=False),
    Column("scope_id", String(200), nullable=False),
    Column("limit_nano", BigInteger, nullable=False),
    Column("period_kind", String(16), nullable=False),
    Column("period_start", String(10), nullable=False),  # ISO date, local to the time zone
    Column("period_end", String(10)),  # custom periods: inclusive ISO date
    Column("timezone", String(64), nullable=False),
    Column("mode", String(8), nullable=False),  # hard | soft
    Column("models", JSON),  # null: every model
    Column("thresholds", JSON, nullable=False),
    Column("carry_over", Integer, nullable=False),  # 0 | 1
    Column("carry_over_cap_nano", BigInteger),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("ix_budgets_scope", "scope_type", "scope_id"),
)

# One row per budget and period window: the running totals the hold check reads and locks.
budget_balances = Table(
    "budget_balances",
    metadata,
    Column("budget_id", String(64), ForeignKey("budgets.id"), primary_key=True),
    Column("window_index", Integer, primary_key=True),
    Column("window_start", UTCDateTime, nullable=False),
    Column("window_end", UTCDateTime, nullable=False),
    Column("posted_nano", BigInteger, nullable=False),
    Column("held_nano", BigInteger, nullable=False),
    Column("carried_nano", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("amount_nano", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # held | settled | voided | expired
    Column("key_id", String(64)),
    Column("user_id", String(64)),
    Column("team_id", String(64)),
    Column("org_id", String(64)),
    Column("tags", JSON, nullable=False),
    Column("model", String(200)),
    Column("priority", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("actual_nano", BigInteger),
    Index("ix_holds_open", "status", "expires_at"),
)

# What one hold reserved on each budget of its chain (and in which window).
hold_lines = Table(
    "hold_lines",
    metadata,
    Column("request_id", String(128), ForeignKey("holds.request_id"), primary_key=True),
    Column("budget_id", String(64), primary_key=True),
    Column("window_index", Integer, nullable=False),
    Column("amount_nano", BigInteger, nullable=False),
    Column("override_id", String(64)),
)

# Posted amounts: a budget's spend is the sum of its entries (usage and audited adjustments).
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget_id", String(64), nullable=False),
    Column("window_index", Integer, nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # usage | adjustment
    Column("amount_nano", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ux_ledger_entries_once", "request_id", "budget_id", "kind", unique=True),
    Index("ix_ledger_entries_budget", "budget_id", "window_index"),
)

usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False, unique=True),
    Column("key_id", String(64)),
    Column("user_id", String(64)),
    Column("team_id", String(64)),
    Column("org_id", String(64)),
    Column("tags", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("model", String(200)),
    Column("provider", String(200)),
    Column("input_tokens", Integer, nullable=False),
    Column("cached_input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("reasoning_tokens", Integer, nullable=False),
    Column("cost_nano", BigInteger, nullable=False),
    Column("estimated", Integer, nullable=False),  # 1 when priced from counted, not reported
    Column("status", String(16), nullable=False),
    Column("latency_ms", Integer),
    Column("ttft_ms", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("task_type", String(32)),
    Column("rolled_up", Integer, nullable=False, server_default="0"),  # 1 once in the sums
    Index("ix_usage_records_created", "created_at"),
    Index("ix_usage_records_pending", "rolled_up", "id"),
    Index("ix_usage_records_org", "org_id", "created_at"),
    Index("ix_usage_records_team", "team_id", "created_at"),
)

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("budget_id", String(64), nullable=False),
    Column("window_index", Integer, nullable=False),
    Column("kind", String(32), nullable=False),  # threshold | exhausted | turnover | …
    # The percent as text, an override's id, …; "" when the kind has none.
    Column("threshold", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("acknowledged_at", UTCDateTime),
    Column("fanned_out", Integer, nullable=False, server_default="0"),  # 1: deliveries queued
    Index("ux_alert_events_once", "budget_id", "window_index", "kind", "threshold", unique=True),
    Index("ix_alert_events_created", "created_at"),
    Index("ix_alert_events_fan_out", "fanned_out", "id"),
)

overrides = Table(
    "overrides",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("budget_id", String(64), ForeignKey("budgets.id"), nullable=False, index=True),
    Column("requested_by", String(200), nullable=False),
    Column("amount_nano", BigInteger, nullable=False),
    Column("models", JSON),
    Column("reason", String(2000), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | denied
    Column("decided_by", String(200)),
    Column("decided_at", UTCDateTime),
    Column("decision_reason", String(2000)),
    Column("consumed_nano", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

extensions = Table(
    "extensions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("budget_id", String(64), ForeignKey("budgets.id"), nullable=False, index=True),
    Column("amount_nano", BigInteger, nullable=False),
    Column("reason", String(2000), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_audit_log_target", "target_type", "target_id"),
)

# --- Rate limits (issue: gateway) ----------------------------------------------------------

# Requests and tokens per minute on one key, user, team or organisation (one limit a scope).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("scope_type", String(16), nullable=False),  # key | user | team | organization
    Column("scope_id", String(200), nullable=False),
    Column("requests_per_minute", BigInteger),  # null: no request limit
    Column("tokens_per_minute", BigInteger),  # null: no token limit
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ux_rate_limits_scope", "scope_type", "scope_id", unique=True),
)

# What each limited scope admitted in one UTC minute (when Redis does not keep the counters).
rate_counters = Table(
    "rate_counters",
    metadata,
    Column("scope_type", String(16), primary_key=True),
    Column("scope_id", String(200), primary_key=True),
    Column("window_start", UTCDateTime, primary_key=True),  # the minute's first instant
    Column("requests", BigInteger, nullable=False),
    Column("tokens", BigInteger, nullable=False),
    Index("ix_rate_counters_window", "window_start"),
)

# --- Selection (issue: selection) ----------------------------------------------------------

# One row per live decision of the gateway, written with the request's first usage record.
decisions = Table(
    "decisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("request_id", String(128), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("requested_model", String(200)),
    Column("model", String(200)),  # the selected model (None: no candidate was eligible)
    Column("strategy", String(32), nullable=False),
    Column("task_type", String(32), nullable=False),
    Column("key_id", String(64)),
    Column("user_id", String(64)),
    Column("team_id", String(64)),
    Column("org_id", String(64)),
    Column("estimated_cost_nano", BigInteger),
    Column("body", JSON, nullable=False),  # the whole explanation (profile, rules, candidates)
    Index("ix_decisions_created", "created_at"),
)

# Quality feedback on one answered request (one per request; a second one replaces it).
feedback = Table(
    "feedback",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("task_type", String(32), nullable=False),
    Column("score", DecimalText, nullable=False),  # 0..1
    Column("key_id", String(64)),
    Column("comment", String(2000)),
    Column("created_at", UTCDateTime, nullable=False),
)

# What feedback says of each model per task type: count and sum of scores.
model_quality = Table(
    "model_quality",
    metadata,
    Column("model", String(200), primary_key=True),
    Column("task_type", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("score_sum", DecimalText, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Steering rules managed through the API (one row), in effect after the config file's rules.
stored_rules = Table(
    "stored_rules",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("rules", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


#: Usage summed per hour and per day (``grain``) and per attribution, kept by the settlement
#: that writes each usage record: cost analysis reads these, never the records. Attribution
#: columns hold "" for none (a NULL would make every row of a unique key distinct).
_SUMS = ("requests", "ok_requests", "input_tokens", "cached_input_tokens", "output_tokens")


def _sum_columns() -> list[Column[int]]:
    return [
        *(Column(name, BigInteger, nullable=False) for name in _SUMS),
        Column("cost_nano", BigInteger, nullable=False),
    ]


usage_rollups = Table(
    "usage_rollups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grain", String(8), nullable=False),  # hour | day
    Column("bucket", UTCDateTime, nullable=False),
    Column("org_id", String(64), nullable=False),
    Column("team_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("provider", String(200), nullable=False),
    Column("task_type", String(32), nullable=False),
    *_sum_columns(),
    Index(
        "ux_usage_rollups",
        "grain",
        "bucket",
        "org_id",
        "team_id",
        "user_id",
        "key_id",
        "model",
        "provider",
        "task_type",
        unique=True,
    ),
)

usage_tag_rollups = Table(
    "usage_tag_rollups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grain", String(8), nullable=False),
    Column("bucket", UTCDateTime, nullable=False),
    Column("tag", String(200), nullable=False),
    Column("org_id", String(64), nullable=False),
    Column("team_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    *_sum_columns(),
    Index(
        "ux_usage_tag_rollups",
        "grain",
        "bucket",
        "tag",
        "org_id",
        "team_id",
        "user_id",
        "model",
        unique=True,
    ),
)

usage_cube = Table(
    "usage_cube",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("grain", String(8), nullable=False),
    Column("bucket", UTCDateTime, nullable=False),
    Column("scope_type", String(8), nullable=False),  # all | org | team | user
    Column("scope_id", String(64), nullable=False),
    Column("dimension", String(16), nullable=False),  # total | team_id | … | tag
    Column("value", String(200), nullable=False),
    *_sum_columns(),
    Index(
        "ux_usage_cube",
        "grain",
        "scope_type",
        "scope_id",
        "dimension",
        "bucket",
        "value",
        unique=True,
    ),
)

#: Each distinct request preamble (``analytics.prefixes``) per day, model and attribution.
prompt_prefixes = Table(
    "prompt_prefixes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", UTCDateTime, nullable=False),
    Column("fingerprint", String(32), nullable=False),
    Column("org_id", String(64), nullable=False),
    Column("team_id", String(64), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("model", String(200), nullable=False),
    Column("tokens", BigInteger, nullable=False),  # the preamble's tokens on this model
    Column("requests", BigInteger, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Index(
        "ux_prompt_prefixes",
        "day",
        "fingerprint",
        "org_id",
        "team_id",
        "user_id",
        "key_id",
        "model",
        unique=True,
    ),
)

#: The text of each preamble, kept once (when ``analytics.store_prompts`` is on).
prompt_texts = Table(
    "prompt_texts",
    metadata,
    Column("fingerprint", String(32), primary_key=True),
    Column("excerpt", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("truncated", Integer, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
)

# --- Alerts and integrations (issue: alerts) -----------------------------------------------

#: Where alert events are sent: a generic signed webhook or a Slack-compatible incoming webhook,
#: for the events of one scope (and what lies inside it), or of everything when the scope is null.
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # webhook | slack
    Column("url", String(2000), nullable=False),
    Column("secret", String(128)),  # the webhook's signing secret; null for Slack
    Column("scope_type", String(16)),
    Column("scope_id", String(200)),
    Column("events", JSON),  # the event kinds sent; null: every kind
    Column("enabled", Integer, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),  # a process is sending this channel's queue until then
    Column("lease_owner", String(64)),
)

#: The durable queue and log: one row per (channel, event), sent in event order per channel.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "channel_id",
        String(64),
        ForeignKey("alert_channels.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status", Integer),  # the receiver's HTTP status of the last attempt
    Column("last_error", String(500)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Index("ux_alert_deliveries_once", "channel_id", "event_id", unique=True),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)

#: Systems that may post to the inbound webhooks, each with its own signing secret.
webhook_senders = Table(
    "webhook_senders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("kinds", JSON, nullable=False),  # cost-data | budget-alert | model-cost-update
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

#: Each inbound event once, by its sender's event id, with what it did (a retry gets this).
inbound_events = Table(
    "inbound_events",
    metadata,
    Column("sender_id", String(64), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("result", JSON, nullable=False),
)

#: Each invoice or usage export matched against the ledger, with its report.
reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("layout", String(16), nullable=False),
    Column("options", JSON, nullable=False),
    Column("report", JSON, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("adjusted_at", UTCDateTime),
)

# --- Dashboard (issue: dashboard) -----------------------------------------------------------

#: A signed-in dashboard session: the hash of its cookie token and the hash of the API key it
#: was opened with (the key itself is never stored), so a revoked key ends its sessions.
dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_dashboard_sessions_expires", "expires_at"),
)
