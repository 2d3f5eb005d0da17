"""The circuit breaker in the running gateway: a failing upstream is taken out of rotation (its
requests go straight to the fallback, or get a 503 when there is none), probed back after the
cool-down, and reported by ``GET /api/v1/providers/performance``.

The failing upstream is a real simulator behind a tiny switch that answers 503 while
``failing`` and counts every HTTP request it receives; the gateway's breaker runs on a fake
clock (injected into the app's ``ProviderHealth``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from gateway_support import ADMIN, Gateway, provision
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from live_server import serving
from thrifty.providers.simulated import create_simulator, running_simulator
from thrifty.settings import Settings

HELLO = [{"role": "user", "content": "hello"}]


class SwitchableUpstream:
    """A simulated provider that answers 503 while ``failing``; ``calls`` counts requests."""

    def __init__(self) -> None:
        self.simulator = create_simulator()
        self.failing = True
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.calls += 1
            if self.failing:
                error = {"error": {"message": "overloaded", "type": "server_error"}}
                await JSONResponse(error, status_code=503)(scope, receive, send)
                return
        await self.simulator(scope, receive, send)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    gateway: Gateway
    upstream: SwitchableUpstream
    clock: FakeClock

    def chat(self, model: str, **extra: Any) -> httpx.Response:
        return httpx.post(
            f"{self.gateway.v1}/chat/completions",
            json={"model": model, "messages": HELLO, "max_tokens": 20, **extra},
            headers={"Authorization": f"Bearer {self.gateway.key}"},
            timeout=30,
        )

    def performance(self) -> dict[tuple[str, str], dict[str, Any]]:
        response = self.gateway.admin.get("/api/v1/providers/performance")
        assert response.status_code == 200, response.text
        return {(m["provider"], m["model"]): m for m in response.json()["models"]}


@pytest.fixture
def rig(database_url: str, tmp_path: Path) -> Iterator[Rig]:
    from thrifty.app import create_app

    upstream, clock = SwitchableUpstream(), FakeClock()
    with running_simulator() as good, serving(upstream, lifespan="auto") as broken:
        config = tmp_path / "thrifty.yaml"
        config.write_text(f"""
providers:
  - {{name: good, kind: simulated, base_url: "{good}"}}
  - {{name: broken, kind: simulated, base_url: "{broken}", max_retries: 0}}
models:
  - {{id: flaky, provider: broken, catalog_id: openai/gpt-4o, context_window: 128000,
     fallbacks: [steady]}}
  - {{id: lonely, provider: broken, catalog_id: openai/gpt-4o, context_window: 128000}}
  - {{id: steady, provider: good, catalog_id: openai/gpt-4o-mini, context_window: 128000}}
""")
        settings = Settings(database_url=database_url, admin_key=ADMIN, config=str(config))
        app = create_app(settings)
        app.state.provider_health.clock = clock
        with serving(app, lifespan="auto") as url:
            headers = {"Authorization": f"Bearer {ADMIN}"}
            with httpx.Client(base_url=url, headers=headers) as admin:
                key = provision(admin)
                yield Rig(Gateway(url, key, admin, database_url), upstream, clock)


def test_an_open_circuit_sends_requests_straight_to_the_fallback(rig: Rig) -> None:
    for _ in range(5):  # five consecutive failures open the circuit
        response = rig.chat("flaky")
        assert response.status_code == 200, response.text
        assert response.headers["x-thrifty-model"] == "steady"
    assert rig.upstream.calls == 5

    assert rig.chat("flaky").headers["x-thrifty-model"] == "steady"
    streamed = rig.chat("flaky", stream=True)
    assert streamed.status_code == 200 and streamed.headers["x-thrifty-model"] == "steady"
    assert "[DONE]" in streamed.text
    with anthropic.Anthropic(
        base_url=rig.gateway.url, api_key=rig.gateway.key, max_retries=0
    ) as client:
        message = client.messages.create(model="flaky", max_tokens=20, messages=HELLO)
    assert message.model == "steady"
    assert rig.upstream.calls == 5  # the broken upstream was not called again

    records = rig.gateway.usage()
    assert sum(r["model"] == "flaky" and r["status"] == "error" for r in records) == 5
    assert sum(r["model"] == "steady" and r["status"] == "ok" for r in records) == 8
    assert len(records) == 13

    report = rig.performance()
    flaky = report[("broken", "flaky")]
    assert (flaky["requests"], flaky["upstream_failures"]) == (5, 5)
    assert (flaky["error_rate"], flaky["availability"]) == (1.0, 0.0)
    assert flaky["circuit"]["state"] == "open"
    assert flaky["circuit"]["retry_in_s"] == 30.0
    steady = report[("good", "steady")]
    assert (steady["requests"], steady["availability"], steady["circuit"]["state"]) == (
        8,
        1.0,
        "closed",
    )
    assert steady["latency_ms"]["samples"] == 8 and steady["latency_ms"]["p50"] is not None

    # The upstream recovers; after the cool-down one probe goes through and closes the circuit.
    rig.upstream.failing = False
    rig.clock.now += 30
    assert rig.chat("flaky").headers["x-thrifty-model"] == "flaky"
    assert rig.upstream.calls == 6
    assert rig.performance()[("broken", "flaky")]["circuit"]["state"] == "closed"
    assert rig.chat("flaky").headers["x-thrifty-model"] == "flaky"


def test_with_no_fallback_an_open_circuit_is_a_503_naming_the_provider(rig: Rig) -> None:
    for _ in range(5):
        assert rig.chat("lonely").status_code == 502
    assert rig.upstream.calls == 5
    response = rig.chat("lonely")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "circuit_open" and error["param"] == "model"
    assert "'broken'" in error["message"] and "next probe in 30 s" in error["message"]
    # The outage is an alert event (of no budget), recorded by the alert sender within a tick.
    deadline = time.monotonic() + 10
    while not (down := _alerts(rig, "upstream_down")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(a["budget_id"], a["payload"]["provider"], a["payload"]["model"]) for a in down] == [
        (None, "broken", "lonely")
    ]
    with (
        openai.OpenAI(base_url=rig.gateway.v1, api_key=rig.gateway.key, max_retries=0) as client,
        pytest.raises(openai.InternalServerError) as caught,
    ):
        client.chat.completions.create(model="lonely", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.status_code == 503
    assert rig.upstream.calls == 5
    assert len(rig.gateway.usage()) == 5  # no upstream call, no usage record

    # After the cool-down a single probe goes through; it fails, and the cool-down doubles.
    rig.clock.now += 30
    assert rig.chat("lonely").status_code == 502
    assert rig.upstream.calls == 6
    response = rig.chat("lonely")
    assert response.status_code == 503 and "next probe in 60 s" in response.text
    circuit = rig.performance()[("broken", "lonely")]["circuit"]
    assert (circuit["state"], circuit["cool_down_s"]) == ("open", 60.0)
    # Circuits are per model: flaky, on the same provider, is still tried first.
    assert rig.chat("flaky").headers["x-thrifty-model"] == "steady"
    assert rig.upstream.calls == 7
    assert rig.performance()[("broken", "flaky")]["circuit"]["state"] == "closed"


def _alerts(rig: Rig, kind: str) -> list[dict[str, Any]]:
    response = rig.gateway.admin.get("/api/v1/alerts", params={"kind": kind})
    assert response.status_code == 200, response.text
    return list(response.json()["alerts"])
