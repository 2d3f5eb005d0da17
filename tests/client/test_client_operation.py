"""``client.operation``: holds the worst case of what an agent spends outside the gateway,
tags its gateway calls, settles what was recorded on exit, voids the hold on an error."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from gateway_support import Gateway

from thrifty.client import Conflict, Usage

Connect = Callable[[str, str], Any]
HELLO = [{"role": "user", "content": "Give me one word for happy."}]
TAGS = ["agent:scout", "operation:summarise"]


class Boom(Exception):
    pass


def _records(gateway: Gateway) -> dict[str, dict[str, Any]]:
    return {r["request_id"]: r for r in gateway.usage()}


def test_settles_the_recorded_cost_with_the_operations_tags(
    gateway: Gateway, connect: Connect
) -> None:
    team = gateway.budget("team", "eng", "1")
    client = connect(gateway.url, gateway.key)
    llm = gateway.openai()

    operation = client.operation(
        "summarise", agent="scout", max_cost=Decimal("0.05"), metadata={"run": 7}
    )
    with operation as op:
        assert op.hold is not None and op.hold.budget_ids == (team["id"],)
        assert client.budget_status(team["id"]).held == Decimal("0.05")
        assert op.headers["x-thrifty-tags"] == "agent:scout,operation:summarise"
        raw = llm.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=20, extra_headers=op.headers
        )
        gateway_cost = Decimal(raw.headers["x-thrifty-cost-usd"])
        gateway_request = raw.headers["x-thrifty-request-id"]
        op.add_cost(Decimal("0.002"), note="web search")
        op.add_cost(Decimal("0.001"), note="web search")
        assert op.recorded == Decimal("0.003")

    assert op.settlement is not None and not op.voided
    assert op.settlement.actual_cost == Decimal("0.003")
    assert op.settlement.released == Decimal("0.05")
    records = _records(gateway)
    assert set(records) == {op.request_id, gateway_request}
    own = records[op.request_id]
    assert own["tags"] == TAGS and own["cost_nano"] == 3_000_000
    assert own["metadata"]["agent"] == "scout" and own["metadata"]["run"] == 7
    assert [i["note"] for i in own["metadata"]["items"]] == ["web search", "web search"]
    # The gateway recorded its own call, with the same tags: the operation did not again.
    routed = records[gateway_request]
    assert routed["tags"] == TAGS and routed["model"] == "gpt-4o-mini"
    assert routed["metadata"]["operation_id"] == op.request_id
    assert Decimal(routed["cost_nano"]) / 10**9 == gateway_cost
    status = client.budget_status(team["id"])
    assert status.spent == gateway_cost + Decimal("0.003") and status.held == 0


def test_usage_made_elsewhere_is_priced_by_thrifty(gateway: Gateway, connect: Connect) -> None:
    client = connect(gateway.url, gateway.key)
    with client.operation("draft", agent="scout", max_cost=Decimal("0.05"), model="gpt-4o") as op:
        op.add_usage("gpt-4o", 1000, 200, provider="openai")
        op.add_usage("gpt-4o", 500, 100, cached_input_tokens=100)
        with pytest.raises(ValueError, match="one model per operation"):
            op.add_cost(Decimal("0.001"))
        with pytest.raises(ValueError, match="one model per operation"):
            op.add_usage("gpt-4o-mini", 10, 10)

    assert op.settlement is not None and op.settlement.actual_cost > 0
    record = _records(gateway)[op.request_id]
    assert (record["model"], record["input_tokens"], record["output_tokens"]) == (
        "gpt-4o",
        1500,
        300,
    )
    assert record["cached_input_tokens"] == 100 and record["provider"] == "openai"
    # The same usage settled by hand costs the same.
    hold = client.place_hold(Decimal("0.05"))
    usage = Usage(model="gpt-4o", input_tokens=1500, output_tokens=300, cached_input_tokens=100)
    assert client.settle_hold(hold.request_id, usage=usage).actual_cost == (
        op.settlement.actual_cost
    )
    # Mixed models or costs are settled from the costs given.
    with client.operation("mixed", agent="scout", max_cost=Decimal("0.05")) as mixed:
        mixed.add_usage("gpt-4o", 100, 10, cost=Decimal("0.0004"))
        mixed.add_usage("claude-haiku-4-5", 100, 10, cost=Decimal("0.0002"))
        mixed.add_cost(Decimal("0.0001"))
    assert mixed.settlement is not None
    assert mixed.settlement.actual_cost == Decimal("0.0007")
    assert _records(gateway)[mixed.request_id]["model"] is None


def test_an_error_voids_the_hold_and_propagates(gateway: Gateway, connect: Connect) -> None:
    team = gateway.budget("team", "eng", "1")
    client = connect(gateway.url, gateway.key)

    with pytest.raises(Boom), client.operation("plan", agent="scout", max_cost=1) as op:
        assert client.budget_status(team["id"]).held == 1
        raise Boom
    assert op.voided and op.settlement is None
    status = client.budget_status(team["id"])
    assert status.held == status.spent == 0
    assert op.request_id not in _records(gateway)
    with pytest.raises(RuntimeError, match="closed"):
        op.add_cost(Decimal("0.1"))

    # What was spent before the error stays spent: it is posted, the rest is released.
    with pytest.raises(Boom), client.operation("fetch", agent="scout", max_cost=1) as partly:
        partly.add_cost(Decimal("0.1"), note="paid API")
        raise Boom
    assert partly.settlement is not None and not partly.voided
    assert partly.settlement.actual_cost == Decimal("0.1")
    assert partly.settlement.released == 1
    record = _records(gateway)[partly.request_id]
    assert record["metadata"]["error"] == "Boom" and record["tags"] == [
        "agent:scout",
        "operation:fetch",
    ]
    status = client.budget_status(team["id"])
    assert (status.spent, status.held) == (Decimal("0.1"), 0)

    # Nothing recorded: the hold is voided, no empty usage record is written.
    with client.operation("idle", agent="scout") as idle:
        assert idle.hold is not None and idle.hold.amount == 0
    assert idle.voided and idle.request_id not in _records(gateway)

    # When voiding fails too, the operation's own exception wins, with a note.
    with pytest.raises(Boom) as raised, client.operation("odd", agent="scout") as odd:
        client.settle_hold(odd.request_id, 0)
        raise Boom
    assert any("voiding the hold" in note for note in raised.value.__notes__)
    assert any("already settled" in note for note in raised.value.__notes__)

    entered = client.operation("once", agent="scout")
    with entered, pytest.raises(RuntimeError, match="entered already"), entered:
        pass
    with pytest.raises(Conflict):  # the same request id with another amount
        client.place_hold(Decimal("0.3"), request_id=op.request_id)


def test_names_and_amounts_are_checked_before_anything_is_sent(
    gateway: Gateway, connect: Connect
) -> None:
    client = connect(gateway.url, gateway.key)
    with pytest.raises(ValueError, match="commas"):
        client.operation("a,b", agent="scout")
    with pytest.raises(TypeError, match="Decimal"):
        client.operation("plan", agent="scout", max_cost=0.05)
    with pytest.raises(TypeError):
        client.operation("plan", agent="scout", metadata={"when": object()})
    assert gateway.usage() == []
