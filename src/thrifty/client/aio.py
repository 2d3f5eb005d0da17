"""``AsyncClient``: :class:`thrifty.client.Client` with ``await`` (``httpx.AsyncClient``).

Every method is the sync one's, awaited; the calls and their reading are shared (``endpoints``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

from thrifty.client import endpoints
from thrifty.client._http import DEFAULT_TIMEOUT_S, Call, Connection, Plan
from thrifty.client.budgets import (
    Budget,
    BudgetStatus,
    ChainStatus,
    Identity,
    ScopeStatus,
)
from thrifty.client.endpoints import Messages
from thrifty.client.errors import ThriftyError
from thrifty.client.operation import Operation
from thrifty.client.results import (
    CostEstimate,
    Hold,
    Selection,
    Settlement,
    Usage,
)

T = TypeVar("T")


class AsyncClient:
    """Thrifty's admin API for an async agent (see :class:`thrifty.client.Client`)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connection = Connection.of(base_url, api_key, timeout_s)
        self._http = httpx.AsyncClient(transport=transport, **self.connection.client_options())
        self._identity: Identity | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        try:
            response = await self._http.request(**call.options())
        except httpx.TransportError as exc:
            raise self.connection.unreachable(call, exc) from exc
        return call.result(response)

    async def _run(self, plan: Plan[T]) -> T:
        result: Any = None
        try:
            while True:
                result = await self._send(plan.send(result))
        except StopIteration as stop:
            return cast(T, stop.value)

    # --- Budgets ------------------------------------------------------------------------

    async def budgets(self) -> list[Budget]:
        """The budgets this key may see (every budget for the admin key)."""
        return await self._send(endpoints.list_budgets())

    async def budget_status(self, budget_id: str) -> BudgetStatus:
        """One budget's spend, holds, remaining amount, status and projection now."""
        return await self._send(endpoints.budget_status(budget_id))

    async def scope_status(self, scope_type: str, scope_id: str) -> ScopeStatus:
        """Every budget of a scope (``organization``, ``team``, ``user``, ``key``, ``tag``),
        their worst status and the restrictions requests meet there now."""
        return await self._send(endpoints.scope_status(scope_type, scope_id))

    async def identity(self) -> Identity:
        """This API key's chain: key, user, team, organisation and the key's tags (found once,
        then remembered)."""
        if self._identity is None:
            self._identity = await self._send(endpoints.identity())
        return self._identity

    async def chain_status(self) -> ChainStatus:
        """The status of every budget governing this key's own requests, scope by scope."""
        return await self._run(endpoints.chain_status(await self.identity()))

    # --- Estimates and selection --------------------------------------------------------

    async def estimate(
        self,
        model: str,
        messages: Messages,
        *,
        alternatives: Sequence[str] = (),
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> CostEstimate:
        """A request's expected and worst-case cost on ``model`` and each alternative
        (``POST /api/v1/cost/estimate``: the admin key's; an API key uses :meth:`select`)."""
        call = endpoints.estimate(
            model,
            messages,
            alternatives=alternatives,
            max_tokens=max_tokens,
            tools=tools,
            response_format=response_format,
        )
        return await self._send(call)

    async def select(
        self,
        messages: Messages,
        *,
        model: str = "auto",
        max_tokens: int | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        response_format: Mapping[str, Any] | None = None,
        quality: str | None = None,
        priority: str | None = None,
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> Selection:
        """The model the gateway would choose now for this key's chain, with its estimated and
        worst-case cost and why each other candidate lost; nothing is held or stored.
        :class:`SelectionFailed` when no model can serve it, :class:`BudgetExhausted` when
        none fits the budgets."""
        call = endpoints.select(
            messages,
            model=model,
            max_tokens=max_tokens,
            tools=tools,
            response_format=response_format,
            quality=quality,
            priority=priority,
            tags=tags,
            metadata=metadata,
        )
        return await self._send(call)

    # --- Holds --------------------------------------------------------------------------

    async def place_hold(
        self,
        amount: Decimal | int,
        *,
        request_id: str | None = None,
        ttl_s: int = 600,
        model: str | None = None,
        priority: str | None = None,
        tags: Sequence[str] = (),
    ) -> Hold:
        """Hold ``amount`` USD on every budget of this key's chain (and of ``tags``) for a call
        made elsewhere; :class:`BudgetExhausted` / :class:`ApprovalRequired` when refused.
        Retrying with the same ``request_id`` and amount is safe (``replayed``)."""
        call = endpoints.place_hold(
            amount,
            request_id=request_id or endpoints.new_request_id("hold"),
            ttl_s=ttl_s,
            model=model,
            priority=priority,
            tags=tags,
        )
        return await self._send(call)

    async def settle_hold(
        self,
        request_id: str,
        actual_cost: Decimal | int | None = None,
        *,
        usage: Usage | None = None,
    ) -> Settlement:
        """Post the actual cost and release the rest of the hold, once (a retry is a replay).
        Without ``actual_cost``, ``usage`` of a registered model is priced by Thrifty."""
        return await self._send(endpoints.settle_hold(request_id, actual_cost, usage=usage))

    async def void_hold(self, request_id: str) -> bool:
        """Release a hold without posting anything; False when it was already released."""
        return await self._send(endpoints.void_hold(request_id))

    def operation(
        self,
        name: str,
        *,
        agent: str,
        max_cost: Decimal | int = Decimal(0),
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        priority: str | None = None,
        model: str | None = None,
        ttl_s: int = 600,
    ) -> AsyncOperationContext:
        """A context manager around one agent operation (see :mod:`thrifty.client.operation`):
        holds ``max_cost`` for what it spends outside the gateway, gives ``headers`` for its
        gateway calls, settles what was recorded on exit (voids the hold when nothing was)."""
        return AsyncOperationContext(
            self,
            Operation(
                name,
                agent=agent,
                max_cost=max_cost,
                tags=tags,
                metadata=metadata,
                priority=priority,
                model=model,
                ttl_s=ttl_s,
            ),
        )


class AsyncOperationContext:
    """``async with client.operation(...) as op``: ``op`` is the :class:`Operation`."""

    def __init__(self, client: AsyncClient, operation: Operation) -> None:
        self.client = client
        self.operation = operation

    async def __aenter__(self) -> Operation:
        op = self.operation
        op.opened(await self.client._send(op.opening()))
        return op

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        op = self.operation
        if exc is None:
            op.closed(await self.client._send(op.closing()))
            return
        try:
            result = await self.client._send(op.closing(exc))
            op.closed(result)
        except ThriftyError as error:
            op.close_failed(error, exc)
