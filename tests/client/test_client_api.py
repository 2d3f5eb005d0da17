"""The client against a real server: budget status, estimates, selection and holds, each run
with ``Client`` and with ``AsyncClient`` (the ``connect`` fixture), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from gateway_support import ADMIN, Gateway

from live_server import free_port
from thrifty.client import (
    AuthenticationFailed,
    BudgetExhausted,
    Client,
    NotFound,
    PermissionDenied,
    SelectionFailed,
    ServerUnavailable,
    Usage,
)

Connect = Callable[[str, str], Any]
HELLO = [{"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]


def test_budget_status_of_a_budget_and_of_the_own_chain(gateway: Gateway, connect: Connect) -> None:
    team = gateway.budget("team", "eng", "1")
    org = gateway.budget("organization", "acme", "10")
    client = connect(gateway.url, gateway.key)

    budgets = {b.id: b for b in client.budgets()}
    assert set(budgets) == {team["id"], org["id"]}
    assert budgets[org["id"]].limit == Decimal(10) and budgets[org["id"]].mode == "hard"
    status = client.budget_status(team["id"])
    assert status.limit == Decimal(1) and isinstance(status.limit, Decimal)
    assert status.remaining == Decimal(1) and status.spent == status.held == Decimal(0)
    assert status.status == "normal" and status.active and str(status.scope) == "team:eng"

    identity = client.identity()
    assert (identity.user_id, identity.team_id, identity.org_id) == ("ann", "eng", "acme")
    assert [str(s) for s in identity.scopes][1:] == ["user:ann", "team:eng", "organization:acme"]

    held = client.place_hold(Decimal("0.25"))
    chain = client.chain_status()
    by_id = {b.budget_id: b for b in chain.budgets}
    assert by_id[team["id"]].held == Decimal("0.25")
    assert by_id[org["id"]].held == Decimal("0.25")
    assert chain.remaining == Decimal("0.75") and chain.status == "normal" and not chain.blocked
    assert [s.scope.type for s in chain.scopes] == ["key", "user", "team", "organization"]
    team_scope = client.scope_status("team", "eng")
    assert [b.budget_id for b in team_scope.budgets] == [team["id"]]
    assert team_scope.restrictions.blocked is False
    assert client.void_hold(held.request_id) is True

    with pytest.raises(NotFound) as missing:
        client.budget_status("nope")
    assert missing.value.status == 404 and missing.value.field == "budget_id"


def test_estimate_and_select(gateway: Gateway, connect: Connect) -> None:
    admin = connect(gateway.url, ADMIN)
    estimate = admin.estimate("gpt-4o", HELLO, alternatives=["gpt-4o-mini"], max_tokens=100)
    assert [e.model for e in estimate.estimates] == ["gpt-4o", "gpt-4o-mini"]
    assert estimate.recommendation == "gpt-4o-mini"
    big, small = estimate.of("gpt-4o"), estimate.of("gpt-4o-mini")
    assert isinstance(big.cost, Decimal) and big.worst_case_cost >= big.cost > small.cost > 0
    assert big.worst_case_output_tokens == 100

    client = connect(gateway.url, gateway.key)
    with pytest.raises(PermissionDenied) as denied:  # the estimate endpoint is the admin's
        client.estimate("gpt-4o", HELLO)
    assert denied.value.status == 403
    selection = client.select(HELLO, max_tokens=100)
    assert selection.model == selection.chain[0] and selection.task_type == "summarisation"
    assert selection.worst_case_cost is not None and selection.estimated_cost is not None
    assert selection.worst_case_cost >= selection.estimated_cost > 0
    assert selection.model not in {a.model for a in selection.alternatives}
    cheapest = client.select(HELLO, quality="low", max_tokens=100)
    assert cheapest.estimated_cost is not None and cheapest.estimated_cost <= (
        selection.estimated_cost
    )

    with pytest.raises(SelectionFailed) as failed:
        client.select(HELLO, max_tokens=1_000_000)
    assert failed.value.status == 400 and failed.value.field == "model"
    assert "no model can serve this request" in failed.value.message


def test_hold_settle_and_void(gateway: Gateway, connect: Connect) -> None:
    gateway.budget("team", "eng", "1")
    client = connect(gateway.url, gateway.key)

    hold = client.place_hold(Decimal("0.6"), request_id="call-1", model="gpt-4o")
    assert hold.amount == Decimal("0.6") and hold.status == "held" and not hold.replayed
    assert len(hold.budget_ids) == 1
    assert client.place_hold(Decimal("0.6"), request_id="call-1").replayed
    with pytest.raises(BudgetExhausted) as refused:
        client.place_hold(Decimal("0.5"))
    assert refused.value.budget_id == hold.budget_ids[0]
    assert refused.value.code == "budget_exceeded" and refused.value.status == 402

    usage = Usage(model="gpt-4o", input_tokens=1200, output_tokens=300)
    settled = client.settle_hold("call-1", Decimal("0.25"), usage=usage)
    assert settled.actual_cost == Decimal("0.25") and settled.released == Decimal("0.6")
    assert client.settle_hold("call-1", Decimal("0.25")).replayed

    # Without a cost, Thrifty prices the usage at the model's price in force.
    priced = client.place_hold(Decimal("0.1"), model="gpt-4o")
    settlement = client.settle_hold(priced.request_id, usage=usage)
    assert settlement.actual_cost > 0
    records = {r["request_id"]: r for r in gateway.usage()}
    assert records[priced.request_id]["cost_nano"] == int(settlement.actual_cost * 10**9)
    assert records["call-1"]["cost_nano"] == 250_000_000
    assert (records["call-1"]["input_tokens"], records["call-1"]["output_tokens"]) == (1200, 300)

    spare = client.place_hold(0)  # an int is exact too
    assert client.void_hold(spare.request_id) is True
    assert client.void_hold(spare.request_id) is False
    status = client.budget_status(hold.budget_ids[0])
    assert status.spent == Decimal("0.25") + settlement.actual_cost and status.held == 0

    with pytest.raises(TypeError, match="Decimal"):
        client.place_hold(0.1)


def test_authentication_and_an_unreachable_server(
    gateway: Gateway, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AuthenticationFailed) as wrong:
        connect(gateway.url, "thr_not-a-key").budgets()
    assert wrong.value.status == 401
    nobody = connect(f"http://127.0.0.1:{free_port()}", gateway.key)
    with pytest.raises(ServerUnavailable) as unreachable:
        nobody.budgets()
    assert unreachable.value.status is None and "cannot reach Thrifty" in unreachable.value.message
    monkeypatch.delenv("THRIFTY_API_KEY", raising=False)
    with pytest.raises(ValueError, match="THRIFTY_API_KEY"):
        Client(gateway.url)
