"""The demo set-up ``thrifty serve`` makes on the built-in demo configuration: one
organisation, team and user with an API key and a monthly budget, so the gateway can be tried
at once with any OpenAI or Anthropic SDK."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, select

from thrifty.budgets.model import BudgetSpec, Scope, ScopeType
from thrifty.budgets.periods import Period, PeriodKind
from thrifty.budgets.principal import Role
from thrifty.storage import budgets_repo, directory_repo
from thrifty.storage.database import Database
from thrifty.storage.schema import orgs

DEMO_BUDGET_NANO = 25 * 1_000_000_000  # 25 USD a month for the demo team


def provision_demo(database: Database, now: datetime) -> str | None:
    """Create the demo principal on an empty database; returns the new key's secret, or None
    when the database already has an organisation (nothing is changed then)."""

    def write(conn: Connection) -> str | None:
        if conn.execute(select(orgs.c.id).limit(1)).first() is not None:
            return None
        actor = "demo"
        directory_repo.insert_org(
            conn, org_id="demo", name="Demo organisation", actor=actor, now=now
        )
        directory_repo.insert_team(
            conn, team_id="demo-team", org_id="demo", name="Demo team", actor=actor, now=now
        )
        directory_repo.insert_user(
            conn,
            user_id="demo-user",
            team_id="demo-team",
            name="Demo user",
            email=None,
            role=Role.TEAM_ADMIN,
            actor=actor,
            now=now,
        )
        _, secret = directory_repo.insert_key(
            conn,
            user_id="demo-user",
            name="demo key",
            allowed_models=None,
            tags=[],
            default_priority=None,
            expires_at=None,
            actor=actor,
            now=now,
        )
        spec = BudgetSpec(
            id="demo-team-monthly",
            scope=Scope(ScopeType.TEAM, "demo-team"),
            limit_nano=DEMO_BUDGET_NANO,
            period=Period(PeriodKind.MONTHLY, date(now.year, now.month, 1)),
        )
        budgets_repo.insert_budget(conn, spec, "Demo team, monthly", now)
        return secret

    return database.write(write)
