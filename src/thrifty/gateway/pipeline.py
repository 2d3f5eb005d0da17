"""One chat call's way through the gateway: price, hold, call, settle (DESIGN steps 1, 6–8).

The endpoints (``openai_api``, ``anthropic_api``) parse and answer; this module owns the money:
every attempt on an upstream holds its worst-case cost first and is settled exactly once with
the cost of the usage the upstream reports (or that was counted, when it reports none or an
implausible one), so each upstream call leaves exactly one usage record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
from genai_prices.types import ModelPrice
from sqlalchemy import Connection

from thrifty.analytics.prefixes import Preamble, fingerprint, preamble_text
from thrifty.api.state import AppState
from thrifty.budgets.model import Priority
from thrifty.budgets.money import format_usd, hold_nano, settlement_nano
from thrifty.budgets.principal import Principal, chain_scopes
from thrifty.config.schema import ProviderConfig
from thrifty.errors import BudgetRefused, StorageError
from thrifty.gateway import tracing
from thrifty.gateway.steering import Steered, Steering, SteeringInput, check_requested
from thrifty.pricing.catalog import TokenUsage, cost_of
from thrifty.pricing.output import predict_output_tokens
from thrifty.pricing.tokens import TokenCount, count_chat, count_text
from thrifty.providers.client import UpstreamClient
from thrifty.providers.health import ProviderHealth, outcome_of
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.models import ModelProfile
from thrifty.storage import ledger, rollups, selection_repo
from thrifty.storage.selection_repo import DecisionRecord

#: Inexact (approximated) token counts are held with this margin, so a hold still covers the
#: real bill when the approximation undercounts (p90 error measured at about 6%).
INEXACT_MARGIN = Decimal("1.25")
#: A hold lives this long past the provider's own timeout before it expires by itself.
HOLD_GRACE_S = 60
#: Pauses between attempts to settle while the database is unreachable (then a last try).
SETTLE_RETRY_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0, 5.0)
log = logging.getLogger("thrifty.gateway")


@dataclass(frozen=True)
class CallContext:
    """Who calls and how the call is marked; fixed for all attempts of one request."""

    request_id: str
    principal: Principal
    priority: Priority
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    decision: DecisionRecord | None = None  # stored with the first attempt's settlement
    task_type: str | None = None  # from the request's analysis, when it was steered


@dataclass
class Attempt:
    """One try on one model: its hold, price and the tokens counted before the call."""

    hold_id: str
    profile: ModelProfile
    provider: ProviderConfig
    client: UpstreamClient
    price: ModelPrice
    input_count: TokenCount
    preamble: Preamble | None = None  # the first attempt's, for cost analysis
    started: float = field(default_factory=time.perf_counter)
    first_byte: float | None = None

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    @property
    def ttft_ms(self) -> int | None:
        return None if self.first_byte is None else int((self.first_byte - self.started) * 1000)


@dataclass(frozen=True)
class Billing:
    """What an attempt is billed: cost, the usage it stands for, whether it was counted by us
    rather than reported, and the disagreement when a report was not believed."""

    cost: Decimal
    usage: Reported
    estimated: bool
    mismatch: dict[str, list[int]] | None


@dataclass(frozen=True)
class Reported:
    """Usage an upstream reported (tokens; input includes cached)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class Gateway:
    def __init__(
        self,
        state: AppState,
        clients: Mapping[str, UpstreamClient],
        health: ProviderHealth | None = None,
        steering: Steering | None = None,
    ) -> None:
        self.state = state
        self.clients = clients
        self.providers = {p.name: p for p in state.config.config.providers}
        self.health = health if health is not None else ProviderHealth()
        self.steering = steering

    def chain(self, model_id: str, principal: Principal) -> list[ModelProfile]:
        """The requested model, then its fallbacks the key may use, without those whose
        circuit is open (``providers.health``); ``CircuitOpen`` (503) when none is left."""
        registry = self.state.registry.get()
        check_requested(registry, principal, model_id)
        profile = registry.profiles[model_id]
        chain = [profile]
        for fallback in profile.fallbacks:
            other = registry.profiles.get(fallback)
            if other is not None and principal.may_use(fallback) and other not in chain:
                chain.append(other)
        return self.in_rotation(chain)

    async def steer(
        self, ctx: CallContext, request: SteeringInput
    ) -> tuple[CallContext, list[ModelProfile], Steered]:
        """Analyse, apply the rules and budgets, select (``gateway.steering``); the context
        then carries the rules' tags and the decision, and the chain is what may be called."""
        assert self.steering is not None
        registry = self.state.registry.get()
        started = time.perf_counter()
        steered = await self.steering.steer(
            request, ctx.principal, registry, priority=ctx.priority, tags=ctx.tags,
            metadata=ctx.metadata, request_id=ctx.request_id, now=self.state.now(),
        )  # fmt: skip
        self.state.metrics.decision_time.observe(time.perf_counter() - started)
        tags = tuple(dict.fromkeys([*ctx.tags, *steered.tags]))
        ctx = replace(
            ctx,
            tags=tags,
            principal=replace(ctx.principal, tags=tags),
            decision=steered.record,
            task_type=steered.profile.task_type.value,
        )
        chain = [registry.profiles[m] for m in dict.fromkeys(steered.chain)]
        return ctx, self.in_rotation(chain), steered

    def in_rotation(self, chain: Sequence[ModelProfile]) -> list[ModelProfile]:
        """The models of ``chain`` whose circuit admits a call now (the first may probe)."""
        profile = chain[0]
        in_rotation: list[ModelProfile] = []
        for candidate in chain:
            if self.health.admit(candidate.provider, candidate.id, may_probe=not in_rotation):
                in_rotation.append(candidate)
        if not in_rotation:
            raise self.health.out_of_rotation(profile.provider, profile.id)
        return in_rotation

    def context(
        self,
        request_id: str,
        principal: Principal,
        priority: Priority | None,
        tags: Sequence[str],
        metadata: Mapping[str, Any],
    ) -> CallContext:
        merged = tuple(dict.fromkeys([*principal.tags, *tags]))
        return CallContext(
            request_id=request_id,
            principal=replace(principal, tags=merged),
            priority=priority or principal.default_priority or Priority.NORMAL,
            tags=merged,
            metadata=dict(metadata),
        )

    async def hold(
        self,
        ctx: CallContext,
        profile: ModelProfile,
        attempt_no: int,
        *,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        system: Any = None,
    ) -> Attempt:
        """Count, price and hold the worst case of one attempt; BudgetRefused if it does not fit."""
        counted = count_chat(messages, tokenizer_model(profile), tools=tools, system=system)
        prediction = predict_output_tokens(
            messages, max_tokens=max_tokens, model_max_output=profile.max_output_tokens
        )
        attempt = await self.hold_tokens(ctx, profile, attempt_no, counted, prediction.worst_case)
        if attempt_no == 0:
            attempt.preamble = self.preamble(messages, system, profile)
        return attempt

    def preamble(
        self, messages: Sequence[Mapping[str, Any]], system: Any, profile: ModelProfile
    ) -> Preamble | None:
        """The request's shared part (system prompt, examples), when it has one."""
        text = preamble_text(messages, system)
        if not text:
            return None
        tokens = count_text(text, tokenizer_model(profile)).tokens
        return Preamble(fingerprint(text), text, tokens)

    async def hold_tokens(
        self,
        ctx: CallContext,
        profile: ModelProfile,
        attempt_no: int,
        counted: TokenCount,
        worst_output_tokens: int,
    ) -> Attempt:
        """Hold the worst case of ``counted`` input and ``worst_output_tokens`` of output."""
        now = self.state.now()
        price = self.state.registry.get().price_of(profile.id, now).price
        input_tokens = counted.tokens
        if not counted.exact:
            input_tokens = int(Decimal(input_tokens) * INEXACT_MARGIN) + 1
        worst = cost_of(price, TokenUsage(input_tokens, worst_output_tokens))
        provider = self.providers[profile.provider]
        hold_id = ctx.request_id if attempt_no == 0 else f"{ctx.request_id}/{attempt_no}"
        principal = ctx.principal
        charge = ledger.Charge(
            request_id=hold_id,
            scopes=chain_scopes(principal),
            amount_nano=hold_nano(worst),
            expires_at=now + timedelta(seconds=provider.timeout_s + HOLD_GRACE_S),
            model=profile.id,
            priority=ctx.priority,
            key_id=principal.key_id,
            user_id=principal.user_id,
            team_id=principal.team_id,
            org_id=principal.org_id,
            tags=ctx.tags,
        )
        result = await self.state.database.awrite(lambda conn: ledger.reserve(conn, charge, now))
        if result.refusal is not None:
            refusal = result.refusal
            raise BudgetRefused(refusal.message, reason=refusal.reason, budget_id=refusal.budget_id)
        return Attempt(hold_id, profile, provider, self.clients[provider.name], price, counted)

    def cost(self, attempt: Attempt, reported: Reported | None, output_text: str) -> Billing:
        """The cost of an attempt: from the reported usage when it is plausible, else counted.

        An implausible report is billed at the larger of each figure (never less than the
        upstream will invoice, never less than what was counted) and flagged."""
        counted_output = (
            count_text(output_text, tokenizer_model(attempt.profile)).tokens if output_text else 0
        )
        counted = Reported(attempt.input_count.tokens, counted_output)
        usage, estimated, mismatch = counted, True, None
        if reported is not None and _plausible(reported, counted, attempt.input_count.exact):
            usage, estimated = reported, False
        elif reported is not None:
            usage = Reported(
                max(reported.input_tokens, counted.input_tokens),
                max(reported.output_tokens, counted.output_tokens),
                reported.cached_input_tokens,
                reported.cache_write_tokens,
                reported.reasoning_tokens,
            )
            mismatch = {
                "reported": [reported.input_tokens, reported.output_tokens],
                "counted": [counted.input_tokens, counted.output_tokens],
            }
        tokens = TokenUsage(
            usage.input_tokens,
            usage.output_tokens,
            cached_input_tokens=min(usage.cached_input_tokens, usage.input_tokens),
            cache_write_tokens=min(usage.cache_write_tokens, usage.input_tokens),
        )
        return Billing(cost_of(attempt.price, tokens), usage, estimated, mismatch)

    async def settle(
        self,
        ctx: CallContext,
        attempt: Attempt,
        *,
        reported: Reported | None,
        output_text: str = "",
        status: str = "ok",
        extra: Mapping[str, Any] | None = None,
    ) -> Decimal:
        """Post the attempt's cost (zero when it failed before any output) and record usage."""
        if status == "ok" or output_text or reported is not None:
            billing = self.cost(attempt, reported, output_text)
        else:
            billing = Billing(Decimal(0), Reported(0, 0), False, None)
        cost, usage = billing.cost, billing.usage
        extra = dict(extra or {})
        if billing.mismatch is not None:
            extra["usage_mismatch"] = billing.mismatch
        record = ledger.Usage(
            model=attempt.profile.id,
            provider=attempt.provider.name,
            input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            output_tokens=usage.output_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            estimated=billing.estimated,
            status=status,
            latency_ms=attempt.elapsed_ms,
            ttft_ms=attempt.ttft_ms,
            metadata={**ctx.metadata, **extra},
            task_type=ctx.task_type,
        )
        cost_text = format_usd(cost)
        tracing.record_call(
            request_id=ctx.request_id, attempt=attempt.hold_id, provider=attempt.provider.name,
            requested_model=attempt.profile.id, response_model=attempt.profile.upstream_model,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, status=status,
            cost_usd=cost_text, elapsed_ms=attempt.elapsed_ms,
        )  # fmt: skip
        log.info(
            "attempt settled",
            extra={"attempt": attempt.hold_id, "model": attempt.profile.id,
                   "provider": attempt.provider.name, "status": status,
                   "cost_usd": cost_text, "latency_ms": attempt.elapsed_ms},
        )  # fmt: skip
        self.state.metrics.upstream_latency.labels(
            attempt.provider.name, attempt.profile.id
        ).observe(attempt.elapsed_ms / 1000)
        self.health.record(
            attempt.provider.name,
            attempt.profile.id,
            outcome_of(status, extra.get("upstream_status")),
            latency_ms=record.latency_ms,
            ttft_ms=record.ttft_ms,
        )
        now = self.state.now()
        amount = settlement_nano(cost)
        decision = ctx.decision if attempt.hold_id == ctx.request_id else None

        use = self.preamble_use(ctx, attempt, usage, now) if attempt.preamble else None

        def write(conn: Connection) -> None:
            settled = ledger.settle(conn, attempt.hold_id, amount, record, now)
            if decision is not None:
                selection_repo.record_decision(conn, decision, now)
            if use is not None and not settled.replayed:  # a retried settlement counts once
                rollups.add_preamble(conn, use)

        for pause in SETTLE_RETRY_PAUSES:
            try:
                await self.state.database.awrite(write)
                return cost
            except StorageError:
                # The database is away: try again (settling is idempotent); the hold keeps the
                # money reserved meanwhile.
                log.warning("settling %s failed; retrying in %.1f s", attempt.hold_id, pause)
                await anyio.sleep(pause)
        await self.state.database.awrite(write)
        return cost

    def preamble_use(
        self, ctx: CallContext, attempt: Attempt, usage: Reported, now: datetime
    ) -> rollups.PreambleUse:
        preamble = attempt.preamble
        assert preamble is not None
        settings = self.state.config.config.analytics
        text = preamble.text if settings.store_prompts else None
        limit = settings.max_prompt_chars
        principal = ctx.principal
        return rollups.PreambleUse(
            at=now, fingerprint=preamble.fingerprint, tokens=preamble.tokens,
            org_id=principal.org_id, team_id=principal.team_id, user_id=principal.user_id,
            key_id=principal.key_id, model=attempt.profile.id, input_tokens=usage.input_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            text=None if text is None else text[:limit], excerpt=preamble.excerpt,
            truncated=text is not None and len(text) > limit,
        )  # fmt: skip


def _near(reported: int, counted: int) -> bool:
    return abs(reported - counted) <= 0.10 * counted + 16


def _plausible(reported: Reported, counted: Reported, exact: bool) -> bool:
    """Whether reported usage can be believed: no negative figures, and for exactly counted
    prompts input and output counts near ours (providers add a few tokens of framing; output
    is checked only when text was seen)."""
    if min(reported.input_tokens, reported.output_tokens) < 0:
        return False
    if not exact:
        return True
    output_ok = counted.output_tokens == 0 or _near(reported.output_tokens, counted.output_tokens)
    return _near(reported.input_tokens, counted.input_tokens) and output_ok


def cost_header(cost: Decimal) -> str:
    return format_usd(cost)
