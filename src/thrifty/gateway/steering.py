"""Steering at the gateway's edge: gather what DESIGN steps 2–5 need, then run them.

The pure steps (``routing.analysis``, ``rules``, ``budgets.policy``, ``routing.selection``) get
their inputs from here: the budget states of the caller's chain (a snapshot at most
:data:`BUDGET_VIEW_TTL_S` old — steering only; the ledger decides refusals from fresh rows),
the rules in effect, the feedback record, the circuits' view of each upstream and, when one is
configured, the learned router. The outcome is the chain of models to try and the decision
record the first settlement stores.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import anyio.to_thread

from thrifty.budgets.model import BudgetState, Scope
from thrifty.budgets.money import hold_nano
from thrifty.budgets.overrides import Override, matching_override
from thrifty.budgets.policy import Downgrading, restrictions_for
from thrifty.budgets.principal import Principal, chain_scopes
from thrifty.budgets.thresholds import percent_used
from thrifty.config.schema import AliasConfig, SelectionConfig
from thrifty.errors import BudgetRefused, InvalidInput, PermissionDenied, UnknownModel
from thrifty.pricing.estimate import PricedRequest
from thrifty.providers.health import CircuitState, ProviderHealth
from thrifty.routing.analysis import RequestProfile, analyse
from thrifty.routing.candidates import Observed, build_candidates
from thrifty.routing.feedback import QualityBook
from thrifty.routing.impact import budget_impact
from thrifty.routing.registry import ModelRegistry
from thrifty.routing.selection import Candidate, Decision, select_model
from thrifty.routing.strategy import Strategy, parse_quality_requirement
from thrifty.rules import Directive, RuleContext, RuleSet
from thrifty.storage import balances, budgets_repo
from thrifty.storage.database import Database
from thrifty.storage.selection_repo import DecisionRecord, new_decision_id

AUTO = "auto"
BUDGET_VIEW_TTL_S = 1.0
_MAX_VIEWS = 10_000
#: Exclusion reasons that come from budgets (a request none of whose candidates passes them
#: is refused with 402, not 400).
_BUDGET_REASONS = ("blocked by a budget", "worst case over", "needs approval", "restricted at")


@dataclass(frozen=True)
class BudgetView:
    states: tuple[BudgetState, ...]
    overrides: tuple[Override, ...]


class BudgetViews:
    """Budget states per chain, re-read when older than the TTL (one read per chain a second)."""

    def __init__(self, database: Database, ttl_s: float = BUDGET_VIEW_TTL_S) -> None:
        self.database = database
        self.ttl_s = ttl_s
        self._views: dict[tuple[Scope, ...], tuple[float, BudgetView]] = {}
        self._lock = threading.Lock()

    def _read(self, scopes: tuple[Scope, ...], now: datetime) -> BudgetView:
        def read(conn: Any) -> BudgetView:
            specs = budgets_repo.specs_for_scopes(conn, scopes)
            states = balances.budget_states(conn, specs, now)
            overrides = balances.active_overrides(conn, [s.spec.id for s in states], now)
            return BudgetView(tuple(states), tuple(overrides))

        return self.database.read(read)

    async def get(self, scopes: tuple[Scope, ...], now: datetime) -> BudgetView:
        cached = self._views.get(scopes)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        view = await anyio.to_thread.run_sync(self._read, scopes, now)
        with self._lock:
            if len(self._views) >= _MAX_VIEWS:
                self._views.clear()
            self._views[scopes] = (time.monotonic(), view)
        return view


class RuleRefusal(PermissionDenied):
    """A rule denied the request (403)."""

    code = "denied_by_rule"

    def __init__(self, message: str, directive: Directive) -> None:
        super().__init__(message, field="model")
        self.directive = directive


class RuleApprovalRequired(RuleRefusal):
    """A rule requires an approval the request does not have (403)."""

    code = "rule_requires_approval"


@dataclass(frozen=True)
class Steered:
    """What steering decided for one request."""

    chain: list[str]  # model ids, best first
    decision: Decision
    directive: Directive
    profile: RequestProfile
    record: DecisionRecord

    @property
    def max_tokens(self) -> int | None:
        """A rule's cap on output tokens, when one applies."""
        return self.directive.max_tokens

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags the rules added."""
        return self.directive.tags


@dataclass(frozen=True, slots=True)
class SteeringInput:
    """One chat request as steering sees it."""

    path: str
    requested_model: str
    messages: Sequence[Mapping[str, Any]]
    max_tokens: int | None
    tools: Sequence[Mapping[str, Any]] | None = None
    system: Any = None
    response_format: Mapping[str, Any] | None = None
    quality: str | None = None  # the x-thrifty-quality header


def observed(registry: ModelRegistry, health: ProviderHealth) -> dict[str, Observed]:
    """The circuits' view of each registered model (latency, error rate, rotation)."""
    views = health.views()
    found: dict[str, Observed] = {}
    for profile in registry:
        view = views.get((profile.provider, profile.id))
        if view is None:
            continue
        rate = view.recent_failures / view.recent_calls if view.recent_calls else 0.0
        found[profile.id] = Observed(
            latency_ms=float(view.last_latency_ms) if view.last_latency_ms else None,
            error_rate=rate,
            in_rotation=view.state is not CircuitState.OPEN,
        )
    return found


def check_requested(registry: ModelRegistry, principal: Principal, model: str) -> None:
    """The model a client named must be registered and allowed for its key."""
    if model not in registry:
        raise UnknownModel(f"The model '{model}' does not exist", field="model")
    if not principal.may_use(model):
        raise PermissionDenied(f"this key may not use model '{model}'", field="model")


def _fallbacks(registry: ModelRegistry) -> dict[str, tuple[str, ...]]:
    return {profile.id: profile.fallbacks for profile in registry}


def percent_by_scope(states: Sequence[BudgetState]) -> dict[str, Decimal]:
    """Scope type → the highest percent used among the chain's budgets of that type."""
    found: dict[str, Decimal] = {}
    for state in states:
        if state.limit_nano <= 0:
            continue
        percent = percent_used(state.used_nano, state.limit_nano)
        kind = state.spec.scope.type.value
        found[kind] = max(found.get(kind, Decimal(0)), percent)
    return found


def _approved(view: BudgetView, model: str | None, priority: Any, now: datetime) -> bool:
    """Whether an approved override of a budget of the chain covers this request."""
    return any(
        matching_override(view.overrides, state.spec, model=model, priority=priority, now=now)
        is not None
        for state in view.states
    )


def _refusal(decision: Decision, restrictions_blocking: str | None) -> Exception:
    reasons = "; ".join(f"{a.model}: {a.reason}" for a in decision.alternatives)
    if any(a.reason.startswith(_BUDGET_REASONS) for a in decision.alternatives):
        return BudgetRefused(
            f"no candidate model fits the budget restrictions ({reasons})",
            reason="budget_exceeded",
            budget_id=restrictions_blocking,
        )
    return InvalidInput(f"no model can serve this request ({reasons})", field="model")


@dataclass
class Steering:
    """Steps 2–5 for the gateway (and the selection API, which passes ``dry_run``)."""

    database: Database
    health: ProviderHealth
    selection: SelectionConfig
    aliases: Mapping[str, AliasConfig]
    rules: Any  # gateway.rulebook.RuleBook: .get() -> RuleSet
    quality: Any  # VersionedCache[QualityBook]
    router: Any = None  # routing.learned.LearnedRouter, when configured
    router_min_quality: float | None = None  # the router's operating point
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        self.budgets = BudgetViews(self.database)
        if self.rng is None:
            self.rng = random.Random()  # noqa: S311 - exploration, not security

    async def steer(
        self,
        request: SteeringInput,
        principal: Principal,
        registry: ModelRegistry,
        *,
        priority: Any,
        tags: tuple[str, ...],
        metadata: Mapping[str, Any],
        request_id: str,
        now: datetime,
        rules: RuleSet | None = None,
    ) -> Steered:
        """Steer one request. ``rules`` replaces the rules in effect (the rule tester)."""
        requested = request.requested_model
        alias = self.aliases.get(requested)
        automatic = requested == AUTO or alias is not None
        if not automatic:
            check_requested(registry, principal, requested)
        profile = analyse(
            request.messages, max_tokens=request.max_tokens, tools=request.tools,
            response_format=request.response_format, system=request.system,
        )  # fmt: skip
        view = await self.budgets.get(chain_scopes(replace(principal, tags=tags)), now)
        restrictions = restrictions_for(
            view.states, priority=priority, overrides=view.overrides, now=now
        )
        priced = PricedRequest(
            request.messages, request.max_tokens, request.tools, request.system,
            profile.task_type.value,
        )  # fmt: skip
        book: QualityBook = self.quality.get()
        learned = self.router.predict(request.messages) if self.router is not None else None
        candidates = build_candidates(
            profile, priced, registry, registry.profiles, now, allowed=principal.may_use,
            observed=observed(registry, self.health), book=book, learned=learned, rng=self.rng,
        )  # fmt: skip
        by_id = {c.model: c for c in candidates}
        fit = [c for c in candidates if c.unfit is None]
        reference = by_id.get(requested)
        estimated = (
            reference.estimated_cost
            if reference is not None
            else max((c.estimated_cost for c in fit), default=Decimal(0))
        )
        directive = (rules if rules is not None else self.rules.get()).evaluate(
            RuleContext(
                path=request.path, requested_model=requested, org_id=principal.org_id,
                team_id=principal.team_id, user_id=principal.user_id, key_id=principal.key_id,
                tags=tags, metadata=metadata, task_type=profile.task_type.value,
                complexity=profile.complexity, input_tokens=profile.input_tokens,
                estimated_cost=estimated, budget_percent=percent_by_scope(view.states),
                priority=priority.value, now=now,
            )
        )  # fmt: skip
        if directive.deny is not None:
            raise RuleRefusal(
                f"denied by rule {directive.denied_by!r}: {directive.deny}", directive
            )
        if directive.require_approval is not None and not _approved(
            view, None if automatic else requested, priority, now
        ):
            raise RuleApprovalRequired(
                f"rule requires approval: {directive.require_approval}; request an override "
                "(POST /api/v1/overrides) and send the request as critical once it is approved",
                directive,
            )
        if directive.budget_scope not in (None, "any"):
            scoped = [s for s in view.states if s.spec.scope.type.value == directive.budget_scope]
            restrictions = restrictions_for(
                scoped, priority=priority, overrides=view.overrides, now=now
            )
        strategy, share, source = self._settings(request, principal, directive, alias)
        if learned is not None and source == "default":
            share, source = self._router_requirement(learned, candidates, share)
        cost_limit = directive.cost_limit
        if cost_limit is None and alias is not None:
            cost_limit = alias.cost_limit
        selecting = (
            directive.strategy is not None
            or directive.candidates is not None
            or (directive.quality_requirement is not None or directive.cost_limit is not None)
        )
        pool: list[str]
        passthrough = False
        if directive.route_to is not None:
            if directive.route_to not in registry:
                raise InvalidInput(
                    f"rule routes to {directive.route_to!r}, which is not registered",
                    field="model",
                )
            pool, reference, passthrough = [directive.route_to], None, True
        elif directive.candidates is not None:
            pool = list(directive.candidates)
        elif alias is not None and alias.candidates is not None:
            pool = list(alias.candidates)
        elif automatic or selecting or restrictions.model_downgrading is not Downgrading.NONE:
            pool = list(by_id)
        else:
            pool, passthrough = [requested], True
        chosen = [by_id[m] for m in pool if m in by_id]
        if passthrough:  # the client's (or a rule's) model: the upstream judges its fitness
            chosen = [c._replace(unfit=None) for c in chosen]
        decision = select_model(
            chosen,
            strategy=strategy,
            quality_requirement=share,
            cost_limit=cost_limit,
            restrictions=restrictions,
            reference=reference.model if reference is not None else None,
            configured_fallbacks=registry.derived("fallbacks", _fallbacks),
            fallback_chain=directive.fallback_chain,
            max_fallbacks=self.selection.max_fallbacks,
        )
        if decision.model is None and not passthrough:
            raise _refusal(decision, restrictions.blocking_budget)
        if passthrough:
            first = pool[0]
            fallbacks = registry.profiles[first].fallbacks if directive.fallback_chain else ()
            chain = [first, *(m for m in fallbacks if principal.may_use(m))]
        else:
            assert decision.model is not None
            chain = [decision.model, *decision.fallbacks]
        decision_id = new_decision_id()
        estimated_cost = decision.estimated_cost
        if estimated_cost is None and chosen:  # the client's or a rule's model, excluded by a
            estimated_cost = chosen[0].estimated_cost  # budget: the ledger will refuse it
        impact = budget_impact(view.states, hold_nano(estimated_cost or Decimal(0)))
        path, route = request.path, tuple(chain)

        def explain() -> dict[str, Any]:
            return {
                "decisionId": decision_id,
                "path": path,
                "profile": profile.json(),
                "qualitySource": source,
                "rules": directive.json(),
                "chain": list(route),
                "budgetImpact": impact,
                **decision.json(),
            }

        record = DecisionRecord(
            id=decision_id,
            request_id=request_id,
            requested_model=requested,
            model=chain[0],
            strategy=decision.strategy.value,
            task_type=profile.task_type.value,
            key_id=principal.key_id,
            user_id=principal.user_id,
            team_id=principal.team_id,
            org_id=principal.org_id,
            estimated_cost_nano=None if estimated_cost is None else hold_nano(estimated_cost),
            explain=explain,
        )
        return Steered(chain, decision, directive, profile, record)

    def _router_requirement(
        self, learned: Mapping[str, float], candidates: Sequence[Candidate], share: float
    ) -> tuple[float, str]:
        """The learned router's operating point as a quality requirement: the share that makes
        cost-aware selection choose the router's pick among the fit models it knows."""
        fit = {c.model: c for c in candidates if c.unfit is None and c.model in learned}
        if not fit or self.router_min_quality is None:
            return share, "default"
        # The router's cost weight is calibrated against its strongest model's cost in
        # training; here prices differ, so costs are taken relative to the strongest model's
        # cost for this request (else the most expensive fit one), in the router's units.
        strongest = fit.get(self.router.strongest_model)
        unit = (strongest or max(fit.values(), key=lambda c: c.estimated_cost)).estimated_cost
        scale = float(self.router.reference_cost) / float(unit) if unit > 0 else 0.0
        requirement = self.router.quality_requirement(
            {m: learned[m] for m in fit},
            {m: float(c.estimated_cost) * scale for m, c in fit.items()},
            min_quality=self.router_min_quality,
        )
        return requirement, "router"

    def _settings(
        self,
        request: SteeringInput,
        principal: Principal,
        directive: Directive,
        alias: AliasConfig | None,
    ) -> tuple[Strategy, float, str]:
        """Strategy and quality requirement: header, rule, key, alias, configured default."""
        strategy = (
            directive.strategy
            or principal.default_strategy
            or (alias.strategy if alias is not None else None)
            or self.selection.strategy
        )
        if request.quality is not None:
            share = parse_quality_requirement(request.quality, field="x-thrifty-quality")
            return Strategy(strategy), share, "header"
        for source, value in (
            ("rule", directive.quality_requirement),
            ("key", principal.default_quality),
            ("alias", alias.quality_requirement if alias is not None else None),
            ("default", self.selection.quality_requirement),
        ):
            if value is not None:
                return Strategy(strategy), parse_quality_requirement(value, field=source), source
        raise AssertionError("the configured default is always set")
