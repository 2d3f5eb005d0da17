"""One agent operation: a hold for what it spends outside the gateway, and its tags.

What the hold covers, and what it does not:

- Calls made **through the gateway** with :attr:`Operation.headers` are held, priced, recorded
  and refused by the gateway itself, one usage record each, tagged ``agent:<agent>`` and
  ``operation:<name>``. The operation never records them again (no double counting), and its
  hold does not cover them: each gateway call holds its own worst case.
- Costs made **elsewhere** (a provider called directly, a paid tool) are what ``max_cost``
  holds, what :meth:`Operation.add_cost` / :meth:`Operation.add_usage` record, and what the
  settlement posts on exit, as one usage record with the same tags.

Opening the operation places the hold (a refusal raises :class:`BudgetExhausted` or
:class:`ApprovalRequired` before any work is done; a hold of zero still checks that no budget
of the chain blocks requests). A normal exit settles what was recorded, or voids the hold
when nothing was. An exception voids the hold and propagates — except that what was
recorded before it is posted (that money was spent: voiding it would let the budget forget
it), with the exception's type in the usage record's metadata.

This module does no I/O: the context managers in ``sync`` and ``aio`` send the calls it builds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from thrifty.client import endpoints
from thrifty.client._http import Call
from thrifty.client.results import Hold, Settlement, Usage

MAX_ITEMS_IN_METADATA = 50


@dataclass(frozen=True, slots=True)
class _Item:
    """One cost recorded for the operation: a known amount, or usage the server prices."""

    cost: Decimal | None
    note: str | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0

    def json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"cost": None if self.cost is None else format(self.cost, "f")}
        if self.note is not None:
            found["note"] = self.note
        if self.model is not None:
            found |= {
                "model": self.model,
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
            }
        return found


def _tag_part(value: str, name: str) -> str:
    """A tag, or a name in one: ``x-thrifty-tags`` splits on commas and strips spaces."""
    if not value or "," in value or value != value.strip() or len(value) > 180:
        raise ValueError(
            f"{name} must be 1–180 characters, without commas or surrounding spaces: {value!r}"
        )
    return value


class Operation:
    """The state of one operation (see the module docstring); enter it with ``with`` (from
    ``Client.operation``) or ``async with`` (from ``AsyncClient.operation``)."""

    def __init__(
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
    ) -> None:
        endpoints.amount_text(max_cost, name="max_cost")
        self.name = _tag_part(name, "name")
        self.agent = _tag_part(agent, "agent")
        self.max_cost = Decimal(max_cost)
        self.tags: tuple[str, ...] = tuple(
            dict.fromkeys(
                [
                    f"agent:{self.agent}",
                    f"operation:{self.name}",
                    *(_tag_part(t, "tag") for t in tags),
                ]
            )
        )
        # Round-tripped through JSON now, so a value JSON cannot hold fails here, not on exit.
        self.metadata: dict[str, Any] = json.loads(
            json.dumps({"agent": self.agent, "operation": self.name, **(metadata or {})})
        )
        self.priority = priority
        self.model = model
        self.ttl_s = ttl_s
        self.request_id = endpoints.new_request_id()
        self.hold: Hold | None = None
        self.settlement: Settlement | None = None
        self.voided = False
        self._items: list[_Item] = []
        self._entered = False

    @property
    def headers(self) -> dict[str, str]:
        """Headers for gateway calls of this operation (OpenAI SDK: ``extra_headers=``), so the
        gateway records them with the operation's tags and metadata."""
        headers = {
            "x-thrifty-tags": ",".join(self.tags),
            "x-thrifty-metadata": json.dumps(
                {**self.metadata, "operation_id": self.request_id},
                separators=(",", ":"),
            ),
        }
        if self.priority is not None:
            headers["x-thrifty-priority"] = self.priority
        return headers

    @property
    def recorded(self) -> Decimal:
        """The known cost recorded so far (usage left to the server to price counts once the
        operation has settled)."""
        if self.settlement is not None:
            return self.settlement.actual_cost
        return sum((i.cost for i in self._items if i.cost is not None), Decimal(0))

    def add_cost(self, amount: Decimal | int, *, note: str | None = None) -> None:
        """Record ``amount`` USD spent elsewhere (a paid tool, an invoice line)."""
        endpoints.amount_text(amount)
        if amount < 0:
            raise ValueError(f"a cost cannot be negative: {amount}")
        self._add(_Item(Decimal(amount), note=note))

    def add_usage(
        self,
        model: str,
        input_tokens: int,
        output_tokens: int,
        *,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
        cost: Decimal | int | None = None,
        provider: str | None = None,
    ) -> None:
        """Record a call to ``model`` made elsewhere. Without ``cost``, Thrifty prices the
        usage at settlement (the model must be registered, and an operation can leave the
        pricing of one model only to the server: give ``cost=`` to mix models or costs)."""
        if cost is not None:
            endpoints.amount_text(cost, name="cost")
        if min(input_tokens, output_tokens, cached_input_tokens, reasoning_tokens) < 0:
            raise ValueError("token counts cannot be negative")
        item = _Item(
            None if cost is None else Decimal(cost),
            model=model,
            provider=provider,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_input_tokens=cached_input_tokens,
            reasoning_tokens=reasoning_tokens,
        )
        self._add(item)

    def _add(self, item: _Item) -> None:
        if self.settlement is not None or self.voided:
            raise RuntimeError(f"operation {self.name!r} is closed; nothing more can be added")
        items = [*self._items, item]
        if any(i.cost is None for i in items) and (
            any(i.cost is not None for i in items) or len({i.model for i in items}) > 1
        ):
            raise ValueError(
                "Thrifty prices the usage of one model per operation: pass cost= to add_usage "
                "to record other models or costs alongside"
            )
        self._items.append(item)

    # --- The calls the context managers send --------------------------------------------

    def opening(self) -> Call[Hold]:
        if self._entered:
            raise RuntimeError(f"operation {self.name!r} was entered already")
        self._entered = True
        return endpoints.place_hold(
            self.max_cost,
            request_id=self.request_id,
            ttl_s=self.ttl_s,
            model=self.model,
            priority=self.priority,
            tags=self.tags,
        )

    def closing(self, error: BaseException | None = None) -> Call[Any]:
        """Settle what was recorded; void when nothing was (no empty usage record). After
        ``error``, the settlement's metadata names it."""
        if not self._items:
            return endpoints.void_hold(self.request_id)
        items = self._items
        models = {i.model for i in items if i.model is not None}
        providers = {i.provider for i in items if i.provider is not None}
        metadata = {
            **self.metadata,
            "items": [i.json() for i in items[:MAX_ITEMS_IN_METADATA]],
        }
        if error is not None:
            metadata["error"] = type(error).__name__
        usage = Usage(
            model=next(iter(models)) if len(models) == 1 else None,
            provider=next(iter(providers)) if len(providers) == 1 else None,
            input_tokens=sum(i.input_tokens for i in items),
            output_tokens=sum(i.output_tokens for i in items),
            cached_input_tokens=sum(i.cached_input_tokens for i in items),
            reasoning_tokens=sum(i.reasoning_tokens for i in items),
            metadata=metadata,
        )
        priced = all(i.cost is not None for i in items)
        return endpoints.settle_hold(
            self.request_id, self.recorded if priced else None, usage=usage
        )

    def opened(self, hold: Hold) -> None:
        self.hold = hold

    def closed(self, result: object) -> None:
        if isinstance(result, Settlement):
            self.settlement = result
        else:
            self.voided = True

    def close_failed(self, error: BaseException, exc: BaseException) -> None:
        """Keep the operation's own exception ``exc``; note why the hold is left to expire."""
        expires = self.hold.expires_at if self.hold is not None else None
        what = "settling" if self._items else "voiding"
        exc.add_note(
            f"thrifty: {what} the hold of operation {self.name!r} ({self.request_id}) failed: "
            f"{error}; it is released when it expires"
            + (f" at {expires.isoformat()}" if expires else "")
        )

    def __repr__(self) -> str:
        state = "settled" if self.settlement else "voided" if self.voided else "open"
        return (
            f"<Operation {self.name!r} of agent {self.agent!r} {self.request_id} {state}, "
            f"max_cost={self.max_cost}, recorded={self.recorded}>"
        )
