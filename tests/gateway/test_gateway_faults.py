"""Upstreams that fail, translate, or lose their client, against real local simulators."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_support import Gateway
from sqlalchemy import select

from thrifty.providers.simulated import running_simulator
from thrifty.storage.database import Database
from thrifty.storage.schema import holds


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    with (
        running_simulator() as good,
        running_simulator(error_rate=1.0) as broken,
        running_simulator(tokens_per_second=40) as slow,
    ):
        yield {"good": good, "broken": broken, "slow": slow}


@pytest.fixture
def gateway_config(tmp_path: Path, upstreams: dict[str, str]) -> str:
    config = f"""
providers:
  - {{name: good, kind: simulated, base_url: "{upstreams["good"]}"}}
  - {{name: broken, kind: simulated, base_url: "{upstreams["broken"]}", max_retries: 1}}
  - {{name: slow, kind: simulated, base_url: "{upstreams["slow"]}"}}
  - {{name: openai-style, kind: openai, base_url: "{upstreams["good"]}/v1"}}
  - {{name: anthropic-style, kind: anthropic, base_url: "{upstreams["good"]}"}}
  - {{name: dropper, kind: simulated, base_url: "{upstreams["good"]}", max_retries: 0,
     headers: {{x-sim-error: drop}}}}
  - {{name: garbler, kind: simulated, base_url: "{upstreams["good"]}", max_retries: 0,
     headers: {{x-sim-error: malformed}}}}
  - {{name: misreporter, kind: simulated, base_url: "{upstreams["good"]}",
     headers: {{x-sim-error: wrong-usage}}}}
  - {{name: hanger, kind: simulated, base_url: "{upstreams["good"]}", max_retries: 0,
     timeout_s: 1, headers: {{x-sim-error: timeout}}}}
models:
  - {{id: flaky, provider: broken, catalog_id: openai/gpt-4o, context_window: 128000,
     fallbacks: [steady]}}
  - {{id: steady, provider: good, catalog_id: openai/gpt-4o-mini, context_window: 128000}}
  - {{id: dawdler, provider: slow, catalog_id: openai/gpt-4o-mini, context_window: 128000}}
  - {{id: via-openai, provider: openai-style, upstream_model: gpt-4o-mini,
     catalog_id: openai/gpt-4o-mini, context_window: 128000}}
  - {{id: drops, provider: dropper, catalog_id: openai/gpt-4o-mini, context_window: 128000,
     fallbacks: [steady]}}
  - {{id: garbles, provider: garbler, catalog_id: openai/gpt-4o-mini, context_window: 128000,
     fallbacks: [steady]}}
  - {{id: misreports, provider: misreporter, catalog_id: openai/gpt-4o-mini,
     context_window: 128000}}
  - {{id: hangs, provider: hanger, catalog_id: openai/gpt-4o-mini, context_window: 128000,
     fallbacks: [steady]}}
  - {{id: via-anthropic, provider: anthropic-style, upstream_model: claude-haiku-4-5,
     catalog_id: anthropic/claude-haiku-4-5, context_window: 200000, max_output_tokens: 8192}}
"""
    path = tmp_path / "thrifty.yaml"
    path.write_text(config)
    return str(path)


def _open_holds(gateway: Gateway) -> list[str]:
    database = Database(gateway.database_url)
    try:
        return database.read(
            lambda c: list(
                c.execute(select(holds.c.request_id).where(holds.c.status == "held")).scalars()
            )
        )
    finally:
        database.close()


def test_retryable_failure_falls_back_and_records_both_calls(gateway: Gateway) -> None:
    client = gateway.openai(max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="flaky", messages=[{"role": "user", "content": "hello"}], max_tokens=50
    )
    assert raw.headers["x-thrifty-model"] == "steady"
    records = sorted(gateway.usage(), key=lambda r: r["request_id"])
    assert [(r["model"], r["status"]) for r in records] == [("flaky", "error"), ("steady", "ok")]
    assert records[0]["cost_nano"] == 0 and records[1]["cost_nano"] > 0
    assert _open_holds(gateway) == []


def test_translation_both_ways(gateway: Gateway) -> None:
    openai_client = gateway.openai(max_retries=0)
    completion = openai_client.chat.completions.create(
        model="via-anthropic", messages=[{"role": "user", "content": "hello"}]
    )
    assert completion.choices[0].message.content and completion.usage is not None
    stream = openai_client.chat.completions.create(
        model="via-anthropic",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    anthropic_client = gateway.anthropic(max_retries=0)
    message = anthropic_client.messages.create(
        model="via-openai", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.content[0].text
    with anthropic_client.messages.stream(
        model="via-openai", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    ) as events:
        assert "".join(events.text_stream)
    records = gateway.usage()
    assert len(records) == 4 and all(r["cost_nano"] > 0 and r["status"] == "ok" for r in records)
    assert _open_holds(gateway) == []


def test_client_that_vanishes_mid_stream_is_billed_for_what_was_streamed(gateway: Gateway) -> None:
    body = {
        "model": "dawdler",
        "stream": True,
        "messages": [{"role": "user", "content": "Write 300 words about accounting."}],
    }
    headers = {"Authorization": f"Bearer {gateway.key}"}
    with httpx.stream("POST", f"{gateway.v1}/chat/completions", json=body, headers=headers) as r:
        received = 0
        for line in r.iter_lines():
            if line.startswith("data: {"):
                received += 1
            if received >= 5:
                break  # hang up
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not gateway.usage():
        time.sleep(0.1)
    (record,) = gateway.usage()
    assert record["status"] == "disconnected"
    assert record["estimated"] == 1
    assert 0 < record["output_tokens"] < 300
    assert record["cost_nano"] > 0
    assert _open_holds(gateway) == []


@pytest.mark.parametrize("model", ["drops", "garbles", "hangs"])
def test_broken_upstreams_fall_back_and_leave_nothing_held(gateway: Gateway, model: str) -> None:
    client = gateway.openai(max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello"}], max_tokens=40
    )
    assert raw.headers["x-thrifty-model"] == "steady"
    statuses = sorted((r["model"], r["status"], r["cost_nano"] > 0) for r in gateway.usage())
    assert statuses == [(model, "error", False), ("steady", "ok", True)]
    assert _open_holds(gateway) == []


def test_a_stream_that_breaks_midway_is_billed_for_what_arrived(gateway: Gateway) -> None:
    client = gateway.openai(max_retries=0)
    stream = client.chat.completions.create(
        model="drops",
        messages=[{"role": "user", "content": "Write 200 words about rivers."}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    (record,) = gateway.usage()
    assert record["status"] == "interrupted" and record["estimated"] == 1
    assert record["output_tokens"] > 0 and record["cost_nano"] > 0
    assert _open_holds(gateway) == []


def test_implausible_usage_is_flagged_and_never_underbilled(gateway: Gateway) -> None:
    client = gateway.openai(max_retries=0)
    completion = client.chat.completions.create(
        model="misreports", messages=[{"role": "user", "content": "hello there"}]
    )
    assert completion.usage is not None
    (record,) = gateway.usage()
    mismatch = record["metadata"]["usage_mismatch"]
    assert mismatch["reported"][1] == completion.usage.completion_tokens
    assert mismatch["reported"][1] > mismatch["counted"][1]
    # Billed at the larger figure: what the upstream will invoice.
    assert record["output_tokens"] == completion.usage.completion_tokens
