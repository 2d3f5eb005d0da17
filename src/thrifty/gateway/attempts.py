"""Trying a request's models in turn: hold, call, and on a retryable upstream failure settle
the attempt (at no cost, with its error) and move on to the next model of the chain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio

from thrifty.errors import BudgetRefused
from thrifty.gateway.pipeline import Attempt, CallContext, Gateway
from thrifty.providers.client import UpstreamError
from thrifty.routing.models import ModelProfile

T = TypeVar("T")


def why(exc: UpstreamError) -> dict[str, Any]:
    """What a failed attempt's usage record keeps about the failure."""
    return {"error": exc.message, "upstream_status": exc.status}


async def holds(
    gateway: Gateway, ctx: CallContext, chain: Sequence[ModelProfile], args: dict[str, Any]
) -> AsyncIterator[Attempt]:
    """Holds for each model of the chain in turn; a budget refusal of a fallback skips it."""
    refusal: BudgetRefused | None = None
    for number, profile in enumerate(chain):
        try:
            yield await gateway.hold(ctx, profile, number, **args)
        except BudgetRefused as exc:
            if number == 0:
                raise
            refusal = refusal or exc
    if refusal is not None:
        raise refusal


async def first_success(
    gateway: Gateway,
    ctx: CallContext,
    chain: Sequence[ModelProfile],
    args: dict[str, Any],
    call: Callable[[Attempt], Awaitable[T]],
) -> tuple[Attempt, T]:
    """The first attempt whose ``call`` succeeds, with its result; the caller settles it."""
    failure: UpstreamError | None = None
    async for attempt in holds(gateway, ctx, chain, args):
        try:
            return attempt, await call(attempt)
        except UpstreamError as exc:
            await gateway.settle(ctx, attempt, reported=None, status="error", extra=why(exc))
            if not exc.retryable:
                raise
            failure = exc
        except BaseException:
            with anyio.CancelScope(shield=True):
                await gateway.settle(ctx, attempt, reported=None, status="error")
            raise
    assert failure is not None
    raise failure
