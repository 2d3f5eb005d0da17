"""``GET /metrics`` after real traffic through the gateway (Prometheus text that a Prometheus
parser reads: usage, budgets, holds, this process's histograms), and the OpenTelemetry spans
of upstream calls."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from gateway_support import ADMIN, Gateway, provision, serve
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from thrifty.settings import Settings


@pytest.fixture
def gateway(database_url: str) -> Iterator[Gateway]:
    settings = Settings(database_url=database_url, admin_key=ADMIN)
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            gateway = Gateway(url, provision(admin), admin, database_url)
            yield gateway
            gateway.close_clients()


def _samples(text: str) -> dict[str, list]:  # type: ignore[type-arg]
    found: dict[str, list] = {}  # type: ignore[type-arg]
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def test_metrics_after_traffic(gateway: Gateway) -> None:
    gateway.budget("team", "eng", "0.05", mode="soft")  # soft: small, and never refuses
    client = gateway.openai()
    models = [
        client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": f"Say hello number {i}"}]
        ).model
        for i in range(3)
    ]
    response = gateway.admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    by_model = {s.labels["model"]: s.value for s in samples["thrifty_model_requests_total"]}
    assert sum(by_model.values()) == 3 and set(by_model) == set(models)
    by_team = {s.labels["team"]: s.value for s in samples["thrifty_team_requests_total"]}
    assert by_team == {"eng": 3}
    cost = sum(s.value for s in samples["thrifty_model_cost_nano_usd_total"])
    usage = gateway.admin.get("/api/v1/cost-analysis/summary").json()
    assert cost == round(float(usage["cost"]) * 1e9)
    tokens = {s.labels["direction"] for s in samples["thrifty_model_tokens_total"]}
    assert tokens == {"input", "output"}
    (budget,) = [s for s in samples["thrifty_budget_percent_used"] if s.labels["scope_id"] == "eng"]
    assert budget.value > 0
    assert samples["thrifty_holds_outstanding"][0].value == 0
    assert samples["thrifty_decision_seconds_count"][0].value == 3
    latency = samples["thrifty_upstream_latency_seconds_count"]
    assert sum(s.value for s in latency) == 3
    unauthorised = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": "Bearer x"})
    assert unauthorised.status_code == 401
    as_key = httpx.get(f"{gateway.url}/metrics", headers={"Authorization": f"Bearer {gateway.key}"})
    assert as_key.status_code == 403


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process: the API keeps the first
    return exporter


def test_each_upstream_call_is_a_genai_span(gateway: Gateway, spans: InMemorySpanExporter) -> None:
    spans.clear()
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Tell me a short joke"}]
    )
    reply = raw.parse()
    (span,) = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    attributes = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT and span.name == f"chat {reply.model}"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "simulated"
    assert attributes["gen_ai.request.model"] == reply.model
    assert attributes["gen_ai.usage.input_tokens"] == reply.usage.prompt_tokens  # type: ignore[union-attr]
    assert attributes["gen_ai.usage.output_tokens"] == reply.usage.completion_tokens  # type: ignore[union-attr]
    assert attributes["thrifty.request_id"] == raw.headers["x-thrifty-request-id"]
    assert float(str(attributes["thrifty.cost_usd"])) > 0
    assert span.end_time is not None and span.start_time is not None
    assert span.end_time >= span.start_time
