"""Each typed refusal, raised by a real refusal of the server: by the hold API, by the
selection API, and by the gateway (an SDK's error through ``gateway_error``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from gateway_support import Gateway

from thrifty.client import (
    ApprovalRequired,
    BudgetExhausted,
    Refused,
    SelectionFailed,
    gateway_error,
)

Connect = Callable[[str, str], Any]
HELLO = [{"role": "user", "content": "Write a limerick about budgets."}]


def test_a_budget_too_small_is_budget_exhausted(gateway: Gateway, connect: Connect) -> None:
    budget = gateway.budget("team", "eng", "0.000001")
    client = connect(gateway.url, gateway.key)
    ran = False
    hold = Decimal("0.01")
    with pytest.raises(BudgetExhausted) as refused, client.operation("x", agent="s", max_cost=hold):
        ran = True
    assert not ran, "the operation's body must not run when its hold is refused"
    assert refused.value.budget_id == budget["id"] and refused.value.code == "budget_exceeded"
    assert isinstance(refused.value, Refused) and refused.value.status == 402

    # The gateway refuses a call of the operation the same way; the SDK's error maps back.
    llm = gateway.openai(max_retries=0)
    with (
        client.operation("research", agent="scout") as op,
        pytest.raises(openai.APIStatusError) as sdk_error,
    ):
        llm.chat.completions.create(model="gpt-4o-mini", messages=HELLO, extra_headers=op.headers)
    error = gateway_error(sdk_error.value)
    assert isinstance(error, BudgetExhausted) and error.budget_id == budget["id"]
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.__cause__ is sdk_error.value
    with pytest.raises(anthropic.APIStatusError) as anthropic_error:
        gateway.anthropic(max_retries=0).messages.create(
            model="claude-haiku-4-5", max_tokens=50, messages=HELLO
        )
    assert isinstance(gateway_error(anthropic_error.value), BudgetExhausted)
    assert gateway_error(ValueError("not an SDK error")) is None


def test_a_budget_on_the_agents_tag_governs_its_operations(
    gateway: Gateway, connect: Connect
) -> None:
    scout = gateway.budget("tag", "agent:scout", "0.000001")
    client = connect(gateway.url, gateway.key)
    llm = gateway.openai(max_retries=0)
    with client.operation("ask", agent="scout") as op, pytest.raises(openai.APIStatusError) as e:
        llm.chat.completions.create(model="gpt-4o-mini", messages=HELLO, extra_headers=op.headers)
    refused = gateway_error(e.value)
    assert isinstance(refused, BudgetExhausted) and refused.budget_id == scout["id"]
    with pytest.raises(BudgetExhausted), client.operation("ask", agent="scout", max_cost=1):
        pass
    # Another agent is not governed by the scout's budget.
    with client.operation("ask", agent="writer", max_cost=Decimal("0.001")) as other:
        llm.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, max_tokens=20, extra_headers=other.headers
        )
    assert other.voided


def test_a_threshold_requiring_approval_is_approval_required(
    gateway: Gateway, connect: Connect
) -> None:
    thresholds = [{"percent": 10, "actions": ["require-approval"]}]
    budget = gateway.budget("team", "eng", "1", thresholds=thresholds)
    client = connect(gateway.url, gateway.key)
    spent = client.place_hold(Decimal("0.2"))
    client.settle_hold(spent.request_id, Decimal("0.2"))
    # Past 10 %, a request above 10 % of the 0.80 USD left needs an approved override.
    assert client.budget_status(budget["id"]).remaining == Decimal("0.8")
    with pytest.raises(ApprovalRequired) as refused:
        client.place_hold(Decimal("0.5"))
    assert refused.value.code == "approval_required" and refused.value.status == 402
    with pytest.raises(ApprovalRequired), client.operation("essay", agent="scout", max_cost=1):
        pass
    with client.operation("note", agent="scout", max_cost=Decimal("0.05")) as small:
        small.add_cost(Decimal("0.01"))
    assert small.settlement is not None

    with pytest.raises(openai.APIStatusError) as sdk_error:
        gateway.openai(max_retries=0).chat.completions.create(
            model="claude-opus-4-1", messages=HELLO, max_tokens=10_000
        )
    error = gateway_error(sdk_error.value)
    assert isinstance(error, ApprovalRequired) and error.code == "approval_required"


def test_impossible_constraints_are_selection_failed(gateway: Gateway, connect: Connect) -> None:
    client = connect(gateway.url, gateway.key)
    with pytest.raises(SelectionFailed) as failed:
        client.select(HELLO, max_tokens=1_000_000)
    assert failed.value.field == "model" and isinstance(failed.value, Refused)
    with pytest.raises(openai.APIStatusError) as sdk_error:
        gateway.openai(max_retries=0).chat.completions.create(
            model="auto", messages=HELLO, max_tokens=1_000_000
        )
    assert isinstance(gateway_error(sdk_error.value), SelectionFailed)
