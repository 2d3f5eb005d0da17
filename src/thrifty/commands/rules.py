"""``thrifty rules test``: try a request against a config's rules, without calling a model.

Runs the gateway's own steering — analysis, the config file's rules, the budgets of the chain
named by ``--as`` (read from the database), selection — and prints which rules matched, in
what order, why the others did not, and the decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from thrifty.api.selection import SelectBody
from thrifty.app import build_steering, load_directory, load_registry, prepare_database, utc_now
from thrifty.budgets.model import Priority, Scope, ScopeType, parse_scope_type
from thrifty.budgets.principal import DirectoryFacts, Principal
from thrifty.config.loader import load_config
from thrifty.errors import InvalidInput
from thrifty.gateway.steering import RuleRefusal
from thrifty.providers.health import ProviderHealth
from thrifty.settings import Settings
from thrifty.storage.database import Database


def add_commands(commands: Any) -> None:
    rules = commands.add_parser("rules", help="work with steering rules")
    sub = rules.add_subparsers(dest="rules_command", required=True, metavar="SUBCOMMAND")
    test = sub.add_parser("test", help="show which rules a request matches and the decision")
    test.add_argument("--config", help="YAML config file (THRIFTY_CONFIG, default: built-in demo)")
    test.add_argument(
        "--request",
        required=True,
        help="JSON file: a chat request, or a body of POST /api/v1/rules/test",
    )
    test.add_argument(
        "--as",
        dest="as_scope",
        metavar="SCOPE",
        help="whose budgets apply: team:ID, user:ID, key:ID, organization:ID or tag:NAME",
    )
    test.add_argument("--database-url", help="database URL (THRIFTY_DATABASE_URL)")
    test.set_defaults(run=run_rules_test)


def read_request(path: str) -> SelectBody:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}", field="--request") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}:{exc.lineno}: not JSON: {exc.msg}", field="--request") from None
    if isinstance(data, dict) and "messages" in data:
        data = {"request": data}
    try:
        return SelectBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise InvalidInput(f"{path}: {where}: {first['msg']}", field=where) from None


def principal_as(text: str | None, facts: DirectoryFacts) -> Principal:
    """The chain of ``--as`` (its parents filled from the directory)."""
    if text is None:
        return Principal.admin()
    kind, _, identifier = text.partition(":")
    scope = Scope(parse_scope_type(kind, field="--as"), identifier.strip())
    key = scope.id if scope.type is ScopeType.KEY else None
    user = scope.id if scope.type is ScopeType.USER else facts.key_user.get(key or "")
    team = scope.id if scope.type is ScopeType.TEAM else facts.user_team.get(user or "")
    org = scope.id if scope.type is ScopeType.ORGANIZATION else facts.team_org.get(team or "")
    tags = (scope.id,) if scope.type is ScopeType.TAG else ()
    known = {
        ScopeType.KEY: facts.key_user, ScopeType.USER: facts.user_team,
        ScopeType.TEAM: facts.team_org, ScopeType.ORGANIZATION: set(facts.team_org.values()),
        ScopeType.TAG: {scope.id},
    }[scope.type]  # fmt: skip
    if scope.id not in known:
        raise InvalidInput(f"--as: no {scope.type} {scope.id!r} in the database", field="--as")
    return Principal(key, user, team, org, tags)


def run_rules_test(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    loaded = load_config(args.config or settings.config)
    body = read_request(args.request)
    database = Database(args.database_url or settings.database_url)
    try:
        now = utc_now()
        prepare_database(database, loaded, now)
        registry = load_registry(database).refresh()
        facts = load_directory(database).refresh().facts
        principal = principal_as(args.as_scope, facts)
        steering, rules, quality = build_steering(database, loaded, ProviderHealth())
        rules.refresh(force=True)  # the config file's rules and those stored through the API
        quality.refresh()
        steering.rng = None  # the tester shows the expected choice, without exploration
        request = body.steering_input()

        async def steer() -> Any:
            return await steering.steer(
                request, principal, registry,
                priority=body.priority or Priority.NORMAL,
                tags=tuple(dict.fromkeys([*principal.tags, *body.tags])),
                metadata=body.metadata, request_id="rules-test", now=now,
            )  # fmt: skip

        try:
            steered = anyio.run(steer)
        except RuleRefusal as refusal:
            report = {"directive": refusal.directive.json(), "refused": refusal.message}
        else:
            decision = dict(steered.record.body)
            decision.pop("decisionId", None)
            report = {
                "directive": steered.directive.json(),
                "selectedModel": steered.chain[0],
                "decision": decision,
            }
    finally:
        database.close()
    report = {"matched": report["directive"]["matched"], **report}
    json.dump(report, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
    return 0
