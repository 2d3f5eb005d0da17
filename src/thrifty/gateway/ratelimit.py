"""Requests and tokens per minute on the key, user, team and organisation of each request.

Every limit on the caller's chain (``budgets.principal.chain_scopes``) is checked before the
first budget hold; a request that fits all of them is counted on all of them at once, and a
request that does not fit one is refused (``RateLimited``, HTTP 429) and counted nowhere.

Windows: a two-bucket sliding approximation over fixed UTC minutes. A scope's use "in the last
minute" is this minute's count plus the previous minute's count weighted by the part of the
previous minute still inside the sliding minute::

    used = current + previous × (60 s − elapsed) / 60 s

and a request fits while ``used + its cost ≤ limit`` (in exact integers). ``retry-after`` is
when the request would fit if nothing else arrived meanwhile.

Tokens of a request: its counted input tokens plus its ``max_tokens`` (capped at the model's
output limit; times ``n``); without ``max_tokens`` the gateway's predicted output length
(``pricing.output.predict_output_tokens``). They are counted when the request is admitted and
never corrected afterwards. They are counted only when a limit of the chain has
``tokens_per_minute``, so a chain with only request limits never tokenizes twice.

Counters live in Redis when ``THRIFTY_REDIS_URL`` is set (one Lua script checks and counts
the whole chain atomically; keys expire two minutes after their last write), else in the
database (``storage.ratelimit_repo``). Both use the app's clock, so processes must agree on the
time. A chain without limits costs one dictionary lookup per scope and no I/O. When Redis is
set but unreachable, limited requests fail closed with 503.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio
import redis.exceptions
from starlette.requests import Request

from thrifty.budgets.principal import Principal, chain_scopes
from thrifty.errors import ConfigError, RateLimited, StorageError
from thrifty.gateway.pipeline import CallContext
from thrifty.pricing.output import predict_output_tokens
from thrifty.pricing.tokens import count_chat
from thrifty.routing.estimates import tokenizer_model
from thrifty.routing.models import ModelProfile
from thrifty.storage import ratelimit_repo
from thrifty.storage.cache import VersionedCache
from thrifty.storage.database import Database
from thrifty.storage.ratelimit_repo import RateLimit, WindowCount

log = logging.getLogger("thrifty.gateway")
WINDOW = timedelta(minutes=1)
WINDOW_MS = 60_000
#: Redis keeps a minute's counter this long after its last write (it is read one more minute).
COUNTER_TTL_MS = 120_000
REDIS_PREFIX = "thrifty:ratelimit:"
Limits = Mapping[Any, RateLimit]


# --- the window arithmetic (pure) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    """A scope's counts in the previous and the current minute, before this request."""

    previous: WindowCount = field(default_factory=WindowCount)
    current: WindowCount = field(default_factory=WindowCount)


def window_of(now: datetime) -> tuple[datetime, int]:
    """The UTC minute ``now`` falls in, and how many milliseconds of it have passed."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    return start, (now - start) // timedelta(milliseconds=1)


def fits(limit: int, previous: int, current: int, cost: int, elapsed_ms: int) -> bool:
    return previous * (WINDOW_MS - elapsed_ms) + (current + cost) * WINDOW_MS <= limit * WINDOW_MS


def used(previous: int, current: int, elapsed_ms: int) -> int:
    """The sliding estimate of what was used in the last minute (rounded up)."""
    return current + -(-previous * (WINDOW_MS - elapsed_ms) // WINDOW_MS)


def wait_ms(limit: int, previous: int, current: int, cost: int, elapsed_ms: int) -> int | None:
    """Milliseconds until ``cost`` fits if nothing else is admitted meanwhile; None: never."""
    if cost > limit:
        return None
    if fits(limit, previous, current, cost, elapsed_ms):
        return 0
    left = WINDOW_MS - elapsed_ms
    if current + cost <= limit and previous > 0:
        # Later in this minute, as the previous minute's weight fades.
        wait = left - (limit - current - cost) * WINDOW_MS // previous
        if wait < left:
            return wait
    # In the next minute this minute is the previous one, and it fades in turn.
    into_next = 0 if current == 0 else max(0, WINDOW_MS - (limit - cost) * WINDOW_MS // current)
    return left + into_next


def check(
    limits: Sequence[RateLimit], usage: Mapping[Any, Usage], tokens: int, elapsed_ms: int
) -> RateLimited | None:
    """The refusal of the first limit (in chain order) the request does not fit, or None."""
    for limit in limits:
        counts = usage.get(limit.scope, Usage())
        for kind, cap, cost in (
            ("requests", limit.requests_per_minute, 1),
            ("tokens", limit.tokens_per_minute, tokens),
        ):
            previous = getattr(counts.previous, kind)
            current = getattr(counts.current, kind)
            if cap is not None and not fits(cap, previous, current, cost, elapsed_ms):
                return _refusal(limit, counts, kind, cap, cost, elapsed_ms)
    return None


def _refusal(
    limit: RateLimit, counts: Usage, kind: str, cap: int, cost: int, elapsed_ms: int
) -> RateLimited:
    previous = getattr(counts.previous, kind)
    current = getattr(counts.current, kind)
    wait = wait_ms(cap, previous, current, cost, elapsed_ms)
    retry_after = 60 if wait is None else max(1, -(-wait // 1000))
    spent = used(previous, current, elapsed_ms)
    name = f"{kind}_per_minute"
    if wait is None:
        message = (
            f"this request needs {cost} tokens, more than the {cap} tokens per minute that "
            f"rate limit {limit.id!r} allows {limit.scope}: lower max_tokens or shorten the prompt"
        )
    else:
        needs = "" if kind == "requests" else f" and this request needs {cost}"
        message = (
            f"rate limit {limit.id!r} of {limit.scope} allows {cap} {kind} per minute; "
            f"{spent} were used in the last minute{needs}. Retry in {retry_after} s"
        )
    headers = {"x-ratelimit-scope": str(limit.scope)}
    for other, value, counted in (
        ("requests", limit.requests_per_minute, counts.current.requests),
        ("tokens", limit.tokens_per_minute, counts.current.tokens),
    ):
        if value is not None:
            spent_other = used(getattr(counts.previous, other), counted, elapsed_ms)
            headers[f"x-ratelimit-limit-{other}"] = str(value)
            headers[f"x-ratelimit-remaining-{other}"] = str(max(0, value - spent_other))
    headers[f"x-ratelimit-reset-{kind}"] = f"{retry_after}s"
    return RateLimited(
        message,
        limit_id=limit.id,
        scope=str(limit.scope),
        kind=name,
        retry_after_s=retry_after,
        headers=headers,
    )


# --- where the counters live ---------------------------------------------------------------


class CounterStore(ABC):
    """Counts a request on every limited scope of its chain, or refuses it and counts nothing."""

    @abstractmethod
    async def take(self, limits: Sequence[RateLimit], tokens: int, now: datetime) -> None:
        """Count one request of ``tokens`` on each limit's scope; ``RateLimited`` if one of the
        limits does not fit it (then nothing is counted)."""

    async def close(self) -> None:
        return None


class DatabaseCounters(CounterStore):
    """Counters in ``rate_counters``: one write transaction checks and counts the chain."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._pruned: datetime | None = None

    async def take(self, limits: Sequence[RateLimit], tokens: int, now: datetime) -> None:
        start, elapsed = window_of(now)
        scopes = [limit.scope for limit in limits]

        def write(conn: Any) -> None:
            before = ratelimit_repo.read_window(conn, scopes, start - WINDOW)
            after = ratelimit_repo.add_to_window(conn, scopes, start, tokens)
            usage = {
                scope: Usage(
                    before.get(scope, WindowCount()),
                    WindowCount(after[scope].requests - 1, after[scope].tokens - tokens),
                )
                for scope in scopes
            }
            refusal = check(limits, usage, tokens, elapsed)
            if refusal is not None:
                raise refusal  # rolls the transaction, and so the count, back

        await self.database.awrite(write)
        if self._pruned != start:
            self._pruned = start
            await self.prune(start - WINDOW)

    async def prune(self, before: datetime) -> None:
        try:
            await self.database.awrite(lambda conn: ratelimit_repo.prune_windows(conn, before))
        except StorageError:
            log.warning("pruning old rate-limit counters failed; the next minute tries again")


# KEYS: per scope, this minute's key then the previous minute's. ARGV: elapsed ms, tokens,
# scope count, then per scope its request and token limits (-1: none). Returns 1 (counted) or
# 0 (refused, nothing counted), then per scope: requests, tokens, previous requests, previous
# tokens (before this request).
_SCRIPT = """
local window, ttl = 60000, 120000
local elapsed, cost, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local result, ok = {1}, true
local function fits(limit, previous, current, add)
  return limit < 0 or previous * (window - elapsed) + (current + add) * window <= limit * window
end
for i = 1, n do
  local now = redis.call('HMGET', KEYS[2 * i - 1], 'r', 't')
  local before = redis.call('HMGET', KEYS[2 * i], 'r', 't')
  local r, t = tonumber(now[1]) or 0, tonumber(now[2]) or 0
  local pr, pt = tonumber(before[1]) or 0, tonumber(before[2]) or 0
  local rpm, tpm = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if not (fits(rpm, pr, r, 1) and fits(tpm, pt, t, cost)) then ok = false end
  table.insert(result, r); table.insert(result, t)
  table.insert(result, pr); table.insert(result, pt)
end
if ok then
  for i = 1, n do
    redis.call('HINCRBY', KEYS[2 * i - 1], 'r', 1)
    redis.call('HINCRBY', KEYS[2 * i - 1], 't', cost)
    redis.call('PEXPIRE', KEYS[2 * i - 1], ttl)
  end
else
  result[1] = 0
end
return result
"""


class RedisCounters(CounterStore):
    """Counters in Redis, shared by every process that uses the same server and prefix."""

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX, timeout_s: float = 1.0) -> None:
        self.prefix = prefix
        try:
            self.client: Any = redis.asyncio.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
        except ValueError as exc:
            raise ConfigError(f"THRIFTY_REDIS_URL: {exc}", field="THRIFTY_REDIS_URL") from None
        self.where = _safe_url(url)
        self.script = self.client.register_script(_SCRIPT)

    def key(self, limit: RateLimit, minute: datetime) -> str:
        number = int(minute.timestamp()) // 60
        return f"{self.prefix}{limit.scope.type.value}:{limit.scope.id}:{number}"

    async def take(self, limits: Sequence[RateLimit], tokens: int, now: datetime) -> None:
        start, elapsed = window_of(now)
        keys: list[str] = []
        args: list[int] = [elapsed, tokens, len(limits)]
        for limit in limits:
            keys += [self.key(limit, start), self.key(limit, start - WINDOW)]
            args += [_or_none(limit.requests_per_minute), _or_none(limit.tokens_per_minute)]
        try:
            result = [int(value) for value in await self.script(keys=keys, args=args)]
        except redis.exceptions.RedisError as exc:
            raise StorageError(
                f"rate limits: Redis at {self.where} is unreachable ({exc}); requests with a "
                "rate limit are refused until it is back"
            ) from exc
        if result[0] == 1:
            return
        usage = {
            limit.scope: Usage(
                WindowCount(result[3 + 4 * i], result[4 + 4 * i]),
                WindowCount(result[1 + 4 * i], result[2 + 4 * i]),
            )
            for i, limit in enumerate(limits)
        }
        refusal = check(limits, usage, tokens, elapsed)
        assert refusal is not None, "the script and check() disagree"
        raise refusal

    async def close(self) -> None:
        await self.client.aclose()


def _or_none(value: int | None) -> int:
    return -1 if value is None else value


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, _separator, rest = url.partition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}://{host}" if at else url


# --- the limiter the endpoints call --------------------------------------------------------


class RateLimiter:
    def __init__(
        self,
        limits: VersionedCache[dict[Any, RateLimit]],
        counters: CounterStore,
        clock: Callable[[], datetime],
    ) -> None:
        self.limits = limits
        self.counters = counters
        self.clock = clock

    @classmethod
    def build(
        cls, database: Database, redis_url: str | None, clock: Callable[[], datetime]
    ) -> RateLimiter:
        """Limits cached from the database; counters in Redis when a URL is given."""
        cache: VersionedCache[dict[Any, RateLimit]] = VersionedCache(
            ratelimit_repo.RATE_LIMITS, database.read, ratelimit_repo.load_limits
        )
        counters = RedisCounters(redis_url) if redis_url else DatabaseCounters(database)
        return cls(cache, counters, clock)

    def limits_of(self, principal: Principal) -> list[RateLimit]:
        """The limits on ``principal``'s chain, key first (no I/O)."""
        table = self.limits.get()
        if not table:
            return []
        return [limit for scope in chain_scopes(principal) if (limit := table.get(scope))]

    async def admit(self, principal: Principal, tokens: Callable[[], int]) -> None:
        """Count the request on its chain's limits, or raise ``RateLimited``."""
        limits = self.limits_of(principal)
        if not limits:
            return
        needs_tokens = any(limit.tokens_per_minute is not None for limit in limits)
        await self.counters.take(limits, tokens() if needs_tokens else 0, self.clock())

    async def close(self) -> None:
        await self.counters.close()


def chat_tokens(
    profile: ModelProfile,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    system: Any = None,
) -> int:
    """A chat request's tokens for rate limits: counted input plus the output it may produce."""
    counted = count_chat(messages, tokenizer_model(profile), tools=tools, system=system)
    prediction = predict_output_tokens(
        messages, max_tokens=max_tokens, model_max_output=profile.max_output_tokens
    )
    return counted.tokens + (prediction.worst_case if max_tokens else prediction.tokens)


def _limiter(request: Request) -> RateLimiter | None:
    return getattr(request.app.state, "rate_limiter", None)


async def admit_chat(
    request: Request,
    ctx: CallContext,
    profile: ModelProfile,
    *,
    messages: Sequence[Mapping[str, Any]],
    max_tokens: int | None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    system: Any = None,
) -> None:
    """Before the first hold of a chat request: ``RateLimited`` unless every limit admits it."""
    limiter = _limiter(request)
    if limiter is not None:
        await limiter.admit(
            ctx.principal, lambda: chat_tokens(profile, messages, max_tokens, tools, system)
        )


async def admit_tokens(request: Request, ctx: CallContext, tokens: int) -> None:
    """Before the hold of a request whose tokens are known (embeddings)."""
    limiter = _limiter(request)
    if limiter is not None:
        await limiter.admit(ctx.principal, lambda: tokens)
