"""The official ``anthropic`` SDK against the gateway: native to simulated upstreams, and
translated to OpenAI-compatible ones."""

from __future__ import annotations

from decimal import Decimal

import anthropic
from gateway_support import Gateway


def sdk(gateway: Gateway) -> anthropic.Anthropic:
    return gateway.anthropic(max_retries=0)


def test_messages_are_priced_and_recorded(gateway: Gateway) -> None:
    raw = sdk(gateway).messages.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        system="You are brief.",
        messages=[{"role": "user", "content": "Name three prime numbers."}],
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text
    assert message.model == "claude-haiku-4-5"
    cost = Decimal(raw.headers["x-thrifty-cost-usd"])
    expected = (
        Decimal(message.usage.input_tokens) * 1 + Decimal(message.usage.output_tokens) * 5
    ) / 1_000_000
    assert cost == expected
    (record,) = gateway.usage()
    assert record["model"] == "claude-haiku-4-5"
    assert record["cost_nano"] == int(expected * 1_000_000_000)


def test_streamed_messages_are_billed(gateway: Gateway) -> None:
    with sdk(gateway).messages.stream(
        model="claude-haiku-4-5",
        max_tokens=300,
        messages=[{"role": "user", "content": "Write two sentences about ledgers."}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text
    (record,) = gateway.usage()
    assert record["output_tokens"] == final.usage.output_tokens
    assert record["input_tokens"] == final.usage.input_tokens
    assert record["cost_nano"] > 0


def test_anthropic_errors_have_anthropic_shape(gateway: Gateway) -> None:
    client = sdk(gateway)
    try:
        client.messages.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "hi"}], max_tokens=0
        )
    except anthropic.BadRequestError as exc:
        assert "max_tokens" in str(exc)
    else:
        raise AssertionError("max_tokens 0 was accepted")
    assert gateway.usage() == []


def test_openai_sdk_reaches_an_anthropic_named_model(gateway: Gateway) -> None:
    client = gateway.openai(max_retries=0)
    completion = client.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "Say hi."}]
    )
    assert completion.choices[0].message.content
